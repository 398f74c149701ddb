"""REST: ``POST /api/v1/assistant/ask`` for other channels (a LINE or Messenger bot, a shop's own page)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from patron.assistant import service
from patron.assistant.schemas import AskAnswer, AskRequest
from patron.web.deps import ApiWorkspaceDep, LocaleDep, in_transaction
from patron.web.openapi import errors

router = APIRouter(prefix="/api/v1/assistant", tags=["assistant"])


@router.post("/ask", response_model=AskAnswer, operation_id="assistant-ask", responses=errors(401, 422))
async def ask(workspace: ApiWorkspaceDep, body: AskRequest, locale: LocaleDep) -> AskAnswer:
    """The answer from the workspace's knowledge base, its source entry, a confidence and up to three related
    entries; below the threshold it is not sure, lists the closest entries and offers a person."""
    service.check_question(body.question)

    def work(session: Any) -> AskAnswer:
        return service.ask(session, workspace.id, body.question, locale)

    return await in_transaction(work)
