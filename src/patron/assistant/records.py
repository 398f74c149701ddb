"""What happens around an answer: each question recorded, its rating, and the hand-over to a person.

A question is recorded with its text PII-masked (``text.pii.mask``), the language it was written in, the top entry
(the answer's source, or the closest entry when the assistant was not sure), the confidence, whether it was answered
and the channel. A hand-over is a ``Conversation`` (status open → answered → closed) whose messages carry their
author and time; staff reply by e-mail from the dashboard, and the customer reads the conversation on a page
reached through a signed link. Services never commit.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.assistant import service
from patron.assistant.models import (
    Author,
    Channel,
    Conversation,
    ConversationStatus,
    Message,
    Question,
    Rating,
)
from patron.assistant.schemas import AskAnswer
from patron.core.clock import utcnow
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.i18n import LOCALES, translate
from patron.core.mail import Mailer, MailError
from patron.core.mail import Message as MailMessage
from patron.core.models import Workspace
from patron.core.settings import get_settings
from patron.customers.models import Customer
from patron.text.normalise import detect_language
from patron.text.pii import mask

#: Longest reply staff may send, and longest name a customer leaves.
MAX_REPLY = 10_000
MAX_NAME = 200
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,255}\.[^@\s<>\"'.]{2,63}$")
_QUESTION_SALT = "assistant-question"
_CONVERSATION_SALT = "assistant-conversation"
_CUSTOMER_SALT = "assistant-customer"


# ------------------------------------------------------------------------------------------ signed tokens
def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().resolved_secret_key(), salt=salt)


def _loads(token: str, salt: str) -> object:
    try:
        return _serializer(salt).loads(token)
    except BadSignature:
        return None


def question_token(workspace_id: int, question_id: int) -> str:
    """What a public page carries to rate or hand over its question: nobody can rate another's."""
    return str(_serializer(_QUESTION_SALT).dumps([workspace_id, question_id]))


def question_from_token(workspace_id: int, token: str) -> int | None:
    value = _loads(token, _QUESTION_SALT)
    if isinstance(value, list) and len(value) == 2 and value[0] == workspace_id and isinstance(value[1], int):
        return value[1]
    return None


def conversation_token(nonce: str) -> str:
    return str(_serializer(_CONVERSATION_SALT).dumps(nonce))


def customer_token(workspace_id: int, customer_id: int) -> str:
    """A shop puts this in the help link it gives a logged-in customer (``?who=…``): a hand-over from that
    link needs no contact, the customer is known."""
    return str(_serializer(_CUSTOMER_SALT).dumps([workspace_id, customer_id]))


def customer_from_token(session: Session, workspace_id: int, token: str | None) -> Customer | None:
    value = _loads(token, _CUSTOMER_SALT) if token else None
    if not (
        isinstance(value, list) and len(value) == 2 and value[0] == workspace_id and isinstance(value[1], int)
    ):
        return None
    customer = session.get(Customer, value[1])
    return customer if customer is not None and customer.workspace_id == workspace_id else None


# ---------------------------------------------------------------------------------------------- questions
def language_of(text: str) -> str:
    """zh-Hant, zh-Hans, en, or ``other`` (a fourth language, emoji only)."""
    return str(detect_language(text))


