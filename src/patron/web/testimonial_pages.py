"""Testimonials on the dashboard (``/dashboard/feedback/testimonials``: approve or hide, export, the embed code) and
the public page a shop frames on its site (``/t/{workspace}``, ``embed=1``). The public page is like the help
centre: no JavaScript, no cookies, everything escaped, the language from ``lang``; it shows approved testimonials
only, the masked text, and the name only in the form its author allowed (docs/feedback.md, "Testimonials")."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from patron.core import service as core_service
from patron.core.errors import NotFound, PatronError
from patron.core.i18n import LOCALES, normalize_locale, translate
from patron.core.settings import get_settings
from patron.dashboard.filters import parse_filters
from patron.dashboard.tables import Cell, Column, DataTable
from patron.feedback import testimonials
from patron.feedback.schemas import TestimonialRead
from patron.web.dashboard_pages import _require_admin, _shell, _today, download
from patron.web.deps import ReadSessionDep, SessionDep, page_locale
from patron.web.pages import ReaderDep, ViewerDep, check_csrf, render_page
from patron.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "/dashboard/feedback/testimonials"
Status = Annotated[Literal["pending", "approved", "hidden"] | None, Query()]
#: The dashboard lists this many; the export has them all.
SHOWN = 200
EXPORT_LIMIT = 100_000


def shown_name(item: TestimonialRead, locale: str) -> str:
    return item.display_name or translate("fbtm.anonymous", locale)


def table(items: list[TestimonialRead], locale: str, timezone: str) -> DataTable:
    """The testimonials as the export writes them (through the safe DataTable: no live formulas)."""

    def t(code: str) -> str:
        return translate(code, locale)

    columns = [Column(t("fbtm.id"), "int"), Column(t("fbtm.date"), "date"), Column(t("fbtm.name")),
               Column(t("fbtm.shown_as")), Column(t("fbtm.survey")), Column(t("fbtm.status")),
               Column(t("fbtm.text"))]  # fmt: skip
    rows: list[list[Cell]] = [
        [item.item_id, item.occurred_at.astimezone(ZoneInfo(timezone)).date(), shown_name(item, locale), t(f"fbtm.as.{item.display_as}"),
         item.survey, t(f"fbtm.status.{item.status}"), item.text]
        for item in items
    ]  # fmt: skip
    return DataTable("testimonials", t("fbtm.title"), columns, rows)


def _embed_code(slug: str, locale: str) -> str:
    url = f"{get_settings().base_url()}/t/{slug}?" + urlencode({"embed": "1", "lang": locale})
    return f'<iframe src="{url}" title="testimonials" width="100%" height="480" style="border:0" loading="lazy"></iframe>'


@router.get(PAGE, response_class=HTMLResponse)
def testimonials_page(
    request: Request, session: ReadSessionDep, viewer: ReaderDep, status: Status = None
) -> Response:
    """Consented positive comments with the name as allowed; admins approve or hide each."""
    page = testimonials.list_testimonials(
        session, workspace_id=viewer.workspace.id, status=status, limit=SHOWN
    )
    try:
        filters = parse_filters(request.query_params, today=_today(viewer.workspace))
    except PatronError:
        filters = parse_filters({}, today=_today(viewer.workspace))
    context = _shell(session, viewer, "feedback") | {
        "filters": filters, "problem": None, "tables": {}, "charts": {}, "extra": {}, "view": page,
        "status": status, "shown_name": lambda item: shown_name(item, viewer.locale),
        "embed_code": _embed_code(viewer.workspace.slug, viewer.locale),
        "public_url": f"/t/{viewer.workspace.slug}?lang={viewer.locale}",
    }  # fmt: skip
    return render_page(request, viewer, "dashboard/testimonials.html", context)


@router.get(PAGE + "/export")
def export_testimonials(
    session: ReadSessionDep,
    viewer: ReaderDep,
    status: Status = None,
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
) -> Response:
    page = testimonials.list_testimonials(
        session, workspace_id=viewer.workspace.id, status=status, limit=EXPORT_LIMIT
    )
    data = table(page.items, viewer.locale, viewer.workspace.timezone)
    return download(data, f"patron-testimonials-{status or 'all'}", format)


@router.post(PAGE + "/{item_id}/{action}")
def decide_testimonial(
    item_id: int,
    action: Literal["approve", "hide", "pending"],
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Approve (shown on the public page), hide, or undo the decision; who and when are kept."""
    check_csrf(request, csrf)
    _require_admin(viewer)
    status = {"approve": "approved", "hide": "hidden", "pending": "pending"}[action]
    testimonials.decide(session, workspace_id=viewer.workspace.id, item_id=item_id, status=status,
                        actor=viewer.user.email)  # fmt: skip
    query = request.url.query
    return RedirectResponse(PAGE + (f"?{query}" if query else "") + f"#t-{item_id}", status_code=303)


@router.get("/t/{slug}", response_class=HTMLResponse)
def public_testimonials(slug: str, request: Request, session: ReadSessionDep) -> Response:
    """The workspace's approved testimonials for anyone, in the chosen language; framable with ``embed=1``."""
    if len(slug) > 64:
        raise NotFound("workspace.not_found", slug=slug[:64])
    workspace = core_service.get_workspace(session, slug)
    chosen = normalize_locale(request.query_params.get("lang"))
    locale = str(chosen) if chosen in LOCALES else page_locale(request, None, workspace)
    embed = request.query_params.get("embed") in ("1", "true")
    items = testimonials.public_testimonials(session, workspace_id=workspace.id)
    context = {"brand": workspace.name, "items": items, "embed": embed,
               "shown_name": lambda item: shown_name(item, locale),
               "lang_url": lambda code: f"/t/{workspace.slug}?" + urlencode({"lang": code, **({"embed": "1"} if embed else {})})}  # fmt: skip
    return render(request, "testimonials.html", context, locale=locale, timezone=workspace.timezone)
