"""Pages respondents see: the survey behind a personal link, and unsubscribing. No JavaScript needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from patron.core.clock import utcnow
from patron.core.i18n import LOCALES, normalize_locale, translate
from patron.surveys import answering
from patron.surveys.answers import is_shown
from patron.surveys.distribution import nonce_from_unsubscribe_token, unsubscribe
from patron.surveys.texts import pick
from patron.web.deps import SessionDep, page_locale
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


def _page(request: Request, session: SessionDep, token: str, *, problems: dict[str, str] | None = None,
          status: int = 200, edit: str | None = None) -> Response:  # fmt: skip
    opened = answering.open_link(session, token, utcnow())
    locale = _locale(request, opened.response.locale if opened.response else opened.invitation.locale)
    definition = opened.definition
    answers = answering.current_answers(session, opened)
    seen = list(opened.response.seen or []) if opened.response else []
    if opened.response is not None and opened.response.status == "completed":
        return render(request, "survey_message.html", {"title": pick(definition.name, locale),
                      "message": pick(definition.thanks, locale) if definition.thanks else translate("page.thanks", locale)},
                      locale=locale)  # fmt: skip
    questions = answering.questions_to_show(definition, answers, seen)
    if edit:
        questions = [
            q for q in definition.questions if q.key == edit and is_shown(q.show_if, answers)
        ] or questions
    done, total = answering.progress(definition, answers, seen)
    context = {
        "token": token, "definition": definition, "questions": questions, "answers": answers, "problems": problems or {},
        "done": done, "total": total, "pick": pick, "kind": answering.question_kind, "seen": seen,
        "visible_seen": [q for q in definition.questions if q.key in seen and is_shown(q.show_if, answers)],
        "name": answering.respondent_name(session, opened),
        "brand": answering.brand_name(session, opened),
    }  # fmt: skip
    return render(request, "survey.html", context, locale=locale, status_code=status)


@router.get("/s/{token}", response_class=HTMLResponse)
def show_survey(token: str, request: Request, session: SessionDep, edit: str | None = None) -> Response:
    return _page(request, session, token, edit=edit)


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
        locale=locale,
        now=utcnow(),
    )
    if result.problems:
        problems = {p.question: translate(p.code, locale, **p.params) for p in result.problems}
        # 200, as HTML forms do: the alerts are in the page, and browsers log a 4xx document as an error.
        return _page(request, session, token, problems=problems, edit=shown[0] if len(shown) == 1 else None)
    query = f"?lang={locale}" if request.query_params.get("lang") else ""
    return RedirectResponse(f"/s/{token}{query}", status_code=303)


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
