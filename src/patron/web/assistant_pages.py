"""Staff pages of the FAQ assistant behind the dashboard's Assistant tab: a hand-over's conversation with its
history, the reply sent by e-mail from there, closing it, and closing a knowledge gap in one step (the question
becomes a phrasing of an entry). Every form is CSRF-checked; changes are for admins (viewers read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from patron.assistant import editing, records, service
from patron.assistant.models import LANGUAGES, Conversation, EntryStatus, KnowledgeEntry, Question
from patron.core.errors import PatronError
from patron.core.i18n import translate
from patron.core.mail import MailError, SmtpMailer
from patron.core.mail import Message as MailMessage
from patron.core.models import Role
from patron.customers.models import Customer
from patron.web.deps import ReadSessionDep, SessionDep
from patron.web.openapi import INT64_MAX
from patron.web.pages import ReaderDep, Viewer, ViewerDep, check_csrf, render_page

router = APIRouter(include_in_schema=False)
ConversationId = Annotated[int, Path(ge=1, le=INT64_MAX)]
EntryId = Annotated[str, Path(min_length=1, max_length=128)]


def _require_admin(viewer: Viewer) -> None:
    if viewer.user.role != Role.ADMIN.value:
        raise PatronError("auth.forbidden", status=403, role=viewer.user.role)


def _show(
    request: Request, session: Session, viewer: Viewer, conversation: Conversation, **extra: object
) -> Response:
    question = (
        session.get(Question, conversation.question_id) if conversation.question_id is not None else None
    )
    customer = (
        session.get(Customer, conversation.customer_id) if conversation.customer_id is not None else None
    )
    context = {"conversation": conversation, "messages": records.messages(session, conversation),
               "question": question, "customer": customer, "problem": None, "sent": False, "body": "", **extra}  # fmt: skip
    return render_page(request, viewer, "dashboard/conversation.html", context)


@router.get("/dashboard/assistant/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    conversation_id: ConversationId, request: Request, session: ReadSessionDep, viewer: ReaderDep
) -> Response:
    conversation = records.get_conversation(session, viewer.workspace.id, conversation_id)
    return _show(request, session, viewer, conversation, sent=request.query_params.get("sent") == "1")


class _Unreachable:
    """Stands in for the mail server when it cannot be reached: the reply is kept with the error."""

    def __init__(self, error: str) -> None:
        self.error = error

    def send(self, message: MailMessage) -> None:
        raise MailError(self.error)


@router.post("/dashboard/assistant/conversations/{conversation_id}/reply", response_class=HTMLResponse)
def reply(
    conversation_id: ConversationId, request: Request, session: SessionDep, viewer: ViewerDep,
    body: Annotated[str, Form(max_length=20_000)] = "", csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    """Send the reply by e-mail and keep it in the conversation (answered); a refused mail is shown, kept, and
    the conversation stays open."""
    check_csrf(request, csrf)
    _require_admin(viewer)
    try:
        try:
            with SmtpMailer() as mailer:
                sent = records.reply(session, viewer.workspace, conversation_id, body=body, user_id=viewer.user.id,
                                     mailer=mailer)  # fmt: skip
        except MailError as exc:
            sent = records.reply(session, viewer.workspace, conversation_id, body=body, user_id=viewer.user.id,
                                 mailer=_Unreachable(str(exc)))  # fmt: skip
    except PatronError as error:
        if error.status == 404:
            raise
        conversation = records.get_conversation(session, viewer.workspace.id, conversation_id)
        return _show(request, session, viewer, conversation, problem=error.message(viewer.locale), body=body)
    if sent.error:
        conversation = records.get_conversation(session, viewer.workspace.id, conversation_id)
        problem = PatronError("assistant.mail_failed", error=sent.error[:200]).message(viewer.locale)
        return _show(request, session, viewer, conversation, problem=problem)
    return RedirectResponse(f"/dashboard/assistant/conversations/{conversation_id}?sent=1", status_code=303)


@router.post("/dashboard/assistant/conversations/{conversation_id}/close")
def close(
    conversation_id: ConversationId, request: Request, session: SessionDep, viewer: ViewerDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    _require_admin(viewer)
    records.close(session, viewer.workspace.id, conversation_id)
    return RedirectResponse(f"/dashboard/assistant/conversations/{conversation_id}", status_code=303)


def _actor(viewer: Viewer) -> editing.Actor:
    return editing.Actor(viewer.user.email, viewer.user.id)


def _gap_notice(request: Request, locale: str, done: editing.GapClosed, code: str) -> None:
    """What the one-step action did, shown once on the Assistant tab."""
    if done.answered_by is not None:
        check = translate("assistant.gap_check_answered", locale, entry=done.answered_by,
                          confidence=f"{done.confidence:.2f}")  # fmt: skip
    else:
        check = translate("assistant.gap_check_not_sure", locale, confidence=f"{done.confidence:.2f}")
    request.session["assistant_notice"] = translate(code, locale, question=done.question[:200],
                                                    entry=done.entry.external_id, n=done.covered, check=check)  # fmt: skip


@router.post("/dashboard/assistant/gaps/phrasing")
def add_phrasing(
    request: Request, session: SessionDep, viewer: ViewerDep,
    question: Annotated[int, Form(ge=1, le=INT64_MAX)], entry: Annotated[str, Form(max_length=128)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    """Knowledge gap closed in one step: the question becomes a phrasing of the entry (history kept), its
    questions count as covered, and the tab says what asking it again answers now."""
    check_csrf(request, csrf)
    _require_admin(viewer)
    done = editing.phrasing_from_gap(session, viewer.workspace.id, question_id=question, entry_id=entry.strip(),
                                     actor=_actor(viewer))  # fmt: skip
    _gap_notice(request, viewer.locale, done, "assistant.gap_added")
    query = request.url.query
    return RedirectResponse(
        "/dashboard/assistant" + (f"?{query}" if query else "") + "#gaps", status_code=303
    )


# -------------------------------------------------------------------------------------- knowledge-base editing
ENTRIES = "/dashboard/assistant/entries"


def _entry_url(external_id: str) -> str:
    return f"{ENTRIES}/{quote(external_id, safe='')}"


def _local(value: datetime | None, zone: str) -> str:
    """A validity date as a datetime-local field shows it, in the workspace's zone."""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value is not None else ""


