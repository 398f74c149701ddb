"""REST: stored CLV scores (``patron clv score`` computes them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from patron.analytics import service
from patron.analytics.schemas import ClvScorePage, ClvScoreRead
from patron.web.deps import ApiWorkspaceDep, in_transaction
from patron.web.openapi import INT64_MAX, errors

router = APIRouter(prefix="/api/v1", tags=["clv"], responses=errors(401))


@router.get(
    "/customers/{external_id}/clv",
    response_model=ClvScoreRead,
    operation_id="clv-customer",
    responses=errors(404, 422),
)
async def customer_clv(
    external_id: Annotated[str, Path(examples=["C001"])], workspace: ApiWorkspaceDep
) -> ClvScoreRead:
    """A customer's probability alive, expected purchases and spend, and CLV, with the model version."""
    return await in_transaction(service.customer_score, workspace_id=workspace.id, external_id=external_id)


@router.get("/clv/scores", response_model=ClvScorePage, operation_id="clv-scores", responses=errors(422))
async def clv_scores(
    workspace: ApiWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> ClvScorePage:
    """Customers by CLV, highest first."""
    return await in_transaction(service.score_page, workspace_id=workspace.id, limit=limit, offset=offset)
