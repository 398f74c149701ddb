"""Items are analysed as they arrive, by every way in, without ``patron feedback analyze``: the API (one and a
batch), the signed inbound webhook, a survey answer (the API, its batch, a group commit's set-wise write, the
answer page) and an import. Each is checked on 送餐很快但湯是冷的 — positive overall, delivery positive, food
negative (docs/feedback.md, "Analysis") — on SQLite and PostgreSQL. The survey ingest path's group write costs the
same statements for 2 responses as for 6."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.models import Workspace
from patron.feedback import service
from patron.feedback.models import FeedbackItem
from patron.importers import import_file
from patron.surveys import service as survey_service
from patron.surveys.schemas import ResponseSubmit
from patron.surveys.service import templates
from patron.web.app import create_app
from patron.web.deps import group_commit
from tests.feedback.test_inbound import _deliver, _now
from tests.surveys.helpers import survey_world

COMMENT = "送餐很快但湯是冷的"
#: What the analysis gives COMMENT: the whole is positive; each theme takes its own clause's sentiment.
EXPECTED = ("positive", {"delivery": "positive", "waiting_time": "positive", "food_quality": "negative"})


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def _analysis(engine: Engine, workspace_id: int, **where: Any) -> list[tuple[str | None, dict[str, str]]]:
    """Each matching item's overall sentiment and its themes with theme sentiment, read as the pages read them."""
    with transaction(engine) as session:
        ids = list(
            session.scalars(
                select(FeedbackItem.id)
                .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.text == COMMENT)
                .filter_by(**where)
                .order_by(FeedbackItem.id)
            )
        )
        page = service.list_items(session, workspace_id=workspace_id, limit=500)
    shown = {item.id: item for item in page.items}
    return [(shown[i].sentiment, {m.theme: m.sentiment for m in shown[i].themes}) for i in ids]


def _workspace(engine: Engine, tmp_path: Path) -> tuple[Workspace, dict[str, str]]:
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    return world.workspace, {"Authorization": f"Bearer {world.api_key}"}


