"""Survey definitions and responses. Functions take a session and never commit."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml
from psycopg.types.json import Json
from pydantic import ValidationError
from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from patron.core import validation
from patron.core.clock import utcnow
from patron.core.db import pipeline_insert, pipelined
from patron.core.documents import read_document
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.i18n import normalize_locale, translate
from patron.core.models import Workspace
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.feedback import service as feedback
from patron.surveys.answers import AnswerProblem, AnswerRow, check_answers
from patron.surveys.models import ResponseStatus, Survey, SurveyAnswer, SurveyResponse, SurveyStatus
from patron.surveys.schemas import (
    AnswerValue,
    BatchItemResult,
    BatchResult,
    EmbedSnippet,
    ResponseBatch,
    ResponseRead,
    ResponseSubmit,
    SurveyCreated,
    SurveyDefinition,
    SurveyRead,
)
from patron.webhooks import service as webhooks

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


class InvalidSurvey(PatronError):
    """A definition that does not validate; ``details`` lists each problem with where it is, in the reader's
    language (``questions[2].scale``: must be 5 or 10)."""

    def __init__(self, source: str, problems: list[validation.Problem]) -> None:
        super().__init__("survey.invalid_definition", source=source)
        self.problems = problems

    def message(self, locale: str | None = None) -> str:
        return translate(self.code, locale, **self.params, problems=validation.summary(self.problems, locale))

    def details(self, locale: str | None = None) -> list[dict[str, Any]]:
        return [{"location": p.path, "message": p.message(locale), "type": p.code} for p in self.problems]


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
        raise InvalidSurvey(source, validation.problems(exc, document)) from None


def load_definition_file(path: Path) -> SurveyDefinition:
    """A YAML or JSON file (chosen by extension), read as UTF-8 with or without BOM."""
    if not path.is_file():
        raise PatronError("import.file_not_found", file=str(path))
    try:
        raw = read_document(path)
    except UnicodeDecodeError:
        raise PatronError("survey.not_utf8", file=str(path)) from None
    try:
        document = json.loads(raw) if path.suffix.lower() == ".json" else yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PatronError("survey.unreadable", file=str(path), reason=str(exc).splitlines()[0]) from None
    return parse_definition(document, str(path))


@cache
def _templates() -> tuple[tuple[str, SurveyDefinition], ...]:
    return tuple((path.stem, load_definition_file(path)) for path in sorted(TEMPLATE_DIR.glob("*.yaml")))


def templates() -> dict[str, SurveyDefinition]:
    """The built-in templates a manager can start from, by key (read from the package once per process)."""
    return {key: definition.model_copy(deep=True) for key, definition in _templates()}


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
        raise PatronError("survey.bad_status", value=status, choices=[s.value for s in SurveyStatus])
    survey = get_survey(session, workspace_id=workspace_id, key=key)
    survey.status = status
    return survey


_parsed: dict[tuple[int, int, int], SurveyDefinition] = {}
_PARSED_LIMIT = 512


def _parsed_definition(
    session: Session, survey_id: int, version: int, load: Callable[[], Any]
) -> SurveyDefinition:
    """Validated definitions, kept per database, survey and version: a version's definition never changes.
    The database is part of the key because one process may serve several (the tests use two at once)."""
    key = (id(session.get_bind()), survey_id, version)
    definition = _parsed.get(key)
    if definition is None:
        definition = SurveyDefinition.model_validate(load())
        if len(_parsed) >= _PARSED_LIMIT:
            _parsed.clear()
        _parsed[key] = definition
    return definition


def definition_of(survey: Survey) -> SurveyDefinition:
    session = object_session(survey)
    if session is None:
        return SurveyDefinition.model_validate(survey.definition)
    return _parsed_definition(session, survey.id, survey.version, lambda: survey.definition)


def answers_of(session: Session, response_id: int) -> dict[str, AnswerValue]:
    rows = session.scalars(
        select(SurveyAnswer).where(SurveyAnswer.response_id == response_id).order_by(SurveyAnswer.id)
    )
    return stored_shape(
        [
            AnswerRow(
                r.question_key, r.question_type, r.item_key, r.score, r.expected_score, r.choices, r.text
            )
            for r in rows
        ]
    )


def stored_shape(rows: list[AnswerRow]) -> dict[str, AnswerValue]:
    """Answers in the shape they were sent (trimmed text, a single choice as a string)."""
    answers: dict[str, AnswerValue] = {}
    servqual: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
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


@dataclass(frozen=True)
class SurveyHead:
    """What answering needs of a survey: read with one light query, its parsed definition from a cache."""

    id: int
    key: str
    version: int
    status: str
    definition: SurveyDefinition


# Statements of the response hot path, built once: building them per request cost more than running them.
_HEAD = select(Survey.id, Survey.version, Survey.status).where(
    Survey.workspace_id == bindparam("workspace_id"), Survey.key == bindparam("key")
)
_CUSTOMER_ID = select(Customer.id).where(
    Customer.workspace_id == bindparam("workspace_id"), Customer.external_id == bindparam("external_id")
)
_RESPONSE_BY_KEY = select(SurveyResponse.id).where(
    SurveyResponse.workspace_id == bindparam("workspace_id"),
    SurveyResponse.client_key == bindparam("client_key"),
)
_ANSWERS_INSERT = cast(Table, SurveyAnswer.__table__).insert()
_RESPONSE_IDS_BY_KEY = select(SurveyResponse.client_key, SurveyResponse.id).where(
    SurveyResponse.workspace_id == bindparam("workspace_id"),
    SurveyResponse.client_key.in_(bindparam("keys", expanding=True)),
)
_CUSTOMER_IDS_BY_KEY = select(Customer.external_id, Customer.id).where(
    Customer.workspace_id == bindparam("workspace_id"),
    Customer.external_id.in_(bindparam("keys", expanding=True)),
)


@cache
def _response_insert(dialect: str, idempotent: bool) -> Any:
    """INSERT … [ON CONFLICT (workspace_id, client_key) DO NOTHING] RETURNING id, for this backend."""
    table = cast(Table, SurveyResponse.__table__)
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    if idempotent:
        statement = statement.on_conflict_do_nothing(index_elements=["workspace_id", "client_key"])
    return statement.returning(table.c.id)


def survey_head(session: Session, *, workspace_id: int, key: str) -> SurveyHead:
    """Read once per transaction: a group commit writes many responses to the same survey in one."""
    heads: dict[tuple[int, str], SurveyHead] = session.info.setdefault("survey_heads", {})
    known = heads.get((workspace_id, key))
    if known is not None:
        return known
    row = session.connection().execute(_HEAD, {"workspace_id": workspace_id, "key": key}).one_or_none()
    if row is None:
        raise NotFound("survey.not_found", key=key)
    survey_id, version, status = row
    return _remember_head(session, workspace_id, key, survey_id, version, status)


def _remember_head(
    session: Session, workspace_id: int, key: str, survey_id: int, version: int, status: str
) -> SurveyHead:
    definition = _parsed_definition(
        session,
        survey_id,
        version,
        lambda: session.scalar(select(Survey.definition).where(Survey.id == survey_id)),
    )
    head = session.info.setdefault("survey_heads", {})[(workspace_id, key)] = SurveyHead(
        survey_id, key, version, status, definition
    )
    return head


def _read_existing(
    session: Session, response: SurveyResponse, survey_key: str, duplicate: bool
) -> ResponseRead:
    customer_external_id = None
    if response.customer_id is not None:
        customer_external_id = session.scalar(
            select(Customer.external_id).where(Customer.id == response.customer_id)
        )
    return ResponseRead(
        id=response.id, survey=survey_key, survey_version=response.survey_version,
        customer_id=customer_external_id, client_key=response.client_key, status=response.status,
        locale=response.locale, touchpoint=response.touchpoint, channel=response.channel,
        completed_at=response.completed_at, answers=answers_of(session, response.id), duplicate=duplicate,
    )  # fmt: skip


@dataclass
class _Accepted:
    """A response that passed every check, ready to be written."""

    workspace_id: int
    submission: ResponseSubmit
    head: SurveyHead
    rows: list[AnswerRow]
    customer_id: int | None = None


def _open_head(session: Session, workspace_id: int, submission: ResponseSubmit) -> SurveyHead:
    head = survey_head(session, workspace_id=workspace_id, key=submission.survey)
    if head.status != SurveyStatus.ACTIVE.value:
        raise Conflict("survey.closed", key=head.key)
    return head


def _accepted(workspace_id: int, submission: ResponseSubmit, head: SurveyHead) -> _Accepted:
    rows, problems = check_answers(head.definition, dict(submission.answers))
    if problems:
        raise InvalidAnswers(problems)
    return _Accepted(workspace_id, submission, head, rows)


def _response_values(accepted: _Accepted, now: datetime) -> dict[str, Any]:
    submission, definition = accepted.submission, accepted.head.definition
    return {
        "workspace_id": accepted.workspace_id, "survey_id": accepted.head.id, "survey_version": accepted.head.version,
        "customer_id": accepted.customer_id, "client_key": submission.client_key,
        "touchpoint": (submission.touchpoint or definition.touchpoint).value,
        "channel": (submission.channel or definition.channel).value,
        "locale": normalize_locale(submission.locale) or "zh-Hant", "order_external_id": submission.order_id,
        "status": ResponseStatus.COMPLETED.value, "started_at": now, "completed_at": now, "created_at": now,
        "updated_at": now, "publish_consent": submission.publish_consent,
        "publish_as": submission.publish_as if submission.publish_consent else "anonymous",
    }  # fmt: skip


def _stored(
    session: Session, accepted: _Accepted, response_id: int, values: dict[str, Any], comments: bool = True
) -> ResponseRead:
    """The reply, built from what was checked rather than read back, and its webhook queued (and its comments
    stored as analysed feedback items unless ``comments`` is false)."""
    read = ResponseRead(
        id=response_id, survey=accepted.head.key, survey_version=accepted.head.version,
        customer_id=accepted.submission.customer_id, client_key=accepted.submission.client_key,
        status=ResponseStatus.COMPLETED.value, locale=values["locale"], touchpoint=values["touchpoint"],
        channel=values["channel"], completed_at=values["completed_at"], answers=stored_shape(accepted.rows),
        duplicate=False,
    )  # fmt: skip
    announce_completed(
        session,
        workspace_id=accepted.workspace_id,
        response=read,
        now=values["completed_at"],
        comments=comments,
    )
    return read


def submit_response(session: Session, *, workspace_id: int, submission: ResponseSubmit) -> ResponseRead:
    """Store one completed response, all its answers or none. A ``client_key`` seen before returns the stored
    response untouched (a retry, a double tap); the same key with different answers is a conflict.

    Written for throughput (integrators post thousands a minute): one light survey query with a cached
    definition, one customer look-up, one INSERT … ON CONFLICT DO NOTHING RETURNING, one multi-row insert of
    the answers; the reply is built from what was checked, not read back. Statements go to the session's
    connection: through the ORM's execute path the same statements took about twice the time (py-spy)."""
    head = _open_head(session, workspace_id, submission)
    connection = session.connection()
    if submission.client_key:
        existing_id = connection.scalar(
            _RESPONSE_BY_KEY, {"workspace_id": workspace_id, "client_key": submission.client_key}
        )
        if existing_id is not None:
            return _same_or_conflict(
                session, session.get_one(SurveyResponse, existing_id), submission, head.key
            )
    accepted = _accepted(workspace_id, submission, head)
    if submission.customer_id:
        accepted.customer_id = connection.scalar(
            _CUSTOMER_ID, {"workspace_id": workspace_id, "external_id": submission.customer_id}
        )
        if accepted.customer_id is None:
            raise NotFound("customer.not_found", external_id=submission.customer_id)
    values = _response_values(accepted, utcnow())
    statement = _response_insert(connection.dialect.name, bool(submission.client_key))
    response_id = connection.scalar(statement, values)
    if response_id is None:  # a concurrent retry with the same key got there first
        existing = session.scalars(
            scoped(SurveyResponse, workspace_id, SurveyResponse.client_key == submission.client_key)
        ).one()
        return _same_or_conflict(session, existing, submission, head.key)
    if accepted.rows:
        connection.execute(
            _ANSWERS_INSERT, [answer_values(workspace_id, head.id, response_id, row) for row in accepted.rows]
        )
    return _stored(session, accepted, response_id, values)


