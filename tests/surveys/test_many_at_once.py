"""``submit_responses`` (set-wise, as the group committer calls it) gives every response the outcome that
``submit_response`` gives it called one at a time in the same order, and stores the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.feedback.models import FeedbackItem
from patron.surveys import service
from patron.surveys.models import SurveyAnswer, SurveyResponse
from patron.surveys.schemas import ResponseRead, ResponseSubmit
from tests.surveys.helpers import survey_world


def _requests(workspace_id: int) -> list[dict[str, Any]]:
    def one(**fields: Any) -> dict[str, Any]:
        fields.setdefault("survey", "relationship_nps")
        return {"workspace_id": workspace_id, "submission": ResponseSubmit(**fields)}

    return [
        one(
            client_key="k1",
            customer_id="S1",
            answers={"nps": 10, "reason": "送貨很快", "value_most": "price_value"},
        ),
        one(customer_id="S2", answers={"nps": 3, "went_wrong": "包裝破損"}),  # no key
        one(
            client_key="k1",
            customer_id="S1",
            answers={"nps": 10, "reason": "送貨很快", "value_most": "price_value"},
        ),  # retry: duplicate
        one(client_key="k1", customer_id="S1", answers={"nps": 2}),  # same key, other answers: conflict
        one(client_key="k2", customer_id="S3", answers={"nps": 11}),  # out of range
        one(client_key="k3", customer_id="NOBODY", answers={"nps": 8}),  # unknown customer
        one(client_key="k4", survey="no_such_survey", answers={"nps": 8}),  # unknown survey
        one(client_key="k2", customer_id="S3", answers={"nps": 9}),  # k2 was refused above: stored now
        one(client_key="stored-before", customer_id="S1", answers={"nps": 7}),  # stored before: duplicate
        one(client_key="stored-before", customer_id="S1", answers={"nps": 6}),  # stored before: conflict
        one(client_key="k5", answers={"nps": 0, "went_wrong": "太慢了，請回信 amy@example.com"}),  # anonymous
    ]


def _outcome(result: ResponseRead | PatronError) -> tuple[Any, ...]:
    if isinstance(result, PatronError):
        return ("error", result.code, tuple(sorted(result.params.items())))
    return ("stored", result.survey, result.customer_id, result.client_key, result.duplicate,
            tuple(sorted(result.answers.items())), result.locale, result.touchpoint)  # fmt: skip


def _one_at_a_time(session: Session, requests: list[dict[str, Any]]) -> list[ResponseRead | PatronError]:
    outcomes: list[ResponseRead | PatronError] = []
    for request in requests:
        try:
            with session.begin_nested():
                outcomes.append(service.submit_response(session, **request))
        except PatronError as error:
            outcomes.append(error)
    return outcomes


def _stored_rows(session: Session, workspace_id: int) -> tuple[int, int]:
    responses = session.scalar(select(func.count()).where(SurveyResponse.workspace_id == workspace_id))
    answers = session.scalar(select(func.count()).where(SurveyAnswer.workspace_id == workspace_id))
    return int(responses or 0), int(answers or 0)


def _stored_contents(session: Session, workspace_id: int) -> list[tuple[Any, ...]]:
    """Every stored answer with its response's columns, told apart by content (ids differ between two runs)."""
    rows = session.execute(
        select(SurveyResponse.client_key, SurveyResponse.customer_id, SurveyResponse.survey_version,
               SurveyResponse.locale, SurveyResponse.touchpoint, SurveyResponse.channel, SurveyResponse.status,
               SurveyResponse.publish_as, SurveyAnswer.question_key, SurveyAnswer.question_type,
               SurveyAnswer.item_key, SurveyAnswer.score, SurveyAnswer.choices, SurveyAnswer.text,
               SurveyAnswer.scale_min, SurveyAnswer.scale_max)
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .where(SurveyResponse.workspace_id == workspace_id)
    ).all()  # fmt: skip
    return sorted((tuple(row) for row in rows), key=repr)


def _comment_items(session: Session, workspace_id: int) -> list[tuple[Any, ...]]:
    """The feedback items the comments became, told apart by what they say (ids differ between two runs)."""
    rows = session.execute(
        select(FeedbackItem.source, FeedbackItem.text, FeedbackItem.masked_text, FeedbackItem.analysis_text,
               FeedbackItem.language, FeedbackItem.customer_id, SurveyAnswer.question_key, SurveyResponse.client_key)
        .join(SurveyAnswer, SurveyAnswer.id == FeedbackItem.survey_answer_id)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.channel == "survey")
    ).all()  # fmt: skip
    return sorted(tuple(row) for row in rows)


def test_many_at_once_equals_one_at_a_time(engine: Engine, tmp_path: Path) -> None:
    world = survey_world(engine, tmp_path, "relationship_nps")
    workspace_id = world.workspace.id
    with transaction(engine) as session:
        service.submit_response(session, workspace_id=workspace_id, submission=ResponseSubmit(
            survey="relationship_nps", client_key="stored-before", customer_id="S1", answers={"nps": 7}))  # fmt: skip
    requests = _requests(workspace_id)
    with transaction(engine) as session:
        before = _stored_rows(session, workspace_id)
        expected = [_outcome(result) for result in _one_at_a_time(session, requests)]
        expected_rows = _stored_rows(session, workspace_id)
        expected_items = _comment_items(session, workspace_id)
        expected_contents = _stored_contents(session, workspace_id)
        session.rollback()
    with transaction(engine) as session:
        together = service.submit_responses(session, requests)
    assert [_outcome(result) for result in together] == expected
    with transaction(engine) as session:
        assert _stored_rows(session, workspace_id) == expected_rows
        assert _comment_items(session, workspace_id) == expected_items
        assert _stored_contents(session, workspace_id) == expected_contents
        assert ("k1", ["price_value"]) in [(row[0], row[12]) for row in expected_contents]
    # k1, the anonymous S2 answer, k2 (second try) and k5 are new: four responses with 3 + 2 + 1 + 2 answers
    assert expected_rows == (before[0] + 4, before[1] + 8)
    assert [kind for kind, *_ in expected] == ["stored", "stored", "stored", "error", "error", "error", "error",
                                               "stored", "stored", "error", "stored"]  # fmt: skip
    stored = [r for r in together if isinstance(r, ResponseRead)]
    assert [r.duplicate for r in stored] == [False, False, True, False, True, False]
    assert len({r.id for r in stored if not r.duplicate}) == 4
    # every comment of a new response became one feedback item, its e-mail address masked at arrival
    assert [(source, masked) for source, _, masked, *_ in expected_items] == [
        ("relationship_nps", "包裝破損"), ("relationship_nps", "太慢了，請回信 [EMAIL]"),
        ("relationship_nps", "送貨很快"),
    ]  # fmt: skip
