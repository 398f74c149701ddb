"""Staff pages behind the dashboard's Loyalty tab: member look-up and one member's whole account (the paged
ledger, lots, tier history, coupons) with CSV/Excel exports of each table. Read-only: every viewer may look."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import and_, func, or_, select

from patron.core.errors import PatronError
from patron.customers.models import Customer
from patron.dashboard import loyalty_member
from patron.dashboard.tables import to_csv, to_xlsx
from patron.loyalty.models import Member
from patron.web.deps import ReadSessionDep
from patron.web.pages import ReaderDep, render_page

router = APIRouter(include_in_schema=False)
MEMBERS = "/dashboard/loyalty/members"
CustomerId = Annotated[str, Path(min_length=1, max_length=128)]
#: Matches listed by the look-up at most.
FOUND = 50


def member_url(external_id: str) -> str:
    return f"{MEMBERS}/{quote(external_id, safe='')}"


@router.get(MEMBERS, response_class=HTMLResponse)
def lookup(
    request: Request,
    session: ReadSessionDep,
    viewer: ReaderDep,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Find a member by id, name, e-mail or phone; an exact id goes straight to the member's page."""
    text = q.strip()
    found: list[tuple[str, str | None, bool]] = []
    if text:
        ws = viewer.workspace.id
        joined = (
            select(Customer.external_id, Customer.name, Member.left_at.is_(None))
            .join(
                Member, and_(Member.workspace_id == Customer.workspace_id, Member.customer_id == Customer.id)
            )
            .where(Customer.workspace_id == ws)
        )
        exact = session.execute(joined.where(Customer.external_id == text)).first()
        if exact is not None:
            return RedirectResponse(member_url(exact[0]), status_code=303)
        pattern = f"%{text.lower()}%"
        found = [
            (external_id, name, active)
            for external_id, name, active in session.execute(
                joined.where(
                    or_(
                        func.lower(Customer.external_id).like(pattern),
                        func.lower(Customer.name).like(pattern),
                        func.lower(Customer.email).like(pattern),
                        Customer.phone.like(pattern),
                    )
                )
                .order_by(Customer.external_id)
                .limit(FOUND)
            )
        ]
    context = {"q": text, "found": found, "member_url": member_url, "limit": FOUND}
    return render_page(request, viewer, "dashboard/loyalty_members.html", context)


@router.get(MEMBERS + "/{customer}", response_class=HTMLResponse)
def member_page(
    customer: CustomerId, request: Request, session: ReadSessionDep, viewer: ReaderDep
) -> Response:
    """One member's account; a bad filter gets the page back unfiltered with the problem named (400)."""
    problem, status = None, 200
    try:
        filters = loyalty_member.parse_ledger_filters(dict(request.query_params))
    except PatronError as error:
        problem, status, filters = error.message(viewer.locale), error.status, loyalty_member.LedgerFilters()
    view = loyalty_member.member_page(session, viewer.workspace, customer, filters, viewer.locale)
    context: dict[str, object] = {"view": view, "problem": problem, "kinds": loyalty_member.KINDS, "sources": loyalty_member.SOURCES,
               "base": member_url(customer)}  # fmt: skip
    return render_page(request, viewer, "dashboard/loyalty_member.html", context, status_code=status)


@router.get(MEMBERS + "/{customer}/export")
def member_export(
    customer: CustomerId,
    request: Request,
    session: ReadSessionDep,
    viewer: ReaderDep,
    table: Annotated[str, Query(max_length=32)],
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
) -> Response:
    """One of the member's tables; the ledger with every entry the filters in the URL select."""
    filters = loyalty_member.parse_ledger_filters(dict(request.query_params))
    view = loyalty_member.member_page(
        session, viewer.workspace, customer, filters, viewer.locale, exporting=True
    )
    chosen = view.tables.get(table)
    if chosen is None:
        raise PatronError("dashboard.unknown_table", table=table, choices=list(view.tables))
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in customer)[:60]
    name = f"patron-member-{safe}-{table}.{format}"
    if format == "csv":
        body, media = to_csv(chosen), "text/csv; charset=utf-8"
    else:
        body, media = to_xlsx(chosen), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
