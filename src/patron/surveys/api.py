"""REST: survey definitions and responses sent by integrators who run their own forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from patron.surveys import service
from patron.surveys.models import SurveyStatus
from patron.surveys.schemas import (
    BatchResult,
    EmbedSnippet,
    ResponseBatch,
    ResponseRead,
    ResponseSubmit,
    SurveyCreated,
    SurveyRead,
)
from patron.web.deps import ApiWorkspaceDep, LocaleDep, group_commit, in_group_commit, in_transaction
from patron.web.openapi import errors

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"])
SurveyKey = Annotated[str, Path(description="The survey's key", examples=["relationship_nps"])]


@router.get("", response_model=list[SurveyRead], operation_id="surveys-list", responses=errors(401))
async def list_surveys(workspace: ApiWorkspaceDep) -> list[SurveyRead]:
    return await in_transaction(service.survey_reads, workspace_id=workspace.id)


@router.get("/templates", response_model=dict[str, dict[str, Any]], operation_id="surveys-templates")
def templates() -> dict[str, dict[str, Any]]:
    """The built-in definitions to start from (post-purchase CSAT, relationship NPS, support CES, …)."""
    return {key: d.model_dump(mode="json", exclude_none=True) for key, d in service.templates().items()}


@router.post("", response_model=SurveyCreated, operation_id="surveys-save", responses=errors(400, 401, 422))
async def save_survey(
    workspace: ApiWorkspaceDep, definition: Annotated[dict[str, Any], Body()]
) -> SurveyCreated:
    """Create a survey, or store a new version of it when its key exists and the definition changed."""
    parsed = service.parse_definition(definition, "request body")
    return await in_transaction(service.save_survey_read, workspace_id=workspace.id, definition=parsed)


@router.get("/{key}", response_model=SurveyRead, operation_id="surveys-read", responses=errors(401, 404, 422))
async def read_survey(key: SurveyKey, workspace: ApiWorkspaceDep) -> SurveyRead:
    return await in_transaction(service.survey_read, workspace_id=workspace.id, key=key)


@router.get(
    "/{key}/embed",
    response_model=EmbedSnippet,
    operation_id="surveys-embed",
    responses=errors(401, 404, 409, 422),
)
async def embed_snippet(key: SurveyKey, workspace: ApiWorkspaceDep) -> EmbedSnippet:
    """The public link and an iframe snippet for a checkout thank-you page (the survey must be ``public``)."""
    return await in_transaction(service.embed_snippet, workspace=workspace, key=key)


@router.put(
    "/{key}/status",
    response_model=SurveyRead,
    operation_id="surveys-set_status",
    responses=errors(400, 401, 404, 422),
)
async def set_status(
    key: SurveyKey,
    workspace: ApiWorkspaceDep,
    status: Annotated[str, Query(max_length=16, json_schema_extra={"enum": [s.value for s in SurveyStatus]})],
) -> SurveyRead:
    return await in_transaction(service.set_status_read, workspace_id=workspace.id, key=key, status=status)


responses_router = APIRouter(prefix="/api/v1/responses", tags=["surveys"], responses=errors(401, 422))
group_commit.together(service.submit_response, service.submit_responses)


@responses_router.post(
    "", response_model=ResponseRead, operation_id="surveys-submit_response", responses=errors(400, 404, 409)
)
async def submit_response(submission: ResponseSubmit, workspace: ApiWorkspaceDep) -> ResponseRead:
    """Store one completed response. Retrying with the same ``client_key`` stores nothing new."""
    return await in_group_commit(service.submit_response, workspace_id=workspace.id, submission=submission)


@responses_router.post(
    "/batch", response_model=BatchResult, operation_id="surveys-submit_batch", responses=errors(400)
)
async def submit_batch(batch: ResponseBatch, workspace: ApiWorkspaceDep, locale: LocaleDep) -> BatchResult:
    """Up to 1,000 responses; each lands or is rejected on its own, with its reason."""
    return await in_transaction(service.submit_batch, workspace_id=workspace.id, batch=batch, locale=locale)