_RESPONSES_INSERT = (
    cast(Table, SurveyResponse.__table__)
    .insert()
    .returning(cast(Table, SurveyResponse.__table__).c.id, sort_by_parameter_order=True)
)


def submit_responses(session: Session, requests: list[dict[str, Any]]) -> list[ResponseRead | PatronError]:
    """Many ``submit_response(session, **request)`` at once, set-wise: one query for the client keys stored
    before, one per workspace for the customers, one multi-row insert of the responses and one of all their
    answers, however many there are. Each outcome (the reply, or the error it raises) is what
    ``submit_response`` gives called one at a time in order (tested); a key stored before, or used earlier in
    the same call, goes through ``submit_response`` itself. Five statements per response were what held
    PostgreSQL's ingest back (docs/benchmarks.md)."""
    outcomes: dict[int, ResponseRead | PatronError] = {}
    connection = session.connection()
    ahead = _read_ahead(session, requests) if connection.dialect.name == "postgresql" else None
    opened: list[tuple[int, int, ResponseSubmit, SurveyHead]] = []
    for index, request in enumerate(requests):
        workspace_id, submission = request["workspace_id"], request["submission"]
        try:
            opened.append((index, workspace_id, submission, _open_head(session, workspace_id, submission)))
        except PatronError as error:
            outcomes[index] = error
    stored_before = (
        ahead.stored_before
        if ahead
        else _ids_by_key(
            connection, _RESPONSE_IDS_BY_KEY, {(w, s.client_key) for _, w, s, _ in opened if s.client_key}
        )
    )
    one_by_one: list[int] = []
    keys_in_call: set[tuple[int, str]] = set()
    fresh: list[tuple[int, _Accepted]] = []
    for index, workspace_id, submission, head in opened:
        if submission.client_key:
            key = (workspace_id, submission.client_key)
            if key in stored_before or key in keys_in_call:
                one_by_one.append(index)
                continue
            keys_in_call.add(key)
        try:
            fresh.append((index, _accepted(workspace_id, submission, head)))
        except PatronError as error:
            outcomes[index] = error
    customer_ids = (
        ahead.customer_ids
        if ahead
        else _ids_by_key(
            connection,
            _CUSTOMER_IDS_BY_KEY,
            {(a.workspace_id, a.submission.customer_id) for _, a in fresh if a.submission.customer_id},
        )
    )
    writable: list[tuple[int, _Accepted]] = []
    for index, accepted in fresh:
        reference = accepted.submission.customer_id
        if reference:
            accepted.customer_id = customer_ids.get((accepted.workspace_id, reference))
            if accepted.customer_id is None:
                outcomes[index] = NotFound("customer.not_found", external_id=reference)
                continue
        writable.append((index, accepted))
    if writable:
        now = utcnow()
        values = [_response_values(accepted, now) for _, accepted in writable]
        if ahead:
            response_ids = ahead.response_ids[: len(values)]
        else:
            response_ids = list(connection.scalars(_RESPONSES_INSERT, values))
        answers = [
            answer_values(accepted.workspace_id, accepted.head.id, response_id, row)
            for (_, accepted), response_id in zip(writable, response_ids, strict=True)
            for row in accepted.rows
        ]
        if ahead:
            _write_postgresql(connection, values, response_ids, answers)
        elif answers:
            connection.execute(_ANSWERS_INSERT, answers)
        completed: list[feedback.CompletedResponse] = []
        for (index, accepted), response_id, row_values in zip(writable, response_ids, values, strict=True):
            read = _stored(session, accepted, response_id, row_values, comments=False)
            outcomes[index] = read
            if (
                with_comments := _with_comments(accepted.workspace_id, read, row_values["completed_at"])
            ) is not None:
                completed.append(with_comments)
        # The group's comments as analysed feedback items, once the group is committed and answered.
        feedback.comments_arrived(session, completed)
    outcomes.update(
        zip(one_by_one, _one_by_one(session, [requests[index] for index in one_by_one]), strict=True)
    )
    return [outcomes[index] for index in range(len(requests))]


