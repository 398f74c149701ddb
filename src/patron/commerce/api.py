"""REST: products and workspace totals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from patron.commerce import service
from patron.commerce.schemas import ProductPage, WorkspaceTotals
from patron.web.deps import ApiWorkspaceDep, in_transaction
from patron.web.openapi import INT64_MAX, errors

router = APIRouter(prefix="/api/v1", tags=["commerce"], responses=errors(401))


@router.get(
    "/products", response_model=ProductPage, operation_id="commerce-list_products", responses=errors(422)
)
async def list_products(
    workspace: ApiWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> ProductPage:
    return await in_transaction(service.product_page, workspace_id=workspace.id, limit=limit, offset=offset)


@router.get("/totals", response_model=WorkspaceTotals, operation_id="commerce-totals")
async def totals(workspace: ApiWorkspaceDep) -> WorkspaceTotals:
    """Row counts and revenue of the workspace (cancelled and returned orders excluded from revenue)."""
    return await in_transaction(service.workspace_totals, workspace=workspace)
