"""REST: products and workspace totals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from patron.commerce import service
from patron.commerce.schemas import ProductPage, WorkspaceTotals
from patron.web.deps import ApiWorkspaceDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["commerce"])


@router.get("/products", response_model=ProductPage, operation_id="commerce-list_products")
def list_products(
    session: SessionDep,
    workspace: ApiWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ProductPage:
    items, total = service.list_products(session, workspace_id=workspace.id, limit=limit, offset=offset)
    return ProductPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/totals", response_model=WorkspaceTotals, operation_id="commerce-totals")
def totals(session: SessionDep, workspace: ApiWorkspaceDep) -> WorkspaceTotals:
    """Row counts and revenue of the workspace (cancelled and returned orders excluded from revenue)."""
    return service.workspace_totals(session, workspace=workspace)
