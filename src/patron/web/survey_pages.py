"""Pages respondents see: the survey behind a personal link, and unsubscribing. No JavaScript needed."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from patron.core.clock import utcnow
from patron.core.i18n import LOCALES, normalize_locale, translate
from patron.core.ratelimit import SlidingWindowLimiter
from patron.core.settings import get_settings
from patron.surveys import answering
from patron.surveys.answering import LinkProblem
from patron.surveys.answers import is_shown
from patron.surveys.distribution import (
    nonce_from_survey_token,
    nonce_from_unsubscribe_token,
    open_anonymous,
    survey_token,
    unsubscribe,
)
from patron.surveys.texts import pick
from patron.web.deps import SessionDep, client_address, page_locale
from patron.web.templating import render

router = APIRouter(include_in_schema=False)


def _locale(request: Request, preferred: str | None = None) -> str:
    for candidate in (request.query_params.get("lang"), preferred):
        locale = normalize_locale(candidate)
        if locale in LOCALES:
            return str(locale)
    return page_locale(request)


async def _form(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    return {key: [str(v) for v in form.getlist(key)] for key in form}


FormDep = Annotated[dict[str, list[str]], Depends(_form)]


def _carried_query(request: Request, locale: str) -> str:
    """The language and embed choices travel with the form and its redirects."""
    params = [f"lang={locale}"] if request.query_params.get("lang") else []
    params += ["embed=1"] if request.query_params.get("embed") == "1" else []
    return f"?{'&'.join(params)}" if params else ""


def _page(request: Request, session: SessionDep, token: str, opened: answering.OpenedLink, *,
          problems: dict[str, str] | None = None, typed: dict[str, object] | None = None,
          edit: str | None = None) -> Response:  # fmt: skip
    """The page for where the respondent is. ``typed``: what they just sent on a refused page, shown again
    so that nothing they wrote is lost."""
    locale = _locale(request, opened.response.locale if opened.response else opened.invitation.locale)
    definition = opened.definition
    answers = answering.current_answers(session, opened)
    seen = list(opened.response.seen or []) if opened.response else []
    embed = request.query_params.get("embed") == "1"
    brand = answering.brand_name(session, opened)
    if opened.response is not None and opened.response.status == "completed":
        return render(request, "survey_message.html", {"title": pick(definition.name, locale),
                      "message": pick(definition.thanks, locale) if definition.thanks else translate("page.thanks", locale),
                      "brand": brand, "embed": embed}, locale=locale)  # fmt: skip
    questions = answering.questions_to_show(definition, answers, seen)
    if edit:
        questions = [
            q for q in definition.questions if q.key == edit and is_shown(q.show_if, answers)
        ] or questions
    done, total = answering.progress(definition, answers, seen)
    shown_answers = {**answers, **{k: v for k, v in (typed or {}).items() if v is not None}}
    context = {
        "token": token, "definition": definition, "questions": questions, "answers": shown_answers, "problems": problems or {},
        "done": done, "total": total, "pick": pick, "kind": answering.question_kind, "seen": seen,
        "visible_seen": [q for q in definition.questions if q.key in seen and is_shown(q.show_if, answers)],
        "name": answering.respondent_name(session, opened), "brand": brand, "embed": embed,
        "last": not answering.more_may_follow(definition, answers, seen, questions),
        "form_query": _carried_query(request, locale),
    }  # fmt: skip
    return render(request, "survey.html", context, locale=locale)


@router.get("/s/{token}", response_class=HTMLResponse)
def show_survey(token: str, request: Request, session: SessionDep, edit: str | None = None) -> Response:
    return _page(request, session, token, answering.open_link(session, token, utcnow()), edit=edit)


@router.post("/s/{token}", response_class=HTMLResponse)
def answer_survey(token: str, request: Request, session: SessionDep, form: FormDep) -> Response:
    opened = answering.open_link(session, token, utcnow())
    locale = _locale(request, opened.invitation.locale)
    shown = [k for k in form.get("_shown", [""])[0].split(",") if k]
    result = answering.save_page(
        session,
        opened,
        shown=shown,
        form=form,
        publish_consent="_publish" in form,
        publish_as=(form.get("_publish_as") or ["anonymous"])[-1],
        locale=locale,
        now=utcnow(),
    )
    if result.problems:
        problems = {p.question: translate(p.code, locale, **p.params) for p in result.problems}
        # 200, as HTML forms do: the alerts are in the page, and browsers log a 4xx document as an error.
        typed = answering.read_form(answering.shown_questions(opened.definition, shown), form)
        return _page(request, session, token, opened, problems=problems, typed=typed,
                     edit=shown[0] if len(shown) == 1 else None)  # fmt: skip
    query = _carried_query(request, locale)
    return RedirectResponse(f"/s/{token}{query}", status_code=303)


@cache
def _public_starts() -> SlidingWindowLimiter:
    return SlidingWindowLimiter(get_settings().public_link_starts_per_address, window_seconds=600)


def _anon_cookie(survey_id: int) -> str:
    return f"patron_anon_{survey_id}"


@router.get("/p/{workspace_slug}/{survey_key}", response_class=HTMLResponse)
def public_survey(
    workspace_slug: str, survey_key: str, request: Request, session: SessionDep,
    order: Annotated[str | None, Query(max_length=128, pattern=r"^[^\x00]+$")] = None,
    embed: bool = False,
) -> Response:  # fmt: skip
    """The anonymous link (a QR code in a store, a checkout thank-you page). One browser, one response: the
    link it was given is remembered in a cookie, so reloading or going back never starts a second one."""
    opened = answering.open_public(session, workspace_slug=workspace_slug, survey_key=survey_key)
    if opened is None:
        raise LinkProblem("link.invalid")
    workspace, survey, definition = opened
    suffix = "?embed=1" if embed else ""
    remembered = request.cookies.get(_anon_cookie(survey.id))
    if remembered and nonce_from_survey_token(remembered):
        return RedirectResponse(f"/s/{remembered}{suffix}", status_code=303)
    address = client_address(request)  # X-Forwarded-For only from PATRON_TRUSTED_PROXIES
    if not _public_starts().allow((address, survey.id)):
        raise LinkProblem("link.too_many_new", status=429)
    invitation = open_anonymous(session, workspace=workspace, survey=survey, definition=definition,
                                locale=_locale(request), order_external_id=order, now=utcnow())  # fmt: skip
    token = survey_token(invitation.nonce)
    response = RedirectResponse(f"/s/{token}{suffix}", status_code=303)
    response.set_cookie(_anon_cookie(survey.id), token, max_age=60 * 86400, httponly=True, samesite="lax",
                        secure=get_settings().cookies_secure())  # fmt: skip
    return response


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_form(token: str, request: Request) -> Response:
    locale = _locale(request)
    valid = nonce_from_unsubscribe_token(token) is not None
    return render(request, "unsubscribe.html", {"token": token, "done": False, "valid": valid}, locale=locale,
                  status_code=200 if valid else 404)  # fmt: skip


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_confirm(token: str, request: Request, session: SessionDep) -> Response:
    """Also the RFC 8058 one-click target that mail programs POST to."""
    locale = _locale(request)
    nonce = nonce_from_unsubscribe_token(token)
    customer = None if nonce is None else unsubscribe(session, nonce=nonce, now=utcnow())
    return render(request, "unsubscribe.html", {"token": token, "done": customer is not None, "valid": customer is not None},
                  locale=locale, status_code=200 if customer is not None else 404)  # fmt: skip
