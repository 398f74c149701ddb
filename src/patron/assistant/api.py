"""REST: ``POST /api/v1/assistant/ask`` for other channels (a LINE or Messenger bot, a shop's own page), ratings
and hand-overs."""

from __future__ import annotations

from fastapi import APIRouter, Path
from sqlalchemy.orm import Session

from patron.assistant import records, service
from patron.assistant.models import Channel, Conversation
from patron.assistant.schemas import (
    AskAnswer,
    AskRequest,
    ConversationRead,
    HandoverRequest,
    MessageRead,
    QuestionRead,
    RatingRequest,
)
from patron.customers.service import get_customer
from patron.web.deps import ApiWorkspaceDep, LocaleDep, in_transaction
from patron.web.openapi import INT64_MAX, errors

router = APIRouter(prefix="/api/v1/assistant", tags=["assistant"])


@router.post("/ask", response_model=AskAnswer, operation_id="assistant-ask", responses=errors(401, 422))
async def ask(workspace: ApiWorkspaceDep, body: AskRequest, locale: LocaleDep) -> AskAnswer:
    """The answer from the workspace's knowledge base, its source entry, a confidence and up to three related
    entries; below the threshold it is not sure, lists the closest entries and offers a person. Each question
    is recorded (PII-masked) with what was answered; ``question_id`` names the record for a rating."""
    service.check_question(body.question)
    return await in_transaction(
        records.ask_and_record, workspace_id=workspace.id, question=body.question, locale=locale,
        channel=Channel.API.value,
    )  # fmt: skip


def _question(row: object) -> QuestionRead:
    return QuestionRead.model_validate(row, from_attributes=True)


@router.post(
    "/questions/{question_id}/rating", response_model=QuestionRead, operation_id="assistant-rate",
    responses=errors(401, 404, 422),
)  # fmt: skip
async def rate(
    workspace: ApiWorkspaceDep, body: RatingRequest, question_id: int = Path(ge=1, le=INT64_MAX)
) -> QuestionRead:
    """The customer found the answer helpful or not; a second rating replaces the first."""

    def work(session: Session) -> QuestionRead:
        return _question(records.rate(session, workspace.id, question_id, body.rating))

    return await in_transaction(work)


def conversation_read(session: Session, conversation: Conversation) -> ConversationRead:
    return ConversationRead(
        id=conversation.id, status=conversation.status, contact_name=conversation.contact_name,
        contact_email=conversation.contact_email, language=conversation.language, channel=conversation.channel,
        created_at=conversation.created_at, closed_at=conversation.closed_at,
        messages=[MessageRead(author=m.author, body=m.body, created_at=m.created_at, sent_at=m.sent_at)
                  for m in records.messages(session, conversation)],
    )  # fmt: skip


@router.post(
    "/handovers", response_model=ConversationRead, status_code=201, operation_id="assistant-handover",
    responses=errors(401, 404, 422),
)  # fmt: skip
async def hand_over(workspace: ApiWorkspaceDep, body: HandoverRequest, locale: LocaleDep) -> ConversationRead:
    """Leave the question with a person: a conversation staff see on the dashboard and answer by e-mail."""

    def work(session: Session) -> ConversationRead:
        customer = (
            get_customer(session, workspace_id=workspace.id, external_id=body.customer_id)
            if body.customer_id
            else None
        )
        conversation = records.hand_over(
            session, workspace.id, question=body.question, email=body.email, name=body.name, customer=customer,
            question_id=body.question_id, locale=locale, channel=Channel.API.value,
        )  # fmt: skip
        return conversation_read(session, conversation)

    return await in_transaction(work)
