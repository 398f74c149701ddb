"""REST: customers and their 360° story."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from patron.customers import service
from patron.customers.schemas import CustomerPage, CustomerRead, CustomerStory
from patron.web.deps import ApiWorkspaceDep, SessionDep

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.get("", response_model=CustomerPage, operation_id="customers-list")
def list_customers(
    session: SessionDep,
    workspace: ApiWorkspaceDep,
    q: Annotated[str | None, Query(max_length=200, description="Matches id, name or email")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CustomerPage:
    rows, total = service.search_customers(
        session, workspace_id=workspace.id, query=q, limit=limit, offset=offset
    )
    return CustomerPage(
        items=[CustomerRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{external_id}", response_model=CustomerStory, operation_id="customers-story")
def customer_story(external_id: str, session: SessionDep, workspace: ApiWorkspaceDep) -> CustomerStory:
    """Profile, orders with lines (newest first) and the interaction timeline across channels."""
    return service.customer_story(session, workspace=workspace, external_id=external_id)
