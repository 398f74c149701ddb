"""Staff pages behind the dashboard's Loyalty tab: member look-up and one member's whole account (the paged
ledger, lots, tier history, coupons) with CSV/Excel exports of each table, which every viewer may read; and the
rewards catalog's editor, whose forms are CSRF-checked and for admins only (each change recorded with who)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.i18n import translate
from patron.core.models import Role
from patron.customers.models import Customer
from patron.dashboard import loyalty_catalog, loyalty_member, loyalty_rules
from patron.dashboard.tables import to_csv, to_xlsx
from patron.loyalty import rewards, tiers
from patron.loyalty import service as loyalty_service
from patron.loyalty.models import Member
from patron.loyalty.schemas import RewardRead
from patron.web.deps import ReadSessionDep, SessionDep
from patron.web.pages import ReaderDep, Viewer, ViewerDep, check_csrf, render_page

router = APIRouter(include_in_schema=False)
MEMBERS = loyalty_member.MEMBERS_PATH
CustomerId = Annotated[str, Path(min_length=1, max_length=128)]
#: Matches listed by the look-up at most.
FOUND = 50


member_url = loyalty_member.member_url


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


# -------------------------------------------------------------------------------------- the rewards catalog
REWARDS = "/dashboard/loyalty/rewards"
RewardCode = Annotated[str, Path(min_length=1, max_length=64)]


def reward_url(code: str) -> str:
    return f"{REWARDS}/{quote(code, safe='')}"


def _require_admin(viewer: Viewer) -> None:
    if viewer.user.role != Role.ADMIN.value:
        raise PatronError("auth.forbidden", status=403, role=viewer.user.role)


def _admin_form(
    request: Request, session: Session, viewer: Viewer, typed: dict[str, str], save: Callable[[], str],
    refused: Callable[[PatronError], Response],
) -> Response:  # fmt: skip
    """An admin's form: CSRF checked, then ``save`` in a savepoint and on to the page it names; a refusal undoes
    everything it wrote and shows the form again with the problem (``refused``)."""
    check_csrf(request, typed.get("csrf", ""))
    _require_admin(viewer)
    try:
        with session.begin_nested():
            target = save()
    except PatronError as error:
        return refused(error)
    return RedirectResponse(target, status_code=303)


@router.get(REWARDS, response_class=HTMLResponse)
def rewards_page(request: Request, session: ReadSessionDep, viewer: ReaderDep) -> Response:
    """The catalog: every reward with its cost, stock, window and limits; admins add and edit them."""
    found = rewards.list_rewards(session, workspace=viewer.workspace)
    context: dict[str, object] = {"rewards": found, "reward_url": reward_url, "name": rewards.reward_name,
                                  "is_admin": viewer.user.role == Role.ADMIN.value,
                                  "changes": rewards.catalog_changes(session, workspace_id=viewer.workspace.id, limit=20)}  # fmt: skip
    return render_page(request, viewer, "dashboard/loyalty_rewards.html", context)


def _reward_page(
    request: Request, session: Session, viewer: Viewer, reward: RewardRead | None, form: dict[str, str], *,
    problem: str | None = None, notice: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    context: dict[str, object] = {
        "reward": reward, "form": form, "problem": problem, "notice": notice, "kinds": loyalty_catalog.KINDS,
        "is_admin": viewer.user.role == Role.ADMIN.value, "zone": viewer.workspace.timezone,
        "changes": loyalty_catalog.history(session, viewer.workspace, reward.code) if reward else [],
        "action": reward_url(reward.code) if reward else f"{REWARDS}/new", "currency": viewer.workspace.currency,
    }  # fmt: skip
    return render_page(request, viewer, "dashboard/loyalty_reward.html", context, status_code=status_code)


async def _typed(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name, ""))[:500] for name in (*loyalty_catalog.FIELDS, "csrf")}


@router.get(f"{REWARDS}/new", response_class=HTMLResponse)
def new_reward_page(request: Request, session: ReadSessionDep, viewer: ViewerDep) -> Response:
    _require_admin(viewer)
    return _reward_page(
        request, session, viewer, None, loyalty_catalog.form_of(None, viewer.workspace.timezone)
    )


@router.post(f"{REWARDS}/new", response_class=HTMLResponse)
def create_reward(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    typed: Annotated[dict[str, str], Depends(_typed)],
) -> Response:
    """A new reward; refused with the problem named on the form (in the page's language), nothing saved."""

    def save() -> str:
        made = loyalty_catalog.create_from_form(session, viewer.workspace, typed, viewer.user.email)
        return reward_url(made.code) + "?saved=created"

    def refused(error: PatronError) -> Response:
        return _reward_page(request, session, viewer, None, typed, problem=error.message(viewer.locale),
                            status_code=error.status)  # fmt: skip

    return _admin_form(request, session, viewer, typed, save, refused)


@router.get(f"{REWARDS}/{{code}}", response_class=HTMLResponse)
def reward_page(
    code: RewardCode, request: Request, session: ReadSessionDep, viewer: ReaderDep,
    saved: Annotated[str, Query(max_length=16)] = "",
) -> Response:  # fmt: skip
    """One reward: its fields (a form for admins) and every change made to it, with who made it."""
    reward = rewards.get_reward(session, workspace=viewer.workspace, code=code)
    notice = (
        translate(f"loy.reward_{saved}", viewer.locale)
        if saved in ("created", "saved", "unchanged")
        else None
    )
    form = loyalty_catalog.form_of(reward, viewer.workspace.timezone)
    return _reward_page(request, session, viewer, reward, form, notice=notice)


@router.post(f"{REWARDS}/{{code}}", response_class=HTMLResponse)
def save_reward(
    code: RewardCode, request: Request, session: SessionDep, viewer: ViewerDep,
    typed: Annotated[dict[str, str], Depends(_typed)],
) -> Response:  # fmt: skip

    def save() -> str:
        _, changed = loyalty_catalog.update_from_form(
            session, viewer.workspace, code, typed, viewer.user.email
        )
        return reward_url(code) + ("?saved=saved" if changed else "?saved=unchanged")

    def refused(error: PatronError) -> Response:
        if error.status == 404:
            raise error
        reward = rewards.get_reward(session, workspace=viewer.workspace, code=code)
        form = typed | {"code": reward.code, "kind": reward.kind.value}
        return _reward_page(request, session, viewer, reward, form, problem=error.message(viewer.locale),
                            status_code=error.status)  # fmt: skip

    return _admin_form(request, session, viewer, typed, save, refused)


# -------------------------------------------------------------------------------------- earn-rule versions
RULES = "/dashboard/loyalty/rules"


def _rules_page(
    request: Request, session: Session, viewer: Viewer, form: dict[str, str] | None = None, *,
    problem: str | None = None, notice: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    versions = loyalty_service.list_rules(session, workspace_id=viewer.workspace.id)
    shown = form or loyalty_rules.form_of(versions[-1] if versions else None, viewer.workspace)
    context: dict[str, object] = {"versions": list(reversed(versions)), "form": shown, "problem": problem,
                                  "notice": notice, "is_admin": viewer.user.role == Role.ADMIN.value,
                                  "zone": viewer.workspace.timezone}  # fmt: skip
    return render_page(request, viewer, "dashboard/loyalty_rules.html", context, status_code=status_code)


@router.get(RULES, response_class=HTMLResponse)
def rules_page(
    request: Request,
    session: ReadSessionDep,
    viewer: ReaderDep,
    saved: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    """Every earn-rule version, newest first, with who added it; admins add the next version."""
    notice = translate("loy.rule_added", viewer.locale, version=saved) if saved.isdigit() else None
    return _rules_page(request, session, viewer, notice=notice)


async def _rule_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name, ""))[:20_000] for name in (*loyalty_rules.FIELDS, "csrf")}


