"""REST: customers and their 360° story."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from patron.customers import erasure, service
from patron.customers.schemas import (
    CustomerPage,
    CustomerStory,
    ErasureRead,
    SegmentLabelsUpdate,
    SegmentRead,
)
from patron.web.deps import ApiWorkspaceDep, in_transaction
from patron.web.openapi import INT64_MAX, errors

router = APIRouter(prefix="/api/v1/customers", tags=["customers"], responses=errors(401))
segments_router = APIRouter(prefix="/api/v1/segments", tags=["customers"], responses=errors(401))


@router.get("", response_model=CustomerPage, operation_id="customers-list", responses=errors(422))
async def list_customers(
    workspace: ApiWorkspaceDep,
    q: Annotated[str | None, Query(max_length=200, description="Matches id, name or email")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> CustomerPage:
    return await in_transaction(
        service.customer_page, workspace_id=workspace.id, query=q, limit=limit, offset=offset
    )


@router.get(
    "/{external_id}", response_model=CustomerStory, operation_id="customers-story", responses=errors(404, 422)
)
async def customer_story(
    external_id: Annotated[str, Path(examples=["C001"])], workspace: ApiWorkspaceDep
) -> CustomerStory:
    """Profile, orders with lines (newest first) and the interaction timeline across channels."""
    return await in_transaction(service.customer_story, workspace=workspace, external_id=external_id)


@router.delete(
    "/{external_id}", response_model=ErasureRead, operation_id="customers-erase", responses=errors(404, 422)
)
async def erase_customer(
    external_id: Annotated[str, Path(examples=["C404"])], workspace: ApiWorkspaceDep
) -> ErasureRead:
    """Erase the customer (right to erasure): their comments, feedback, hand-overs, invitations and scores are
    deleted; orders and the loyalty ledger stay, detached from the person (docs/privacy.md). An erased customer
    is not found again."""
    return await in_transaction(
        erasure.erase_customer, workspace_id=workspace.id, external_id=external_id, actor="api key"
    )


@segments_router.get("", response_model=list[SegmentRead], operation_id="customers-segments")
async def list_segments(workspace: ApiWorkspaceDep) -> list[SegmentRead]:
    """The customer segments with their names in each language."""
    return await in_transaction(service.segment_list, workspace_id=workspace.id)


@segments_router.put(
    "/labels",
    response_model=list[SegmentRead],
    operation_id="customers-segment-labels",
    responses=errors(400, 422),
)
async def set_segment_labels(body: SegmentLabelsUpdate, workspace: ApiWorkspaceDep) -> list[SegmentRead]:
    """Name the segments in each language; all names are replaced at once, or none on a bad one."""

    def work(session: Session) -> list[SegmentRead]:
        service.set_segment_labels(session, workspace_id=workspace.id, labels=body.labels)
        return service.segment_list(session, workspace_id=workspace.id)

    return await in_transaction(work)