@dataclass
class _ReadAhead:
    stored_before: dict[tuple[int, str], int]
    customer_ids: dict[tuple[int, str], int]
    response_ids: list[int]


#: What a group of responses reads on PostgreSQL, sent in one round trip (``pipelined``): the surveys, the client
#: keys stored before, the customers and an id for each response. Each selects a superset (every workspace ×
#: every key of the group); only the pairs asked for are used.
_PG_HEADS = (
    "SELECT workspace_id, key, id, version, status FROM surveys "
    "WHERE workspace_id = ANY(%(workspaces)s) AND key = ANY(%(surveys)s)"
)
_PG_KEYS = (
    "SELECT workspace_id, client_key, id FROM survey_responses "
    "WHERE workspace_id = ANY(%(workspaces)s) AND client_key = ANY(%(keys)s)"
)
_PG_CUSTOMERS = (
    "SELECT workspace_id, external_id, id FROM customers "
    "WHERE workspace_id = ANY(%(workspaces)s) AND external_id = ANY(%(customers)s)"
)
_PG_RESPONSE_IDS = (
    "SELECT nextval(pg_get_serial_sequence('survey_responses', 'id')) FROM generate_series(1, %(n)s)"
)
_RESPONSE_COLUMNS = ("id", "workspace_id", "survey_id", "survey_version", "customer_id", "client_key",
                     "touchpoint", "channel", "locale", "order_external_id", "status", "started_at",
                     "completed_at", "created_at", "updated_at", "publish_consent", "publish_as")  # fmt: skip
