"""REST: ``POST /api/v1/assistant/ask`` for other channels (a LINE or Messenger bot, a shop's own page), ratings
and hand-overs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from patron.assistant import editing, records, service
from patron.assistant.editing import entry_read
from patron.assistant.models import Channel, Conversation
from patron.assistant.schemas import (
    AskAnswer,
    AskRequest,
    ConversationRead,
    EntryChangeRead,
    EntryCreate,
    EntryList,
    EntryRead,
    EntryWrite,
    HandoverRequest,
    MessageRead,
    QuestionRead,
    RatingRequest,
)
from patron.customers.service import get_customer
from patron.web.deps import ApiWorkspaceDep, LocaleDep, in_transaction
from patron.web.openapi import INT64_MAX, errors

router = APIRouter(prefix="/api/v1/assistant", tags=["assistant"])


@router.post("/ask", response_model=AskAnswer, operation_id="assistant-ask", responses=errors(400, 401, 422))
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
    responses=errors(400, 401, 404, 422),
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
    responses=errors(400, 401, 404, 422),
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


# ------------------------------------------------------------------------------------------ knowledge base
API_ACTOR = editing.Actor("api")
EntryPath = Path(min_length=1, max_length=128)


@router.get(
    "/entries", response_model=EntryList, operation_id="assistant-entries", responses=errors(401, 422)
)
async def list_entries(
    workspace: ApiWorkspaceDep, q: str = Query("", max_length=200), category: str = Query("", max_length=64),
    language: str = Query("", max_length=8), status: str = Query("", max_length=16),
    offset: int = Query(0, ge=0, le=10_000_000), limit: int = Query(50, ge=1, le=500),
) -> EntryList:  # fmt: skip
    """Entries by id; ``q`` searches the id, title, phrasings and answer; filters by category, language, status."""

    def work(session: Session) -> EntryList:
        found = editing.list_entries(session, workspace.id, search=q, category=category, language=language,
                                     status=status, offset=offset, limit=limit)  # fmt: skip
        return EntryList(total=found.total, entries=[entry_read(e) for e in found.entries])

    return await in_transaction(work)


_EXPORTED: dict[int | str, dict[str, Any]] = {200: {"description": "The knowledge base as a file (Content-Disposition: attachment)",
                   "content": {media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                               for media in service.EXPORT_FORMATS.values()}}}  # fmt: skip


@router.get("/entries/export", operation_id="assistant-entries-export", responses={**_EXPORTED, **errors(401, 422)},
            response_class=Response)  # fmt: skip
async def export_entries(
    workspace: ApiWorkspaceDep, format: str = Query("csv", pattern="^(csv|jsonl|xlsx)$")
) -> Response:
    """The whole knowledge base (any status) as CSV, JSONL or XLSX, in the shape the import reads back."""
    body = await in_transaction(service.export_entries, workspace_id=workspace.id, fmt=format)
    return Response(body, media_type=service.EXPORT_FORMATS[format],
                    headers={"Content-Disposition": f'attachment; filename="knowledge-base.{format}"'})  # fmt: skip


@router.post("/entries", response_model=EntryRead, status_code=201, operation_id="assistant-entry-create",
             responses=errors(400, 401, 409, 422))  # fmt: skip
async def create_entry(workspace: ApiWorkspaceDep, body: EntryCreate) -> EntryRead:
    """A new entry, answered at once when published (a history row records it)."""

    def work(session: Session) -> EntryRead:
        values = body.model_dump(exclude_unset=True, exclude={"id"})
        entry = editing.create_entry(session, workspace.id, values, API_ACTOR, zone=workspace.timezone,
                                     external_id=body.id)  # fmt: skip
        return entry_read(entry)

    return await in_transaction(work)


@router.get("/entries/{entry_id}", response_model=EntryRead, operation_id="assistant-entry",
            responses=errors(401, 404, 422))  # fmt: skip
async def get_entry(workspace: ApiWorkspaceDep, entry_id: str = EntryPath) -> EntryRead:
    def work(session: Session) -> EntryRead:
        return entry_read(editing.get_entry(session, workspace.id, entry_id))

    return await in_transaction(work)


@router.patch("/entries/{entry_id}", response_model=EntryRead, operation_id="assistant-entry-update",
              responses=errors(400, 401, 404, 422))  # fmt: skip
async def update_entry(workspace: ApiWorkspaceDep, body: EntryWrite, entry_id: str = EntryPath) -> EntryRead:
    """Change the fields sent; a history row lists each changed field before and after."""

    def work(session: Session) -> EntryRead:
        entry, _ = editing.update_entry(session, workspace.id, entry_id, body.model_dump(exclude_unset=True),
                                        API_ACTOR, zone=workspace.timezone)  # fmt: skip
        return entry_read(entry)

    return await in_transaction(work)


@router.post("/entries/{entry_id}/retire", response_model=EntryRead, operation_id="assistant-entry-retire",
             responses=errors(401, 404, 422))  # fmt: skip
async def retire_entry(workspace: ApiWorkspaceDep, entry_id: str = EntryPath) -> EntryRead:
    """Archived: kept with its history, no longer answered."""

    def work(session: Session) -> EntryRead:
        return entry_read(editing.retire_entry(session, workspace.id, entry_id, API_ACTOR))

    return await in_transaction(work)


@router.get("/entries/{entry_id}/history", response_model=list[EntryChangeRead],
            operation_id="assistant-entry-history", responses=errors(401, 404, 422))  # fmt: skip
async def entry_history(workspace: ApiWorkspaceDep, entry_id: str = EntryPath) -> list[EntryChangeRead]:
    """The entry's changes by hand, newest first: who, when, each field before and after."""

    def work(session: Session) -> list[EntryChangeRead]:
        entry = editing.get_entry(session, workspace.id, entry_id)
        return [EntryChangeRead(changed_at=c.changed_at, actor=c.actor, action=c.action, changes=c.changes)
                for c in editing.history(session, entry)]  # fmt: skip

    return await in_transaction(work)
