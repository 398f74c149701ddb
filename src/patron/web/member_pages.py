"""The loyalty member's own page behind a signed link (``/m/{token}``): three languages, no JavaScript."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from patron.core.i18n import translate
from patron.loyalty.member_page import member_page
from patron.surveys.answering import LinkProblem
from patron.web.deps import SessionDep, page_locale
from patron.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/m/{token}", response_class=HTMLResponse)
def show_member(token: str, request: Request, session: SessionDep) -> Response:
    """The language: ?lang= (the links on the page), else the one chosen before, else the phone's."""
    locale = page_locale(request)
    page = member_page(session, token, locale)
    if page is None:
        raise LinkProblem("member.link_invalid")
    context = {
        "page": page,
        "brand": page.workspace.name,
        "title": translate("member.title", locale),
        "dec": Decimal,
    }
    return render(request, "member.html", context, locale=locale, timezone=page.workspace.timezone)
