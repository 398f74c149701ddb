"""REST: tracked terms, mentions per day and spikes (docs/social.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from patron.social import service
from patron.social.schemas import (
    DayFigures,
    HandleBody,
    QueueItem,
    QueuePage,
    SocialSpike,
    TermCreate,
    TermRead,
)
from patron.web.deps import ApiWorkspaceDep, in_transaction
from patron.web.openapi import INT64_MAX, errors

router = APIRouter(prefix="/api/v1/social", tags=["social"], responses=errors(401))
_DAY = r"^\d{4}-\d{2}-\d{2}$"
Since = Annotated[
    str | None,
    Query(
        pattern=_DAY, description="First day, YYYY-MM-DD (workspace calendar); default 29 days before until"
    ),
]
Until = Annotated[
    str | None, Query(pattern=_DAY, description="Last day, YYYY-MM-DD, inclusive; default yesterday")
]
Term = Annotated[
    str | None, Query(min_length=1, max_length=100, description="Only this tracked term (its text or id)")
]


@router.get("/terms", response_model=list[TermRead], operation_id="social-terms")
async def list_terms(workspace: ApiWorkspaceDep) -> list[TermRead]:
    """The tracked brand names and keywords, each with the items that mention it."""
    return await in_transaction(service.list_terms, workspace_id=workspace.id)


@router.post(
    "/terms",
    response_model=TermRead,
    status_code=201,
    operation_id="social-add_term",
    responses=errors(400, 409, 422),
)
async def add_term(workspace: ApiWorkspaceDep, body: TermCreate) -> TermRead:
    """Track a term (matched now against every stored item in its channels). The same term in the other Chinese
    script or width is the same term: 409."""
    channels = [channel.value for channel in body.channels] if body.channels else None
    return await in_transaction(service.add_term, workspace_id=workspace.id, term=body.term, kind=body.kind,
                                channels=channels, actor="api")  # fmt: skip


@router.delete(
    "/terms/{term_id}", status_code=204, operation_id="social-remove_term", responses=errors(404, 422)
)
async def remove_term(
    workspace: ApiWorkspaceDep, term_id: Annotated[int, Path(ge=1, le=INT64_MAX)]
) -> Response:
    """Stop tracking a term; its mentions go with it."""
    await in_transaction(service.remove_term, workspace_id=workspace.id, term_id=term_id)
    return Response(status_code=204)


def _term(session: Any, workspace_id: int, term: str | None) -> int | None:
    return None if term is None else service.find_term(session, workspace_id=workspace_id, term=term)


@router.get(
    "/mentions",
    response_model=list[DayFigures],
    operation_id="social-mentions",
    responses=errors(400, 404, 422),
)
async def mentions(
    workspace: ApiWorkspaceDep, since: Since = None, until: Until = None, term: Term = None
) -> list[DayFigures]:
    """Per day: items mentioning a tracked term (an item mentioning two counts once), and of those analysed the
    positive and negative shares."""

    def work(session: Any) -> list[DayFigures]:
        first, last = service.period(workspace.timezone, since, until)
        return service.daily(session, workspace_id=workspace.id, timezone=workspace.timezone, since=first,
                             until=last, term_id=_term(session, workspace.id, term))  # fmt: skip

    return await in_transaction(work)


@router.get(
    "/spikes", response_model=list[SocialSpike], operation_id="social-spikes", responses=errors(400, 404, 422)
)
async def spikes(
    workspace: ApiWorkspaceDep, since: Since = None, until: Until = None, term: Term = None
) -> list[SocialSpike]:
    """Days whose mentions, or whose negative share, spiked against the 28 days before (docs/social.md)."""

    def work(session: Any) -> list[SocialSpike]:
        first, last = service.period(workspace.timezone, since, until)
        return service.spikes(session, workspace_id=workspace.id, timezone=workspace.timezone, since=first,
                              until=last, term_id=_term(session, workspace.id, term))  # fmt: skip

    return await in_transaction(work)


ItemId = Annotated[int, Path(ge=1, le=INT64_MAX)]


@router.get("/queue", response_model=QueuePage, operation_id="social-queue", responses=errors(422))
async def reply_queue(
    workspace: ApiWorkspaceDep,
    state: Annotated[
        Literal["open", "handled", "all"], Query(description="open (default), handled or all")
    ] = "open",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> QueuePage:
    """Mentions and reviews that need a reply (negative, or a question), newest first, with where to reply and
    who handled them."""
    return await in_transaction(
        service.queue, workspace_id=workspace.id, state=state, offset=offset, limit=limit
    )


@router.post(
    "/queue/{item_id}/handle",
    response_model=QueueItem,
    operation_id="social-handle",
    responses=errors(400, 404, 409, 422),
)
async def handle(workspace: ApiWorkspaceDep, item_id: ItemId, body: HandleBody) -> QueueItem:
    """Mark an item handled (who: the API key, when: now, and a note)."""
    return await in_transaction(service.handle, workspace_id=workspace.id, item_id=item_id, actor="api",
                                note=body.note)  # fmt: skip


@router.post(
    "/queue/{item_id}/reopen",
    response_model=QueueItem,
    operation_id="social-reopen",
    responses=errors(404, 409, 422),
)
async def reopen(workspace: ApiWorkspaceDep, item_id: ItemId) -> QueueItem:
    """Put a handled item back in the open queue."""
    return await in_transaction(service.reopen, workspace_id=workspace.id, item_id=item_id, actor="api")
