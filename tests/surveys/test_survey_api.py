"""Surveys over the API: definitions, responses, idempotent retries, batches, and bad input fuzzed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from patron.cli import app
from patron.core.db import transaction
from patron.surveys import service
from patron.surveys.models import SurveyAnswer, SurveyResponse
from patron.surveys.service import TEMPLATE_DIR, templates
from tests.web.conftest import Tenant, make_tenant


def _install(client: TestClient, tenant: Tenant, key: str = "relationship_nps") -> dict[str, Any]:
    document = templates()[key].model_dump(mode="json", exclude_none=True)
    answer = client.post("/api/v1/surveys", headers=tenant.headers, json=document)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _counts(engine: Engine, tenant: Tenant) -> tuple[int, int]:
    with transaction(engine) as session:
        responses = session.scalar(
            select(func.count()).where(SurveyResponse.workspace_id == tenant.workspace.id)
        )
        answers = session.scalar(select(func.count()).where(SurveyAnswer.workspace_id == tenant.workspace.id))
    return int(responses or 0), int(answers or 0)


def test_saving_twice_keeps_the_version_and_a_change_bumps_it(client: TestClient, tenant: Tenant) -> None:
    first = _install(client, tenant)
    assert (first["survey"]["version"], first["warnings"]) == (1, [])
    assert _install(client, tenant)["survey"]["version"] == 1
    changed = templates()["relationship_nps"].model_dump(mode="json", exclude_none=True)
    changed["questions"][0]["label"]["en"] = "Would you recommend us to a friend?"
    assert (
        client.post("/api/v1/surveys", headers=tenant.headers, json=changed).json()["survey"]["version"] == 2
    )
    assert [s["key"] for s in client.get("/api/v1/surveys", headers=tenant.headers).json()] == [
        "relationship_nps"
    ]


def test_an_invalid_definition_lists_each_problem(client: TestClient, tenant: Tenant) -> None:
    answer = client.post(
        "/api/v1/surveys",
        headers=tenant.headers,
        json={"key": "x", "kind": "nps", "touchpoint": "moon", "name": "n", "questions": []},
    )
    body = answer.json()["error"]
    assert answer.status_code == 400 and body["code"] == "survey.invalid_definition"
    assert {d["location"] for d in body["details"]} == {"touchpoint", "questions"}


def test_a_response_is_stored_once_however_often_it_is_sent(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    _install(client, tenant)
    body = {"survey": "relationship_nps", "customer_id": "C001", "client_key": "form-42", "locale": "zh-TW",
            "answers": {"nps": 4, "went_wrong": "包裝破損", "value_most": "product_quality"}}  # fmt: skip
    first = client.post("/api/v1/responses", headers=tenant.headers, json=body)
    assert first.status_code == 200, first.text
    stored = first.json()
    assert (stored["customer_id"], stored["locale"], stored["duplicate"]) == ("C001", "zh-Hant", False)
    assert stored["answers"] == {"nps": 4, "went_wrong": "包裝破損", "value_most": "product_quality"}
    again = client.post("/api/v1/responses", headers=tenant.headers, json=body)
    assert again.json()["duplicate"] is True and again.json()["id"] == stored["id"]
    assert _counts(engine, tenant) == (1, 3)
    body["answers"] = {"nps": 10}
    conflict = client.post("/api/v1/responses", headers=tenant.headers, json=body)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "survey.client_key_reused"


def test_wrong_answers_get_a_4xx_naming_each_question_and_store_nothing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    _install(client, tenant)
    answer = client.post(
        "/api/v1/responses",
        headers={**tenant.headers, "Accept-Language": "zh-TW"},
        json={"survey": "relationship_nps", "answers": {"nps": 12, "testimonial": "讚"}},
    )
    assert answer.status_code == 400
    details = answer.json()["error"]["details"]
    assert details == [
        {"question": "nps", "code": "survey.answer_out_of_range", "message": "12 超出 0–10 的範圍。"},
        {
            "question": "testimonial",
            "code": "survey.answer_not_shown",
            "message": "依據問題 nps 的答案，此問題不會出現。",
        },
    ]
    assert _counts(engine, tenant) == (0, 0)


def test_a_closed_survey_says_so(client: TestClient, tenant: Tenant) -> None:
    _install(client, tenant)
    assert (
        client.put(
            "/api/v1/surveys/relationship_nps/status?status=closed", headers=tenant.headers
        ).status_code
        == 200
    )
    answer = client.post(
        "/api/v1/responses",
        headers=tenant.headers,
        json={"survey": "relationship_nps", "answers": {"nps": 9}},
    )
    assert answer.status_code == 409 and "closed" in answer.json()["error"]["message"]


@pytest.mark.parametrize("race", [False, True], ids=["set-wise", "one-by-one after a race"])
def test_batches_store_each_response_or_say_why_not(
    client: TestClient, tenant: Tenant, engine: Engine, monkeypatch: pytest.MonkeyPatch, race: bool
) -> None:
    if race:  # another writer stored a key between the set-wise check and insert: the batch goes one by one

        def raced(session: Session, requests: list[dict[str, object]]) -> list[object]:
            raise IntegrityError("INSERT", {}, Exception("duplicate key value violates unique constraint"))

        monkeypatch.setattr(service, "submit_responses", raced)
    _install(client, tenant)
    batch = {"responses": [
        {"survey": "relationship_nps", "client_key": "a", "answers": {"nps": 9}},
        {"survey": "relationship_nps", "client_key": "b", "answers": {"nps": 99}},
        {"survey": "relationship_nps", "client_key": "a", "answers": {"nps": 9}},
        {"survey": "relationship_nps", "customer_id": "NOBODY", "answers": {"nps": 5}},
        {"survey": "no_such_survey", "answers": {"nps": 5}},
    ]}  # fmt: skip
    result = client.post("/api/v1/responses/batch", headers=tenant.headers, json=batch).json()
    assert (result["stored"], result["duplicates"], result["rejected"]) == (1, 1, 3)
    assert [r["error"]["code"] if r["error"] else None for r in result["results"]] == [
        None, "survey.invalid_answers", None, "customer.not_found", "survey.not_found",
    ]  # fmt: skip
    assert _counts(engine, tenant) == (1, 1)


def test_responses_never_cross_workspaces(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    first, second = make_tenant(engine, tmp_path / "a"), make_tenant(engine, tmp_path / "b")
    _install(client, first)
    answer = client.post(
        "/api/v1/responses",
        headers=second.headers,
        json={"survey": "relationship_nps", "answers": {"nps": 9}},
    )
    assert answer.status_code == 404
    client.post(
        "/api/v1/responses",
        headers=first.headers,
        json={"survey": "relationship_nps", "client_key": "k", "answers": {"nps": 9}},
    )
    _install(client, second)
    same_key = client.post(
        "/api/v1/responses",
        headers=second.headers,
        json={"survey": "relationship_nps", "client_key": "k", "answers": {"nps": 1}},
    )
    assert same_key.status_code == 200 and same_key.json()["duplicate"] is False


bad_values = st.one_of(
    st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False),  # JSON has no NaN st.text(max_size=50),
    st.text(min_size=3000, max_size=3001), st.booleans(), st.none(), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    nps=bad_values,
    reason=bad_values,
    survey=st.sampled_from(["relationship_nps", "nope", ""]),
    key=st.one_of(st.none(), st.text(max_size=200), st.just("a\x00b")),
)
def test_fuzzed_submissions_get_4xx_or_a_valid_stored_response(
    client: TestClient,
    fuzz_tenant: Tenant,
    engine: Engine,
    nps: Any,
    reason: Any,
    survey: str,
    key: str | None,
) -> None:
    before = _counts(engine, fuzz_tenant)
    body = {"survey": survey, "client_key": key, "answers": {"nps": nps, "reason": reason}}
    answer = client.post("/api/v1/responses", headers=fuzz_tenant.headers, json=body)
    assert answer.status_code in (200, 400, 404, 409, 422), answer.text
    after = _counts(engine, fuzz_tenant)
    if answer.status_code == 200 and not answer.json()["duplicate"]:
        assert isinstance(nps, int) and not isinstance(nps, bool) and 0 <= nps <= 10
        assert after[0] == before[0] + 1
    else:
        assert after == before, "a refused or repeated response stores nothing"


def test_surveys_create_from_the_command_line(engine: Engine, tmp_path: Path) -> None:
    runner = CliRunner(env={"LANG": "en_US.UTF-8"})
    tenant = make_tenant(engine, tmp_path / "t")
    path = tmp_path / "csat.yaml"
    path.write_text((TEMPLATE_DIR / "post_purchase_csat.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    created = runner.invoke(app, ["surveys", "create", str(path), "-w", tenant.workspace.slug])
    assert created.exit_code == 0 and "version 1 (saved, 3 questions)" in created.output
    path.write_text("key: broken\nkind: nps\n", encoding="utf-8")
    broken = runner.invoke(app, ["surveys", "create", str(path), "-w", tenant.workspace.slug])
    said = " ".join(broken.output.split())
    assert broken.exit_code == 2 and "is not valid: name: is required" in said and "Traceback" not in said


def test_150_parallel_sends_of_one_response_store_it_once(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    """The probe's finding that held (issue 18): a client retrying hard, 150 sends at once of one client key,
    gets the same response back every time and one row stored — also when the sends share one write group."""
    from concurrent.futures import ThreadPoolExecutor

    _install(client, tenant)
    body = {"survey": "relationship_nps", "customer_id": "C001", "client_key": "storm-1", "locale": "zh-TW",
            "answers": {"nps": 9, "reason": "店員很親切"}}  # fmt: skip
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(
                lambda _: client.post("/api/v1/responses", headers=tenant.headers, json=body), range(150)
            )
        )
    assert [a.status_code for a in answers] == [200] * 150
    assert len({a.json()["id"] for a in answers}) == 1
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 149
    assert _counts(engine, tenant) == (1, 2)
