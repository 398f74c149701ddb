"""The public help centre of a workspace (``/help/{slug}``) and the chat widget a shop embeds (the same pages with
``embed=1``, framed by ``static/assistant-widget.js``). No JavaScript needed, no cookies set: everything the page
needs travels in the URL and its forms (``lang``, ``embed``, ``who`` — the signed customer link), so the widget
works inside another site's page where third-party cookies are blocked. Everything a customer typed is rendered
escaped (Jinja's autoescape)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from patron.assistant import help as help_service
from patron.assistant import records, service
from patron.assistant.models import Channel, Conversation, Rating
from patron.assistant.schemas import AskAnswer
from patron.core import service as core_service
from patron.core.errors import NotFound, PatronError
from patron.core.i18n import LOCALES, Labels, normalize_locale, translate
from patron.core.models import Workspace
from patron.core.ratelimit import SlidingWindowLimiter
from patron.customers.models import Customer
from patron.web.deps import SessionDep, client_address, page_locale
from patron.web.templating import render

router = APIRouter(include_in_schema=False)
#: Questions one address may ask a workspace's help centre in ten minutes (each is recorded).
QUESTIONS_PER_ADDRESS = 60


@cache
def _limiter() -> SlidingWindowLimiter:
    return SlidingWindowLimiter(QUESTIONS_PER_ADDRESS, window_seconds=600)


def _locale(request: Request, workspace: Workspace) -> str:
    chosen = normalize_locale(request.query_params.get("lang"))
    return str(chosen) if chosen in LOCALES else page_locale(request, None, workspace)


def _carry(request: Request, locale: str) -> dict[str, str]:
    """What every link and form of the page carries: the language, widget mode and the signed customer."""
    params = request.query_params
    carried = {"lang": locale}
    if params.get("embed") == "1":
        carried["embed"] = "1"
    who = params.get("who", "")
    if who and len(who) <= 300:
        carried["who"] = who
    return carried


def _url(path: str, carried: dict[str, str], **extra: str) -> str:
    return f"{path}?{urlencode({**carried, **extra})}"


def _context(request: Request, session: Session, workspace: Workspace, locale: str) -> dict[str, Any]:
    carried = _carry(request, locale)
    base = f"/help/{workspace.slug}"
    customer = records.customer_from_token(session, workspace.id, carried.get("who"))
    return {
        "workspace": workspace, "brand": workspace.name, "embed": carried.get("embed") == "1", "carried": carried,
        "base": base, "url": lambda path, **extra: _url(path, carried, **extra), "customer": customer,
        "category_name": lambda code: Labels(locale)("assistant_category", code) if code else translate("assistant.other_category", locale),
        "lang_url": lambda code: _url(request.url.path, {**carried, "lang": code},
                                      **{k: v for k, v in request.query_params.items() if k in ("q", "cat")}),
    }  # fmt: skip


def _workspace(session: Session, slug: str) -> Workspace:
    if len(slug) > 64:
        raise NotFound("workspace.not_found", slug=slug[:64])
    return core_service.get_workspace(session, slug)


@router.get("/help/{slug}", response_class=HTMLResponse)
def help_centre(
    slug: str, request: Request, session: SessionDep,
    q: Annotated[str, Query(max_length=20_000)] = "", cat: Annotated[str, Query(max_length=64)] = "",
) -> Response:  # fmt: skip
    """Search box and categories; with ``q`` the assistant's answer (recorded), a rating form, and below the
    threshold the closest entries and a form to leave the question with a person."""
    workspace = _workspace(session, slug)
    locale = _locale(request, workspace)
    context = _context(request, session, workspace, locale)
    entries = help_service.visible_entries(session, workspace.id, locale)
    answer: AskAnswer | None = None
    problem = None
    token = ""
    if q.strip():
        try:
            service.check_question(q)
            if not _limiter().allow((client_address(request), workspace.id)):
                raise PatronError("assistant.too_many_questions", status=429)
            channel = Channel.WIDGET.value if context["embed"] else Channel.HELP.value
            answer = records.ask_and_record(session, workspace.id, q, locale, channel)
            assert answer.question_id is not None
            token = records.question_token(workspace.id, answer.question_id)
        except PatronError as error:
            problem = error.message(locale)
    shown_answer = None
    if answer is not None and answer.answered and answer.source is not None:
        shown_answer = help_service.in_language(answer.answer or "", answer.source.language, locale)
    context |= {
        "q": q, "cat": cat, "answer": answer, "shown_answer": shown_answer, "token": token, "problem": problem,
        "categories": help_service.by_category(entries), "rated": request.query_params.get("rated", ""),
        "title_of": {e.id: e.title for e in entries},
    }  # fmt: skip
    return render(request, "help.html", context, locale=locale)


@router.get("/help/{slug}/entries/{entry_id}", response_class=HTMLResponse)
def help_entry(slug: str, entry_id: str, request: Request, session: SessionDep) -> Response:
    workspace = _workspace(session, slug)
    locale = _locale(request, workspace)
    shown = help_service.entry(session, workspace.id, entry_id[:128], locale)
    if shown is None:
        raise NotFound("assistant.entry_not_found", id=entry_id[:128])
    return render(request, "help_entry.html", _context(request, session, workspace, locale) | {"entry": shown},
                  locale=locale)  # fmt: skip


@router.post("/help/{slug}/rate", response_class=HTMLResponse)
def help_rate(
    slug: str, request: Request, session: SessionDep,
    token: Annotated[str, Form(max_length=300)], rating: Annotated[str, Form(max_length=16)],
) -> Response:  # fmt: skip
    """The customer's rating of an answer; the token proves which question (nobody rates another's)."""
    workspace = _workspace(session, slug)
    locale = _locale(request, workspace)
    question_id = records.question_from_token(workspace.id, token)
    if question_id is None or rating not in {r.value for r in Rating}:
        raise PatronError("request.invalid", status=400, details="token")
    records.rate(session, workspace.id, question_id, rating)
    context = _context(request, session, workspace, locale)
    return RedirectResponse(_url(context["base"], context["carried"], rated=rating), status_code=303)


@router.post("/help/{slug}/handover", response_class=HTMLResponse)
def help_handover(
    slug: str, request: Request, session: SessionDep,
    question: Annotated[str, Form(max_length=20_000)],
    email: Annotated[str, Form(max_length=320)] = "", name: Annotated[str, Form(max_length=200)] = "",
    token: Annotated[str, Form(max_length=300)] = "",
) -> Response:  # fmt: skip
    """Leave the question with a person; then the conversation's own page (its link is also in every reply)."""
    workspace = _workspace(session, slug)
    locale = _locale(request, workspace)
    context = _context(request, session, workspace, locale)
    customer: Customer | None = context["customer"]
    question_id = records.question_from_token(workspace.id, token) if token else None
    try:
        conversation = records.hand_over(
            session, workspace.id, question=question, email=email, name=name, customer=customer,
            question_id=question_id, locale=locale,
            channel=Channel.WIDGET.value if context["embed"] else Channel.HELP.value,
        )  # fmt: skip
    except PatronError as error:
        # 200 with the problem in the page, as HTML forms do; what they typed is shown again.
        context |= {"problem": error.message(locale), "question": question, "email": email, "name": name,
                    "token": token}  # fmt: skip
        return render(request, "help_handover.html", context, locale=locale)
    link = f"{context['base']}/c/{records.conversation_token(conversation.nonce)}"
    return RedirectResponse(_url(link, context["carried"], new="1"), status_code=303)


@router.get("/help/{slug}/c/{token}", response_class=HTMLResponse)
def help_conversation(slug: str, token: str, request: Request, session: SessionDep) -> Response:
    """The customer's view of their hand-over: its status and every message, with times."""
    workspace = _workspace(session, slug)
    conversation: Conversation | None = records.conversation_from_token(session, workspace.id, token[:300])
    if conversation is None:
        raise NotFound("assistant.link_invalid")
    locale = normalize_locale(request.query_params.get("lang")) or conversation.language
    context = _context(request, session, workspace, str(locale))
    context |= {"conversation": conversation, "messages": records.messages(session, conversation),
                "new": request.query_params.get("new") == "1"}  # fmt: skip
    return render(request, "help_conversation.html", context, locale=str(locale), timezone=workspace.timezone)