def _form_of(entry: KnowledgeEntry | None, zone: str) -> dict[str, str]:
    if entry is None:
        return {"id": "", "title": "", "phrasings": "", "answer": "", "category": "", "language": "zh-Hant",
                "valid_from": "", "valid_until": "", "status": "published"}  # fmt: skip
    return {"id": entry.external_id, "title": entry.title, "phrasings": "\n".join(entry.phrasings or []),
            "answer": entry.answer, "category": entry.category, "language": entry.language,
            "valid_from": _local(entry.valid_from, zone), "valid_until": _local(entry.valid_until, zone),
            "status": entry.status}  # fmt: skip


def _entry_page(
    request: Request, session: Session, viewer: Viewer, entry: KnowledgeEntry | None, form: dict[str, str],
    *, problem: str | None = None, notice: str | None = None, question: int | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    context: dict[str, object] = {"entry": entry, "form": form, "problem": problem, "notice": notice, "question": question,
               "changes": editing.history(session, entry) if entry is not None else [],
               "fields": editing.FIELDS, "languages": LANGUAGES, "statuses": [s.value for s in EntryStatus],
               "is_admin": viewer.user.role == Role.ADMIN.value, "zone": viewer.workspace.timezone,
               "entry_url": _entry_url(entry.external_id) if entry is not None else f"{ENTRIES}/new"}  # fmt: skip
    return render_page(request, viewer, "dashboard/entry.html", context, status_code=status_code)


@router.get(ENTRIES, response_class=HTMLResponse)
def entries_page(
    request: Request, session: ReadSessionDep, viewer: ReaderDep,
    q: Annotated[str, Query(max_length=200)] = "", category: Annotated[str, Query(max_length=64)] = "",
    language: Annotated[str, Query(max_length=8)] = "", status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:  # fmt: skip
    """The knowledge base: search and filter entries (by category, language, status)."""
    found = editing.list_entries(session, viewer.workspace.id, search=q, category=category, language=language,
                                 status=status, offset=(page - 1) * editing.PAGE)  # fmt: skip
    filters = {"q": q, "category": category, "language": language, "status": status}
    context = {"found": found, "filters": filters, "page": page, "pages": max(1, -(-found.total // editing.PAGE)),
               "languages": LANGUAGES, "statuses": [s.value for s in EntryStatus], "entry_url": _entry_url,
               "query": urlencode({k: v for k, v in filters.items() if v}),
               "is_admin": viewer.user.role == Role.ADMIN.value}  # fmt: skip
    return render_page(request, viewer, "dashboard/entries.html", context)


@router.get(f"{ENTRIES}/export")
def entries_export(
    session: ReadSessionDep,
    viewer: ReaderDep,
    format: Annotated[str, Query(pattern="^(csv|jsonl|xlsx)$")] = "csv",
) -> Response:
    """The whole knowledge base as a file ``patron assistant import`` reads back."""
    body = service.export_entries(session, viewer.workspace.id, format)
    name = f"patron-{viewer.workspace.slug}-knowledge-base.{format}"
    return Response(body, media_type=service.EXPORT_FORMATS[format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.get(f"{ENTRIES}/new", response_class=HTMLResponse)
def new_entry_page(
    request: Request, session: ReadSessionDep, viewer: ViewerDep,
    question: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> Response:  # fmt: skip
    """A new entry; from a knowledge gap (``?question=``) pre-filled with the question asked."""
    _require_admin(viewer)
    form = _form_of(None, viewer.workspace.timezone)
    if question is not None:
        form.update(editing.prefill(records.get_question(session, viewer.workspace.id, question)))
    return _entry_page(request, session, viewer, None, form, question=question)


def _typed(title: str, phrasings: str, answer: str, category: str, language: str, valid_from: str,
           valid_until: str, status: str) -> dict[str, str]:  # fmt: skip
    return {"title": title, "phrasings": phrasings, "answer": answer, "category": category, "language": language,
            "valid_from": valid_from, "valid_until": valid_until, "status": status}  # fmt: skip


Text = Annotated[str, Form(max_length=25_000)]


@router.post(f"{ENTRIES}/new", response_class=HTMLResponse)
def create_entry(
    request: Request, session: SessionDep, viewer: ViewerDep, title: Text = "", phrasings: Text = "",
    answer: Text = "", category: Text = "", language: Text = "zh-Hant", valid_from: Text = "",
    valid_until: Text = "", status: Text = "published", id: Annotated[str, Form(max_length=200)] = "",
    question: Annotated[int | None, Form(ge=1, le=INT64_MAX)] = None, csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    _require_admin(viewer)
    typed = _typed(title, phrasings, answer, category, language, valid_from, valid_until, status)
    zone = viewer.workspace.timezone
    try:
        with session.begin_nested():
            if question is not None:
                done = editing.entry_from_gap(session, viewer.workspace.id, question_id=question, values=typed,
                                              actor=_actor(viewer), zone=zone, external_id=id)  # fmt: skip
                _gap_notice(request, viewer.locale, done, "assistant.gap_created")
                return RedirectResponse("/dashboard/assistant#gaps", status_code=303)
            entry = editing.create_entry(session, viewer.workspace.id, typed, _actor(viewer), zone=zone,
                                         external_id=id)  # fmt: skip
    except PatronError as error:
        if error.status == 404:
            raise
        return _entry_page(request, session, viewer, None, {"id": id, **typed}, problem=error.message(viewer.locale),
                           question=question, status_code=error.status)  # fmt: skip
    return RedirectResponse(_entry_url(entry.external_id) + "?saved=created", status_code=303)


@router.get(f"{ENTRIES}/{{external_id}}", response_class=HTMLResponse)
def entry_page(
    external_id: EntryId, request: Request, session: ReadSessionDep, viewer: ReaderDep,
    saved: Annotated[str, Query(max_length=16)] = "",
) -> Response:  # fmt: skip
    """One entry: its fields (a form for admins) and its history."""
    entry = editing.get_entry(session, viewer.workspace.id, external_id)
    notice = translate(f"assistant.entry_{saved}", viewer.locale) if saved in ("created", "saved", "retired",
                                                                               "unchanged") else None  # fmt: skip
    return _entry_page(
        request, session, viewer, entry, _form_of(entry, viewer.workspace.timezone), notice=notice
    )


@router.post(f"{ENTRIES}/{{external_id}}", response_class=HTMLResponse)
def save_entry(
    external_id: EntryId, request: Request, session: SessionDep, viewer: ViewerDep, title: Text = "",
    phrasings: Text = "", answer: Text = "", category: Text = "", language: Text = "zh-Hant",
    valid_from: Text = "", valid_until: Text = "", status: Text = "published",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    _require_admin(viewer)
    typed = _typed(title, phrasings, answer, category, language, valid_from, valid_until, status)
    try:
        with session.begin_nested():
            _, change = editing.update_entry(session, viewer.workspace.id, external_id, typed, _actor(viewer),
                                             zone=viewer.workspace.timezone)  # fmt: skip
    except PatronError as error:
        if error.status == 404:
            raise
        entry = editing.get_entry(session, viewer.workspace.id, external_id)
        return _entry_page(request, session, viewer, entry, {"id": external_id, **typed},
                           problem=error.message(viewer.locale), status_code=error.status)  # fmt: skip
    return RedirectResponse(_entry_url(external_id) + ("?saved=saved" if change else "?saved=unchanged"),
                            status_code=303)  # fmt: skip


@router.post(f"{ENTRIES}/{{external_id}}/retire")
def retire_entry(
    external_id: EntryId, request: Request, session: SessionDep, viewer: ViewerDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    _require_admin(viewer)
    editing.retire_entry(session, viewer.workspace.id, external_id, _actor(viewer))
    return RedirectResponse(_entry_url(external_id) + "?saved=retired", status_code=303)