_ANSWER_COLUMNS = ("workspace_id", "response_id", "survey_id", "question_key", "question_type", "item_key",
                   "score", "expected_score", "choices", "text", "scale_min", "scale_max")  # fmt: skip
_PG_INSERT_RESPONSES = pipeline_insert("survey_responses", _RESPONSE_COLUMNS)
_PG_INSERT_ANSWERS = pipeline_insert("survey_answers", _ANSWER_COLUMNS)


def _read_ahead(session: Session, requests: list[dict[str, Any]]) -> _ReadAhead:
    """Every read of a group in one round trip, its surveys remembered for ``survey_head``. The round trips,
    not the statements, held PostgreSQL's ingest back: each waits for the server and for the GIL."""
    submissions: list[tuple[int, ResponseSubmit]] = [(r["workspace_id"], r["submission"]) for r in requests]
    params = {
        "workspaces": sorted({w for w, _ in submissions}),
        "surveys": sorted({s.survey for _, s in submissions}),
        "keys": sorted({s.client_key for _, s in submissions if s.client_key}),
        "customers": sorted({s.customer_id for _, s in submissions if s.customer_id}),
        "n": len(submissions),
    }
    heads, keys, customers, ids = pipelined(
        session.connection(),
        [(sql, params) for sql in (_PG_HEADS, _PG_KEYS, _PG_CUSTOMERS, _PG_RESPONSE_IDS)],
        many=False,
    )
    for workspace_id, key, survey_id, version, status in heads:
        _remember_head(session, workspace_id, key, survey_id, version, status)
    return _ReadAhead(
        {(w, key): found for w, key, found in keys},
        {(w, external_id): found for w, external_id, found in customers},
        [found for (found,) in ids],
    )