@router.post(RULES, response_class=HTMLResponse)
def add_rule(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    typed: Annotated[dict[str, str], Depends(_rule_form)],
) -> Response:
    """A new version from the form; refused with the problem named (in the page's language), nothing saved."""

    def save() -> str:
        rule = loyalty_rules.add_from_form(session, viewer.workspace, typed, viewer.user.email)
        return f"{RULES}?saved={rule.version}"

    def refused(error: PatronError) -> Response:
        return _rules_page(request, session, viewer, typed, problem=error.message(viewer.locale),
                           status_code=error.status)  # fmt: skip

    return _admin_form(request, session, viewer, typed, save, refused)


# -------------------------------------------------------------------------------------- tier-set versions
TIERS = "/dashboard/loyalty/tiers"


def _tiers_page(
    request: Request, session: Session, viewer: Viewer, text: str | None = None, *,
    problem: str | None = None, notice: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    versions = tiers.list_tier_sets(session, workspace_id=viewer.workspace.id, locale=viewer.locale)
    shown = text if text is not None else loyalty_rules.tiers_document(versions[-1] if versions else None,
                                                                         viewer.workspace)  # fmt: skip
    context: dict[str, object] = {"versions": list(reversed(versions)), "text": shown, "problem": problem,
                                  "notice": notice, "is_admin": viewer.user.role == Role.ADMIN.value}  # fmt: skip
    return render_page(request, viewer, "dashboard/loyalty_tiers.html", context, status_code=status_code)


@router.get(TIERS, response_class=HTMLResponse)
def tiers_page(
    request: Request,
    session: ReadSessionDep,
    viewer: ReaderDep,
    saved: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    """Every tier-set version, newest first, with who added it; admins add the next version."""
    notice = translate("loy.rule_added", viewer.locale, version=saved) if saved.isdigit() else None
    return _tiers_page(request, session, viewer, notice=notice)


async def _tiers_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name, ""))[:50_000] for name in ("document", "csrf")}


@router.post(TIERS, response_class=HTMLResponse)
def add_tiers(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    typed: Annotated[dict[str, str], Depends(_tiers_form)],
) -> Response:
    """A new tier-set version from the YAML on the page; refused with the problem named, nothing saved."""

    def save() -> str:
        added = loyalty_rules.add_tiers_from_text(session, viewer.workspace, typed["document"], viewer.user.email,
                                                  viewer.locale)  # fmt: skip
        return f"{TIERS}?saved={added.version}"

    def refused(error: PatronError) -> Response:
        return _tiers_page(request, session, viewer, typed["document"], problem=error.message(viewer.locale),
                           status_code=error.status)  # fmt: skip

    return _admin_form(request, session, viewer, typed, save, refused)
