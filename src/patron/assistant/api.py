"""REST: ``POST /api/v1/assistant/ask`` for other channels (a LINE or Messenger bot, a shop's own page)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from patron.assistant import service
from patron.assistant.schemas import AskAnswer, AskRequest
from patron.core.db import get_read_engine, session_factory
from patron.web.deps import ApiWorkspaceDep, LocaleDep
from patron.web.openapi import errors

router = APIRouter(prefix="/api/v1/assistant", tags=["assistant"])


@router.post("/ask", response_model=AskAnswer, operation_id="assistant-ask", responses=errors(401, 422))
async def ask(workspace: ApiWorkspaceDep, body: AskRequest, locale: LocaleDep) -> AskAnswer:
    """The answer from the workspace's knowledge base, its source entry, a confidence and up to three related
    entries; below the threshold it is not sure, lists the closest entries and offers a person."""
    service.check_question(body.question)

    def work() -> AskAnswer:
        # Only reads: on SQLite a snapshot outside the writer queue, so a rebuild of the index after a change of
        # the knowledge base never holds writers back (ARCHITECTURE.md, read sessions).
        with session_factory(get_read_engine())() as session, session.begin():
            return service.ask(session, workspace.id, body.question, locale)

    return await run_in_threadpool(work)
