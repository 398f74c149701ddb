"""REST: survey definitions and responses sent by integrators who run their own forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from patron.core.errors import PatronError
from patron.core.i18n import translate
from patron.surveys import service
from patron.surveys.schemas import (
    BatchItemResult,
    BatchResult,
    ResponseBatch,
    ResponseRead,
    ResponseSubmit,
    SurveyCreated,
    SurveyRead,
)
from patron.web.deps import ApiWorkspaceDep, LocaleDep, SessionDep

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"])


@router.get("", response_model=list[SurveyRead], operation_id="surveys-list")
def list_surveys(session: SessionDep, workspace: ApiWorkspaceDep) -> list[SurveyRead]:
    return [SurveyRead.model_validate(s) for s in service.list_surveys(session, workspace_id=workspace.id)]


@router.get("/templates", response_model=dict[str, dict[str, Any]], operation_id="surveys-templates")
def templates() -> dict[str, dict[str, Any]]:
    """The built-in definitions to start from (post-purchase CSAT, relationship NPS, support CES, …)."""
    return {key: d.model_dump(mode="json", exclude_none=True) for key, d in service.templates().items()}


@router.post("", response_model=SurveyCreated, operation_id="surveys-save")
def save_survey(
    session: SessionDep, workspace: ApiWorkspaceDep, definition: Annotated[dict[str, Any], Body()]
) -> SurveyCreated:
    """Create a survey, or store a new version of it when its key exists and the definition changed."""
    parsed = service.parse_definition(definition, "request body")
    survey, _ = service.save_survey(session, workspace_id=workspace.id, definition=parsed)
    return SurveyCreated(survey=SurveyRead.model_validate(survey), warnings=parsed.missing_languages())


@router.get("/{key}", response_model=SurveyRead, operation_id="surveys-read")
def read_survey(key: str, session: SessionDep, workspace: ApiWorkspaceDep) -> SurveyRead:
    return SurveyRead.model_validate(service.get_survey(session, workspace_id=workspace.id, key=key))


@router.put("/{key}/status", response_model=SurveyRead, operation_id="surveys-set_status")
def set_status(
    key: str, session: SessionDep, workspace: ApiWorkspaceDep, status: Annotated[str, Query(max_length=16)]
) -> SurveyRead:
    return SurveyRead.model_validate(
        service.set_status(session, workspace_id=workspace.id, key=key, status=status)
    )


responses_router = APIRouter(prefix="/api/v1/responses", tags=["surveys"])


@responses_router.post("", response_model=ResponseRead, operation_id="surveys-submit_response")
def submit_response(
    submission: ResponseSubmit, session: SessionDep, workspace: ApiWorkspaceDep
) -> ResponseRead:
    """Store one completed response. Retrying with the same ``client_key`` stores nothing new."""
    stored = service.submit_response(session, workspace_id=workspace.id, submission=submission)
    return service.response_read(session, stored, submission.survey)


@responses_router.post("/batch", response_model=BatchResult, operation_id="surveys-submit_batch")
def submit_batch(
    batch: ResponseBatch, session: SessionDep, workspace: ApiWorkspaceDep, locale: LocaleDep
) -> BatchResult:
    """Up to 1,000 responses; each lands or is rejected on its own, with its reason."""
    results: list[BatchItemResult] = []
    for index, submission in enumerate(batch.responses):
        try:
            with session.begin_nested():
                stored = service.submit_response(session, workspace_id=workspace.id, submission=submission)
            results.append(
                BatchItemResult(
                    index=index, response=service.response_read(session, stored, submission.survey)
                )
            )
        except PatronError as error:
            results.append(BatchItemResult(index=index, error={
                "code": error.code, "message": translate(error.code, locale, **error.params), "details": error.details(locale),
            }))  # fmt: skip
    stored_count = sum(1 for r in results if r.response and not r.response.duplicate)
    duplicates = sum(1 for r in results if r.response and r.response.duplicate)
    return BatchResult(
        stored=stored_count,
        duplicates=duplicates,
        rejected=len(results) - stored_count - duplicates,
        results=results,
    )
