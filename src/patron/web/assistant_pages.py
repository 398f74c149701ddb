"""Staff pages of the FAQ assistant behind the dashboard's Assistant tab: a hand-over's conversation with its
history, the reply sent by e-mail from there, closing it, and closing a knowledge gap in one step (the question
becomes a phrasing of an entry). Every form is CSRF-checked; changes are for admins (viewers read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from patron.assistant import records
from patron.assistant.models import Conversation, Question
from patron.core.errors import PatronError
from patron.core.mail import MailError, SmtpMailer
from patron.core.mail import Message as MailMessage
from patron.core.models import Role
from patron.customers.models import Customer
from patron.web.deps import ReadSessionDep, SessionDep
from patron.web.openapi import INT64_MAX
from patron.web.pages import ReaderDep, Viewer, ViewerDep, check_csrf, render_page

router = APIRouter(include_in_schema=False)
ConversationId = Annotated[int, Path(ge=1, le=INT64_MAX)]


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


@router.post("/dashboard/assistant/gaps/phrasing")
def add_phrasing(
    request: Request, session: SessionDep, viewer: ViewerDep,
    question: Annotated[int, Form(ge=1, le=INT64_MAX)], entry: Annotated[str, Form(max_length=128)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    """Knowledge gap closed in one step: the question becomes a phrasing of the entry."""
    check_csrf(request, csrf)
    _require_admin(viewer)
    records.add_phrasing(session, viewer.workspace.id, question_id=question, entry_id=entry.strip())
    query = request.url.query
    return RedirectResponse("/dashboard/assistant" + (f"?{query}&added=1" if query else "?added=1"),
                            status_code=303)  # fmt: skip