def record(
    session: Session,
    workspace_id: int,
    question: str,
    answer: AskAnswer,
    channel: str,
    *,
    now: datetime | None = None,
) -> Question:
    """Store the question asked and what the assistant did with it; the text is stored PII-masked."""
    top = answer.source or (answer.closest[0] if answer.closest else None)
    row = Question(
        workspace_id=workspace_id, asked_at=now or utcnow(), text=mask(question.strip()),
        language=language_of(question), channel=Channel(channel).value, entry_id=top.id if top else None,
        confidence=float(answer.confidence), answered=answer.answered,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def ask_and_record(
    session: Session, workspace_id: int, question: str, locale: str | None, channel: str
) -> AskAnswer:
    """``service.ask``, recorded; the answer carries the record's id."""
    answer = service.ask(session, workspace_id, question, locale)
    row = record(session, workspace_id, question, answer, channel)
    return answer.model_copy(update={"question_id": row.id})


def get_question(session: Session, workspace_id: int, question_id: int) -> Question:
    row = session.get(Question, question_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound("assistant.question_not_found", id=question_id)
    return row


def rate(
    session: Session, workspace_id: int, question_id: int, rating: str, *, now: datetime | None = None
) -> Question:
    """Helpful or not helpful; a second rating replaces the first (the customer changed their mind)."""
    if rating not in {r.value for r in Rating}:
        raise PatronError(
            "assistant.bad_rating", status=422, value=rating[:20], allowed=[r.value for r in Rating]
        )
    row = get_question(session, workspace_id, question_id)
    row.rating, row.rated_at = rating, now or utcnow()
    session.flush()
    return row


# ---------------------------------------------------------------------------------------------- hand-over
def check_email(email: str) -> str:
    value = email.strip()
    if not _EMAIL.match(value):
        raise PatronError("assistant.bad_email", status=422, value=value[:80])
    return value


def hand_over(
    session: Session, workspace_id: int, *, question: str, email: str = "", name: str = "",
    customer: Customer | None = None, question_id: int | None = None, locale: str | None = None,
    channel: str = Channel.HELP.value, now: datetime | None = None,
) -> Conversation:  # fmt: skip
    """Leave the question with a person: a conversation (open) with the customer's question as its first
    message. A customer known from a signed link needs no contact; otherwise a valid e-mail is required."""
    text = service.check_question(question)
    if customer is not None and customer.email and not email.strip():
        email, name = customer.email, name or customer.name or ""
    address = check_email(email)
    if len(name) > MAX_NAME:
        raise PatronError("assistant.import_too_long", status=422, line=1, field="name", limit=MAX_NAME)
    if question_id is not None:
        get_question(session, workspace_id, question_id)
    language = locale if locale in LOCALES else language_of(text)
    moment = now or utcnow()
    conversation = Conversation(
        workspace_id=workspace_id, question_id=question_id, customer_id=customer.id if customer else None,
        status=ConversationStatus.OPEN.value, contact_name=name.strip(), contact_email=address,
        language=language if language in LOCALES else "zh-Hant", channel=Channel(channel).value,
        nonce=secrets.token_urlsafe(24), created_at=moment, updated_at=moment,
    )  # fmt: skip
    session.add(conversation)
    session.flush()
    session.add(Message(workspace_id=workspace_id, conversation_id=conversation.id, author=Author.CUSTOMER.value,
                        body=text, created_at=moment))  # fmt: skip
    session.flush()
    return conversation


def get_conversation(session: Session, workspace_id: int, conversation_id: int) -> Conversation:
    row = session.get(Conversation, conversation_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound("assistant.conversation_not_found", id=conversation_id)
    return row


def conversation_from_token(session: Session, workspace_id: int, token: str) -> Conversation | None:
    nonce = _loads(token, _CONVERSATION_SALT)
    if not isinstance(nonce, str):
        return None
    row = session.scalar(select(Conversation).where(Conversation.nonce == nonce))
    return row if row is not None and row.workspace_id == workspace_id else None


def messages(session: Session, conversation: Conversation) -> list[Message]:
    return list(session.scalars(
        select(Message).where(Message.workspace_id == conversation.workspace_id,
                              Message.conversation_id == conversation.id).order_by(Message.created_at, Message.id)
    ))  # fmt: skip


def conversation_link(workspace: Workspace, conversation: Conversation) -> str:
    return f"{get_settings().base_url()}/help/{workspace.slug}/c/{conversation_token(conversation.nonce)}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def reply_message(workspace: Workspace, conversation: Conversation, question: str, body: str) -> MailMessage:
    locale = conversation.language
    link = conversation_link(workspace, conversation)
    subject = translate("assistant.mail_subject", locale, brand=workspace.name)
    intro = translate("assistant.mail_intro", locale, brand=workspace.name)
    asked = translate("assistant.mail_you_asked", locale)
    more = translate("assistant.mail_link", locale)
    text = f"{intro}\n\n{body}\n\n{asked}\n{question}\n\n{more}: {link}\n"
    paragraphs = "".join(f"<p>{_escape(p)}</p>" for p in body.split("\n\n"))
    html = (
        f'<!doctype html><html lang="{locale}"><meta charset="utf-8"><body style="font-family:sans-serif">'
        f"<p>{_escape(intro)}</p>{paragraphs}"
        f'<p style="color:#5b6b75">{_escape(asked)}<br>{_escape(question)}</p>'
        f'<p><a href="{link}">{_escape(more)}</a></p></body></html>'
    )
    return MailMessage(to=conversation.contact_email, to_name=conversation.contact_name, subject=subject, text=text,
                       html=html)  # fmt: skip


@dataclass(frozen=True)
class Sent:
    message: Message
    error: str


def reply(
    session: Session, workspace: Workspace, conversation_id: int, *, body: str, user_id: int | None,
    mailer: Mailer, now: datetime | None = None,
) -> Sent:  # fmt: skip
    """A staff reply: stored as a message, e-mailed to the contact, the conversation marked answered. When the
    mail server refuses, the reply is kept with the error and the conversation stays open (send it again)."""
    text = body.strip()
    if not text:
        raise PatronError("assistant.reply_empty", status=422)
    if len(text) > MAX_REPLY:
        raise PatronError("assistant.question_too_long", status=422, limit=MAX_REPLY, length=len(text))
    conversation = get_conversation(session, workspace.id, conversation_id)
    if conversation.status == ConversationStatus.CLOSED.value:
        raise Conflict("assistant.conversation_closed", id=conversation_id)
    moment = now or utcnow()
    first = next((m.body for m in messages(session, conversation) if m.author == Author.CUSTOMER.value), "")
    message = Message(workspace_id=workspace.id, conversation_id=conversation.id, author=Author.STAFF.value,
                      user_id=user_id, body=text, created_at=moment)  # fmt: skip
    session.add(message)
    error = ""
    try:
        mailer.send(reply_message(workspace, conversation, first, text))
    except MailError as exc:
        error = str(exc)[:500] or "mail error"
    if error:
        message.send_error = error
    else:
        message.sent_at = moment
        conversation.status = ConversationStatus.ANSWERED.value
    conversation.updated_at = moment
    session.flush()
    return Sent(message, error)


def close(
    session: Session, workspace_id: int, conversation_id: int, *, now: datetime | None = None
) -> Conversation:
    conversation = get_conversation(session, workspace_id, conversation_id)
    if conversation.status != ConversationStatus.CLOSED.value:
        moment = now or utcnow()
        conversation.status, conversation.closed_at, conversation.updated_at = (
            ConversationStatus.CLOSED.value, moment, moment)  # fmt: skip
        session.flush()
    return conversation


# ------------------------------------------------------------------------------------------ knowledge gaps
