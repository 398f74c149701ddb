"""REST: survey definitions and responses sent by integrators who run their own forms."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query

from patron.core.errors import PatronError
from patron.surveys import service, servqual
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
from patron.surveys.servqual import ServqualReport
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
# Without a savepoint (two round trips fewer): if the set-wise form fails, its group is run again one by one.
group_commit.together(service.submit_response, service.submit_responses, savepoint=False)


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


# ---- SERVQUAL gaps (docs/servqual.md)
servqual_router = APIRouter(prefix="/api/v1/servqual", tags=["servqual"], responses=errors(401))
_DAY = r"^\d{4}-\d{2}-\d{2}$"


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PatronError("dashboard.bad_date", field=name, value=value[:40]) from None


@servqual_router.get(
    "", response_model=ServqualReport, operation_id="servqual-gaps", responses=errors(400, 404, 422)
)
async def gaps(
    workspace: ApiWorkspaceDep,
    locale: LocaleDep,
    survey: Annotated[
        str | None, Query(max_length=64, description="Survey key [default: every SERVQUAL survey]")
    ] = None,
    by: Annotated[
        Literal["segment", "month"] | None, Query(description="Group by segment or by month (workspace zone)")
    ] = None,
    since: Annotated[
        str | None, Query(pattern=_DAY, description="First day, YYYY-MM-DD (workspace calendar)")
    ] = None,
    until: Annotated[str | None, Query(pattern=_DAY, description="Last day, YYYY-MM-DD, inclusive")] = None,
    segment: Annotated[
        str | None, Query(max_length=64, description="Only customers of this segment code")
    ] = None,
) -> ServqualReport:
    """Per dimension and item: mean expectation, mean perception and the paired gap (P − E) with its 95 % t
    interval, n and a small-sample flag; the unweighted SERVQUAL score. Without any SERVQUAL answer in the
    workspace, each dimension's theme sentiment from feedback instead (``source: theme_sentiment``)."""
    return await in_transaction(servqual.gap_report, workspace_id=workspace.id, timezone=workspace.timezone,
                                locale=locale, survey=survey, by=by, since=_day(since, "since"),
                                until=_day(until, "until"), segment=segment)  # fmt: skip