def _write_postgresql(
    connection: Connection, responses: list[dict[str, Any]], ids: list[int], answers: list[dict[str, Any]]
) -> None:
    """The group's responses (with the ids taken ahead) and answers, in one round trip."""
    writes: list[tuple[str, Any]] = [
        (
            _PG_INSERT_RESPONSES,
            [{**values, "id": found} for values, found in zip(responses, ids, strict=True)],
        )
    ]
    if answers:
        writes.append(
            (
                _PG_INSERT_ANSWERS,
                [{**a, "choices": None if a["choices"] is None else Json(a["choices"])} for a in answers],
            )
        )
    pipelined(connection, writes, many=True)


def _one_by_one(session: Session, requests: list[dict[str, Any]]) -> list[ResponseRead | PatronError]:
    """``submit_response`` for each, in its own savepoint: what a refused one wrote is undone."""
    outcomes: list[ResponseRead | PatronError] = []
    for request in requests:
        try:
            with session.begin_nested():
                outcomes.append(submit_response(session, **request))
        except PatronError as error:
            outcomes.append(error)
    return outcomes


def _ids_by_key(
    connection: Connection, statement: Any, wanted: set[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """The id of each ``(workspace, key)`` that ``statement`` finds (it selects key and id), one query per
    workspace."""
    found: dict[tuple[int, str], int] = {}
    for workspace_id in {w for w, _ in wanted}:
        keys = [key for w, key in wanted if w == workspace_id]
        rows = connection.execute(statement, {"workspace_id": workspace_id, "keys": keys})
        found.update(((workspace_id, key), found_id) for key, found_id in rows)
    return found


def announce_completed(
    session: Session, *, workspace_id: int, response: ResponseRead, now: datetime, comments: bool = True
) -> None:
    """Queue the ``response.completed`` webhook in the same transaction as the response itself; its comments become
    feedback items, analysed as they are stored (``comments`` false: the caller does that for many at once)."""
    payload = response.model_dump(mode="json", exclude={"duplicate"})
    webhooks.enqueue(session, workspace_id=workspace_id, event="response.completed", payload=payload, now=now)
    if comments and (completed := _with_comments(workspace_id, response, now)) is not None:
        feedback.comments_arrived(session, [completed])


def _with_comments(
    workspace_id: int, response: ResponseRead, now: datetime
) -> feedback.CompletedResponse | None:
    """The response as ``feedback.add_response_comments`` takes it, if it answered in words (a comment, perhaps)."""
    if not any(isinstance(value, str) for value in response.answers.values()):
        return None
    return feedback.CompletedResponse(
        workspace_id, response.id, response.survey, response.completed_at or now
    )


def answer_values(workspace_id: int, survey_id: int, response_id: int, row: AnswerRow) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id, "response_id": response_id, "survey_id": survey_id,
        "question_key": row.question_key, "question_type": row.question_type, "item_key": row.item_key,
        "score": row.score, "expected_score": row.expected_score, "choices": row.choices, "text": row.text,
        "scale_min": row.scale_min, "scale_max": row.scale_max,
    }  # fmt: skip


def answer_rows(response: SurveyResponse, rows: list[AnswerRow]) -> list[SurveyAnswer]:
    return [
        SurveyAnswer(**answer_values(response.workspace_id, response.survey_id, response.id, row))
        for row in rows
    ]


def _same_or_conflict(
    session: Session, existing: SurveyResponse, submission: ResponseSubmit, survey_key: str
) -> ResponseRead:
    stored = answers_of(session, existing.id)
    sent = {
        k: (v.strip() if isinstance(v, str) else v)
        for k, v in submission.answers.items()
        if v not in (None, "", [], {})
    }
    if stored != sent:
        raise Conflict("survey.client_key_reused", client_key=submission.client_key)
    return _read_existing(session, existing, survey_key, duplicate=True)


def survey_reads(session: Session, *, workspace_id: int) -> list[SurveyRead]:
    return [SurveyRead.model_validate(s) for s in list_surveys(session, workspace_id=workspace_id)]


def survey_read(session: Session, *, workspace_id: int, key: str) -> SurveyRead:
    return SurveyRead.model_validate(get_survey(session, workspace_id=workspace_id, key=key))


def set_status_read(session: Session, *, workspace_id: int, key: str, status: str) -> SurveyRead:
    return SurveyRead.model_validate(set_status(session, workspace_id=workspace_id, key=key, status=status))


def save_survey_read(session: Session, *, workspace_id: int, definition: SurveyDefinition) -> SurveyCreated:
    survey, _ = save_survey(session, workspace_id=workspace_id, definition=definition)
    return SurveyCreated(survey=SurveyRead.model_validate(survey), warnings=definition.missing_languages())


def submit_batch(session: Session, *, workspace_id: int, batch: ResponseBatch, locale: str) -> BatchResult:
    """Each response lands or is rejected on its own, with its reason in ``locale``. Written set-wise
    (``submit_responses``); one by one, each in a savepoint, if another writer stored one of its keys between
    the check and the insert."""
    requests: list[dict[str, Any]] = [
        {"workspace_id": workspace_id, "submission": submission} for submission in batch.responses
    ]
    try:
        with session.begin_nested():
            outcomes = submit_responses(session, requests)
    except IntegrityError:
        outcomes = _one_by_one(session, requests)
    results: list[BatchItemResult] = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, PatronError):
            results.append(BatchItemResult(index=index, error={
                "code": outcome.code, "message": translate(outcome.code, locale, **outcome.params),
                "details": outcome.details(locale),
            }))  # fmt: skip
        else:
            results.append(BatchItemResult(index=index, response=outcome))
    stored = sum(1 for r in results if r.response and not r.response.duplicate)
    duplicates = sum(1 for r in results if r.response and r.response.duplicate)
    return BatchResult(
        stored=stored, duplicates=duplicates, rejected=len(results) - stored - duplicates, results=results
    )


def embed_snippet(session: Session, *, workspace: Workspace, key: str) -> EmbedSnippet:
    from patron.surveys.distribution import public_link

    survey = get_survey(session, workspace_id=workspace.id, key=key)
    definition = definition_of(survey)
    if not definition.settings.public:
        raise Conflict("survey.not_public", key=key)
    url = public_link(workspace.slug, key)
    title = html.escape(definition.name.get(workspace.default_locale) or key, quote=True)
    snippet = (
        f'<iframe src="{url}?embed=1" title="{title}" loading="lazy" '
        'style="width:100%;max-width:640px;height:720px;border:0"></iframe>'
    )
    return EmbedSnippet(url=url, html=snippet)
