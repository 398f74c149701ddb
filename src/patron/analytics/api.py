"""REST: stored CLV scores (``patron clv score`` computes them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from patron.analytics import service
from patron.analytics.schemas import ClvScorePage, ClvScoreRead
from patron.web.deps import ApiWorkspaceDep, in_transaction

router = APIRouter(prefix="/api/v1", tags=["clv"])


@router.get("/customers/{external_id}/clv", response_model=ClvScoreRead, operation_id="clv-customer")
async def customer_clv(external_id: str, workspace: ApiWorkspaceDep) -> ClvScoreRead:
    """A customer's probability alive, expected purchases and spend, and CLV, with the model version."""
    return await in_transaction(service.customer_score, workspace_id=workspace.id, external_id=external_id)


@router.get("/clv/scores", response_model=ClvScorePage, operation_id="clv-scores")
async def clv_scores(
    workspace: ApiWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ClvScorePage:
    """Customers by CLV, highest first."""
    return await in_transaction(service.score_page, workspace_id=workspace.id, limit=limit, offset=offset)