def test_the_api_and_the_signed_webhook_store_analysed_items(
    engine: Engine, client: TestClient, tmp_path: Path
) -> None:
    workspace, headers = _workspace(engine, tmp_path)
    item = {
        "channel": "review",
        "source": "google_maps",
        "text": COMMENT,
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    one = client.post("/api/v1/feedback/items", headers=headers, json={**item, "source_id": "one"})
    assert one.status_code == 200 and one.json()["created"] is True
    batch = client.post("/api/v1/feedback/items/batch", headers=headers,
                        json={"items": [{**item, "source_id": f"b{i}"} for i in range(3)]})  # fmt: skip
    assert batch.status_code == 200 and len(batch.json()) == 3
    added = client.post("/api/v1/feedback/inbound", headers=headers, json={"name": "listening"}).json()
    delivered = _deliver(client, added["path"], {"items": [{"source_id": "post-1", "text": COMMENT,
                                                            "occurred_at": "2026-11-23T04:00:00Z"}]},
                         added["secret"], timestamp=_now())  # fmt: skip
    assert delivered.status_code == 200 and delivered.json()["stored"] == 1
    assert _analysis(engine, workspace.id, channel="review") == [EXPECTED] * 4
    assert _analysis(engine, workspace.id, channel="social", source="listening") == [EXPECTED]
    # A retried delivery stores (and analyses) nothing twice.
    again = _deliver(client, added["path"], {"source_id": "post-1", "text": COMMENT,
                                             "occurred_at": "2026-11-23T04:00:00Z"}, added["secret"])  # fmt: skip
    assert again.json()["duplicates"] == 1
    with transaction(engine) as session:
        assert service.analyze(session, workspace_id=workspace.id).analysed == 0, (
            "nothing was left to analyse"
        )


def test_survey_answers_arrive_analysed_by_the_api_its_batch_and_the_answer_page(
    engine: Engine, client: TestClient, tmp_path: Path
) -> None:
    workspace, headers = _workspace(engine, tmp_path)
    answer = {"survey": "post_purchase_csat", "answers": {"csat": 4, "comment": COMMENT}}
    single = client.post(
        "/api/v1/responses", headers=headers, json={**answer, "client_key": "r1", "customer_id": "S1"}
    )
    assert single.status_code == 200, single.text
    batch = client.post("/api/v1/responses/batch", headers=headers,
                        json={"responses": [{**answer, "client_key": f"b{i}"} for i in range(3)]})  # fmt: skip
    assert batch.status_code == 200 and all(
        "error" not in r or r["error"] is None for r in batch.json()["results"]
    )
    # Analysed after the group commit, off the reply's path (core.groupcommit.after_commit).
    assert group_commit.settle()
    assert _analysis(engine, workspace.id, channel="survey") == [EXPECTED] * 4
    # The answer page (a public link): the comment is analysed when the response completes.
    definition = templates()["post_purchase_csat"].model_dump(mode="json", exclude_none=True)
    definition["settings"]["public"] = True
    definition["key"] = "public_csat"
    assert client.post("/api/v1/surveys", headers=headers, json=definition).status_code == 200
    url = client.get("/api/v1/surveys/public_csat/embed", headers=headers).json()["url"]
    opened = client.get(url.removeprefix("http://127.0.0.1:8000"), follow_redirects=False)
    token_path = opened.headers["location"].split("?")[0]
    done = client.post(token_path, data={"_shown": "csat,comment", "csat": "4", "comment": COMMENT})
    assert done.status_code == 200
    assert _analysis(engine, workspace.id, channel="survey", source="public_csat") == [EXPECTED]
    with transaction(engine) as session:
        assert service.analyze(session, workspace_id=workspace.id).analysed == 0, (
            "nothing was left to analyse"
        )


def _statements(engine: Engine, workspace_id: int, count: int, start: int) -> int:
    """Statements for the comments run by one set-wise write of ``count`` responses with a comment each (a group
    commit's): reading the comments, the taxonomy and the tracked terms, writing the items and their mentions."""
    seen: list[str] = []

    def counted(*args: Any) -> None:
        statement = str(args[2])
        if "feedback_" in statement or "social_" in statement or "survey_answers.text" in statement:
            seen.append(statement)

    requests = [
        {"workspace_id": workspace_id, "submission": ResponseSubmit(
            survey="post_purchase_csat", client_key=f"g{start + i}", answers={"csat": 5, "comment": COMMENT})}
        for i in range(count)
    ]  # fmt: skip
    with transaction(engine) as session:
        connection = session.connection()
        event.listen(connection, "before_cursor_execute", counted)
        try:
            outcomes = survey_service.submit_responses(session, requests)
        finally:
            event.remove(connection, "before_cursor_execute", counted)
    assert all(not isinstance(outcome, Exception) for outcome in outcomes)
    return len(seen)


def test_a_group_of_responses_is_analysed_with_no_statement_per_response(
    engine: Engine, tmp_path: Path
) -> None:
    workspace, _ = _workspace(engine, tmp_path)
    two = _statements(engine, workspace.id, 2, 0)
    six = _statements(engine, workspace.id, 6, 100)
    # On PostgreSQL the items' insert is one statement run for many rows in one round trip, sent by psycopg
    # itself (``core.db.pipelined``), which SQLAlchemy's events do not see.
    expected = 5 if engine.dialect.name == "sqlite" else 4
    assert two == six == expected, "the comments' items and mentions are written set-wise, not per response"
    assert _analysis(engine, workspace.id, channel="survey") == [EXPECTED] * 8


def test_comments_whose_after_commit_analysis_was_lost_are_caught_up_at_start(
    engine: Engine, client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between a group's commit and its comments' analysis loses nothing: the answers are stored, and the
    catch-up the server runs when it starts itemises and analyses them."""
    workspace, headers = _workspace(engine, tmp_path)

    def crashed(responses: list[Any]) -> int:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(service, "analyse_arrived_comments", crashed)
    answer = {"survey": "post_purchase_csat", "answers": {"csat": 4, "comment": COMMENT}}
    for i in range(3):  # one at a time: each through the group committer
        assert client.post(
            "/api/v1/responses", headers=headers, json={**answer, "client_key": f"lost{i}"}
        ).is_success
    assert group_commit.settle()
    assert _analysis(engine, workspace.id, channel="survey") == []
    assert service.catch_up() == 3
    assert _analysis(engine, workspace.id, channel="survey") == [EXPECTED] * 3
    assert service.catch_up() == 0, "safe to run twice"


def test_an_import_stores_analysed_items(engine: Engine, tmp_path: Path) -> None:
    workspace, _ = _workspace(engine, tmp_path)
    path = tmp_path / "feedback.jsonl"
    rows = [{"channel": "review", "source": "google_maps", "source_id": f"g{i}", "occurred_at": "2026-11-20 12:00",
             "text": COMMENT} for i in range(2)]  # fmt: skip
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    report = import_file(
        engine, workspace_slug=workspace.slug, kind="feedback", path=path, rejects_path=False
    )
    assert report.inserted == 2
    assert _analysis(engine, workspace.id) == [EXPECTED] * 2
    # A changed row is analysed again in the import that changes it.
    rows[0]["text"] = "Delivery was late"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    import_file(engine, workspace_slug=workspace.slug, kind="feedback", path=path, rejects_path=False)
    with transaction(engine) as session:
        changed = service.list_items(session, workspace_id=workspace.id, channel="review")
    late = next(item for item in changed.items if item.text == "Delivery was late")
    assert late.sentiment is not None and [(m.theme, m.sentiment) for m in late.themes] == [
        ("delivery", "negative")
    ]
