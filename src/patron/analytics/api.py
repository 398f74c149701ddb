"""REST: stored CLV and churn scores (``patron clv score`` and ``patron churn score`` compute them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from patron.analytics import churn_service, service
from patron.analytics.schemas import ChurnCustomerRead, ChurnPage, ClvScorePage, ClvScoreRead
from patron.web.deps import ApiWorkspaceDep, LocaleDep, in_transaction
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


@router.get(
    "/churn/customers/{external_id}",
    response_model=ChurnCustomerRead,
    operation_id="churn-customer",
    responses=errors(404, 422),
)
async def customer_churn(
    external_id: Annotated[str, Path(examples=["C001"])], workspace: ApiWorkspaceDep, locale: LocaleDep
) -> ChurnCustomerRead:
    """A customer's churn risk, value at risk and top reasons (in the request's language), with the model
    version."""
    return await in_transaction(churn_service.customer_risk, workspace_id=workspace.id, external_id=external_id,
                                locale=locale)  # fmt: skip


@router.get("/churn/at-risk", response_model=ChurnPage, operation_id="churn-at-risk", responses=errors(422))
async def churn_at_risk(
    workspace: ApiWorkspaceDep,
    locale: LocaleDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> ChurnPage:
    """Customers by value at risk (churn risk × CLV), highest first; those without a CLV score after them."""
    return await in_transaction(churn_service.at_risk, workspace_id=workspace.id, limit=limit, offset=offset,
                                locale=locale)  # fmt: skip
