"""The page a member's share link opens (``/r/{workspace}/{code}``): the program's invitation and the code to give
when signing up or at the first purchase, in the visitor's language (``?lang=`` or Accept-Language), without
JavaScript. It names no member: the code is all the page shows of the referrer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from patron.loyalty.referrals import invitation
from patron.web.deps import SessionDep
from patron.web.survey_pages import _locale
from patron.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/r/{workspace_slug}/{code}", response_class=HTMLResponse)
def referral_page(workspace_slug: str, code: str, request: Request, session: SessionDep) -> Response:
    locale = _locale(request)
    found = invitation(session, workspace_slug=workspace_slug[:64], code=code[:40])
    context = {"program": found[0], "code": found[1]} if found else {"program": None, "code": None}
    return render(request, "referral.html", context, locale=locale, status_code=200 if found else 404)
