"""REST: webhook endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from patron.web.deps import ApiWorkspaceDep, in_transaction
from patron.web.openapi import INT64_MAX, errors
from patron.webhooks import service
from patron.webhooks.schemas import WebhookCreate, WebhookCreated, WebhookRead

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=errors(401))


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=201,
    operation_id="webhooks-create",
    responses=errors(400, 422),
)
async def create_webhook(body: WebhookCreate, workspace: ApiWorkspaceDep) -> WebhookCreated:
    """Events are POSTed as JSON, signed in ``X-Patron-Signature``; the secret is in this answer only."""
    return await in_transaction(
        service.create_endpoint_read, workspace_id=workspace.id, url=str(body.url), events=list(body.events)
    )


@router.get("", response_model=list[WebhookRead], operation_id="webhooks-list")
async def list_webhooks(workspace: ApiWorkspaceDep) -> list[WebhookRead]:
    return await in_transaction(service.endpoint_reads, workspace_id=workspace.id)


@router.delete("/{endpoint_id}", status_code=204, operation_id="webhooks-delete", responses=errors(404, 422))
async def delete_webhook(
    endpoint_id: Annotated[int, Path(ge=1, le=INT64_MAX)], workspace: ApiWorkspaceDep
) -> Response:
    await in_transaction(service.delete_endpoint, workspace_id=workspace.id, endpoint_id=endpoint_id)
    return Response(status_code=204)
