"""REST: customers and their 360° story."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from patron.customers import service
from patron.customers.schemas import CustomerPage, CustomerStory
from patron.web.deps import ApiWorkspaceDep, in_transaction

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.get("", response_model=CustomerPage, operation_id="customers-list")
async def list_customers(
    workspace: ApiWorkspaceDep,
    q: Annotated[str | None, Query(max_length=200, description="Matches id, name or email")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CustomerPage:
    return await in_transaction(
        service.customer_page, workspace_id=workspace.id, query=q, limit=limit, offset=offset
    )


@router.get("/{external_id}", response_model=CustomerStory, operation_id="customers-story")
async def customer_story(external_id: str, workspace: ApiWorkspaceDep) -> CustomerStory:
    """Profile, orders with lines (newest first) and the interaction timeline across channels."""
    return await in_transaction(service.customer_story, workspace=workspace, external_id=external_id)
