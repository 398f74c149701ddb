"""Survey definitions and responses. Functions take a session and never commit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.i18n import normalize_locale, translate
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.surveys.answers import AnswerProblem, AnswerRow, check_answers
from patron.surveys.models import ResponseStatus, Survey, SurveyAnswer, SurveyResponse, SurveyStatus
from patron.surveys.schemas import AnswerValue, ResponseRead, ResponseSubmit, SurveyDefinition

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


class InvalidSurvey(PatronError):
    """A definition that does not validate; ``details`` lists each problem with where it is."""

    def __init__(self, source: str, details: list[dict[str, Any]]) -> None:
        summary = "; ".join(f"{d['location']}: {d['message']}" for d in details[:5])
        super().__init__("survey.invalid_definition", source=source, problems=summary)
        self.problems = details

    def details(self, locale: str | None = None) -> list[dict[str, Any]]:
        return self.problems


class InvalidAnswers(PatronError):
    def __init__(self, problems: list[AnswerProblem]) -> None:
        first = problems[0]
        super().__init__("survey.invalid_answers", question=first.question, count=len(problems))
        self.problems = problems

    def details(self, locale: str | None = None) -> list[dict[str, Any]]:
        return [
            {"question": p.question, "code": p.code, "message": translate(p.code, locale, **p.params)}
            for p in self.problems
        ]


def parse_definition(document: Any, source: str = "definition") -> SurveyDefinition:
    try:
        return SurveyDefinition.model_validate(document)
    except ValidationError as exc:
        details = [
            {
                "location": ".".join(str(p) for p in e["loc"]) or "(top)",
                "message": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        raise InvalidSurvey(source, details) from None


def load_definition_file(path: Path) -> SurveyDefinition:
    """A YAML or JSON file (chosen by extension), read as UTF-8 with or without BOM."""
    if not path.is_file():
        raise PatronError("import.file_not_found", file=str(path))
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PatronError("survey.not_utf8", file=str(path)) from None
    try:
        document = json.loads(raw) if path.suffix.lower() == ".json" else yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PatronError("survey.unreadable", file=str(path), reason=str(exc).splitlines()[0]) from None
    return parse_definition(document, str(path))


def templates() -> dict[str, SurveyDefinition]:
    """The built-in templates a manager can start from, by key."""
    return {path.stem: load_definition_file(path) for path in sorted(TEMPLATE_DIR.glob("*.yaml"))}


def save_survey(session: Session, *, workspace_id: int, definition: SurveyDefinition) -> tuple[Survey, bool]:
    """Create the survey, or store a new version when the definition changed. Returns (survey, changed)."""
    document = definition.model_dump(mode="json", exclude_none=True)
    survey = session.scalar(scoped(Survey, workspace_id, Survey.key == definition.key))
    if survey is None:
        survey = Survey(
            workspace_id=workspace_id, key=definition.key, version=1, status=SurveyStatus.ACTIVE.value,
            kind=definition.kind.value, touchpoint=definition.touchpoint.value, channel=definition.channel.value,
            definition=document,
        )  # fmt: skip
        session.add(survey)
        session.flush()
        return survey, True
    if survey.definition == document:
        return survey, False
    survey.version += 1
    survey.definition = document
    survey.kind, survey.touchpoint, survey.channel = (
        definition.kind.value,
        definition.touchpoint.value,
        definition.channel.value,
    )
    session.flush()
    return survey, True


def get_survey(session: Session, *, workspace_id: int, key: str) -> Survey:
    survey = session.scalar(scoped(Survey, workspace_id, Survey.key == key))
    if survey is None:
        raise NotFound("survey.not_found", key=key)
    return survey


def list_surveys(session: Session, *, workspace_id: int) -> list[Survey]:
    return list(session.scalars(scoped(Survey, workspace_id).order_by(Survey.key)))


def set_status(session: Session, *, workspace_id: int, key: str, status: str) -> Survey:
    if status not in {s.value for s in SurveyStatus}:
        raise PatronError("survey.bad_status", value=status, choices=", ".join(s.value for s in SurveyStatus))
    survey = get_survey(session, workspace_id=workspace_id, key=key)
    survey.status = status
    return survey


def definition_of(survey: Survey) -> SurveyDefinition:
    return SurveyDefinition.model_validate(survey.definition)


@dataclass
class StoredResponse:
    response: SurveyResponse
    duplicate: bool


def answers_of(session: Session, response_id: int) -> dict[str, AnswerValue]:
    answers: dict[str, AnswerValue] = {}
    servqual: dict[str, dict[str, dict[str, int]]] = {}
    for row in session.scalars(
        select(SurveyAnswer).where(SurveyAnswer.response_id == response_id).order_by(SurveyAnswer.id)
    ):
        if row.question_type == "servqual":
            servqual.setdefault(row.question_key, {})[row.item_key] = {
                "expectation": row.expected_score or 0, "perception": row.score or 0,
            }  # fmt: skip
        elif row.choices is not None:
            answers[row.question_key] = (
                row.choices if row.question_type == "multiple_choice" else row.choices[0]
            )
        elif row.text is not None:
            answers[row.question_key] = row.text
        else:
            answers[row.question_key] = row.score
    answers.update(servqual)
    return answers


def response_read(session: Session, stored: StoredResponse, survey_key: str) -> ResponseRead:
    response = stored.response
    customer_external_id = None
    if response.customer_id is not None:
        customer_external_id = session.scalar(
            select(Customer.external_id).where(Customer.id == response.customer_id)
        )
    return ResponseRead(
        id=response.id, survey=survey_key, survey_version=response.survey_version,
        customer_id=customer_external_id, client_key=response.client_key, status=response.status,
        locale=response.locale, touchpoint=response.touchpoint, channel=response.channel,
        completed_at=response.completed_at, answers=answers_of(session, response.id), duplicate=stored.duplicate,
    )  # fmt: skip


def submit_response(session: Session, *, workspace_id: int, submission: ResponseSubmit) -> StoredResponse:
    """Store one completed response, all its answers or none. A ``client_key`` seen before returns the stored
    response untouched (a retry, a double tap); the same key with different answers is a conflict."""
    survey = get_survey(session, workspace_id=workspace_id, key=submission.survey)
    if survey.status != SurveyStatus.ACTIVE.value:
        raise Conflict("survey.closed", key=survey.key)
    if submission.client_key:
        existing = session.scalar(
            scoped(SurveyResponse, workspace_id, SurveyResponse.client_key == submission.client_key)
        )
        if existing is not None:
            return _same_or_conflict(session, existing, submission)
    definition = definition_of(survey)
    rows, problems = check_answers(definition, dict(submission.answers))
    if problems:
        raise InvalidAnswers(problems)
    customer_id = None
    if submission.customer_id:
        customer_id = session.scalar(
            select(Customer.id).where(
                Customer.workspace_id == workspace_id, Customer.external_id == submission.customer_id
            )
        )
        if customer_id is None:
            raise NotFound("customer.not_found", external_id=submission.customer_id)
    now = utcnow()
    response = SurveyResponse(
        workspace_id=workspace_id, survey_id=survey.id, survey_version=survey.version, customer_id=customer_id,
        client_key=submission.client_key, touchpoint=(submission.touchpoint or definition.touchpoint).value,
        channel=(submission.channel or definition.channel).value,
        locale=normalize_locale(submission.locale) or "zh-Hant", order_external_id=submission.order_id,
        status=ResponseStatus.COMPLETED.value, started_at=now, completed_at=now,
        publish_consent=submission.publish_consent,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(response)
            session.flush()
    except IntegrityError:
        # Two concurrent retries with one client key: the other one won; answer as a duplicate.
        existing = session.scalar(
            scoped(SurveyResponse, workspace_id, SurveyResponse.client_key == submission.client_key)
        )
        if existing is None:
            raise
        return _same_or_conflict(session, existing, submission)
    session.add_all(answer_rows(response, rows))
    session.flush()
    return StoredResponse(response, duplicate=False)


def answer_rows(response: SurveyResponse, rows: list[AnswerRow]) -> list[SurveyAnswer]:
    return [
        SurveyAnswer(
            workspace_id=response.workspace_id,
            response_id=response.id,
            survey_id=response.survey_id,
            question_key=row.question_key,
            question_type=row.question_type,
            item_key=row.item_key,
            score=row.score,
            expected_score=row.expected_score,
            choices=row.choices,
            text=row.text,
        )
        for row in rows
    ]


def _same_or_conflict(
    session: Session, existing: SurveyResponse, submission: ResponseSubmit
) -> StoredResponse:
    stored = answers_of(session, existing.id)
    sent = {
        k: (v.strip() if isinstance(v, str) else v)
        for k, v in submission.answers.items()
        if v not in (None, "", [], {})
    }
    if stored != sent:
        raise Conflict("survey.client_key_reused", client_key=submission.client_key)
    return StoredResponse(existing, duplicate=True)
