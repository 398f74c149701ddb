"""``patron social`` and ``/api/v1/social`` on SQLite and PostgreSQL: terms, mentions per day, spikes, and the
named refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.web.app import create_app
from tests.factories import make_workspace
from tests.web.conftest import PASSWORD, log_in

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def _post(day: int, n: int, text: str) -> dict[str, str]:
    return {"channel": "social", "source": "threads", "source_id": f"{day}-{n}", "text": text,
            "occurred_at": f"2026-11-{day:02d}T04:00:00Z"}  # fmt: skip


def test_terms_mentions_and_spikes_through_the_api_and_the_cli(engine: Engine, client: TestClient) -> None:
    shop = make_workspace(engine)
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=shop.id, name="tests")
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "zh-TW"}
    added = client.post("/api/v1/social/terms", headers=headers, json={"term": "鼎泰豐", "kind": "brand"})
    assert added.status_code == 201 and added.json()["normalised"] == "鼎泰丰"
    # One mention a day from 1 to 22 November, then 8 on the 23rd (yesterday in Taipei): a volume spike,
    # P(X >= 8 | the 28-day mean 22/28 = 0.786) is far below 0.001.
    # Praise, so that (analysed on arrival) none of them waits in the reply queue below: only the question does.
    items = [_post(day, 0, "鼎泰豐的小籠包很好吃，推薦") for day in range(1, 23)] + [
        _post(23, n, "鼎泰丰好吃，值得排队") for n in range(8)
    ]
    stored = client.post("/api/v1/feedback/items/batch", headers=headers, json={"items": items})
    assert stored.status_code == 200
    days = client.get("/api/v1/social/mentions?since=2026-11-21", headers=headers).json()
    assert [(d["day"], d["mentions"]) for d in days] == [
        ("2026-11-21", 1),
        ("2026-11-22", 1),
        ("2026-11-23", 8),
    ]
    spikes = client.get("/api/v1/social/spikes?since=2026-11-20&term=鼎泰豐", headers=headers).json()
    assert [(s["day"], s["kind"], s["value"]) for s in spikes] == [("2026-11-23", "volume", 8.0)]
    assert spikes[0]["baseline"] == pytest.approx(22 / 28)
    refused = {
        "twice": client.post("/api/v1/social/terms", headers=headers, json={"term": "鼎泰丰"}),
        "kind": client.post("/api/v1/social/terms", headers=headers, json={"term": "x", "kind": "other"}),
        "term": client.get("/api/v1/social/mentions?term=nope", headers=headers),
        "period": client.get("/api/v1/social/mentions?since=2026-11-20&until=2026-11-01", headers=headers),
        "gone": client.delete("/api/v1/social/terms/999999", headers=headers),
    }
    assert {name: answer.status_code for name, answer in refused.items()} == {
        "twice": 409, "kind": 422, "term": 404, "period": 400, "gone": 404}  # fmt: skip
    assert refused["twice"].json()["error"]["message"] == "已在追蹤「鼎泰豐」（繁簡體與全半形視為相同）。"

    listed = runner.invoke(app, ["social", "terms", "-w", shop.slug, "--json"])
    assert [(t["term"], t["mentions"]) for t in json.loads(listed.output)] == [("鼎泰豐", 30)]
    more = runner.invoke(app, ["social", "terms", "-w", shop.slug, "--add", "小籠包", "--lang", "zh-Hant"])
    assert more.exit_code == 0 and "開始追蹤「小籠包」：已儲存的內容中有 22 則提及。" in more.output
    table = runner.invoke(app, ["social", "mentions", "-w", shop.slug, "--since", "2026-11-22"])
    assert table.exit_code == 0 and "2026-11-23" in table.output and "Mentions" in table.output
    found = runner.invoke(app, ["social", "spikes", "-w", shop.slug, "--lang", "zh-Hans"])
    assert found.exit_code == 0 and "2026-11-23" in found.output and "提及量" in found.output
    bad = runner.invoke(app, ["social", "spikes", "-w", shop.slug, "--since", "11/01"])
    assert bad.exit_code == 2 and bad.output.strip().count("\n") == 0
    gone = runner.invoke(app, ["social", "terms", "-w", shop.slug, "--remove", "小笼包"])
    assert gone.exit_code == 0 and "No longer tracking 小笼包." in gone.output
    # The reply queue: a question mentioning the brand, handled through the API and reopened from the CLI.
    asked = client.post(
        "/api/v1/feedback/items",
        headers=headers,
        json={**_post(23, 9, "鼎泰豐有素食嗎？"), "reply_to": "https://threads.net/p/9"},
    )
    item = asked.json()["id"]
    queued = client.get("/api/v1/social/queue", headers=headers).json()
    assert (queued["total"], queued["items"][0]["item_id"], queued["items"][0]["reply_to"]) == (
        1, item, "https://threads.net/p/9")  # fmt: skip
    done = client.post(f"/api/v1/social/queue/{item}/handle", headers=headers, json={"note": "answered"})
    assert (done.status_code, done.json()["handled_by"], done.json()["note"]) == (200, "api", "answered")
    twice = client.post(f"/api/v1/social/queue/{item}/handle", headers=headers, json={})
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "social.already_handled")
    assert client.get("/api/v1/social/queue?state=handled", headers=headers).json()["total"] == 1
    shown = runner.invoke(app, ["social", "queue", "-w", shop.slug, "--state", "handled", "--json"])
    assert [(q["item_id"], q["handled_by"]) for q in json.loads(shown.output)["items"]] == [(item, "api")]
    table = runner.invoke(app, ["social", "queue", "-w", shop.slug, "--state", "all", "--lang", "zh-Hant"])
    assert table.exit_code == 0 and "提問" in table.output
    back = runner.invoke(app, ["social", "handle", str(item), "--reopen", "-w", shop.slug])
    assert back.exit_code == 0 and f"Item {item} reopened." in back.output
    assert (
        client.get("/api/v1/social/queue", headers=headers)
        .json()["items"][0]["reopened_by"]
        .startswith("cli:")
    )
    missing = runner.invoke(app, ["social", "handle", "999999", "-w", shop.slug, "--lang", "zh-Hant"])
    assert missing.exit_code == 2 and "不在回覆佇列中" in missing.output
    # The spike joins the alerts page (its default window: the last 90 complete days, 26 Aug - 23 Nov).
    viewer = f"viewer@{shop.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=shop.id, email=viewer, password=PASSWORD, role="viewer"
        )
    log_in(client, shop.slug, viewer)
    page = client.get("/dashboard/alerts?lang=en")
    assert 'data-social-spikes="1"' in page.text and 'data-social-spike="volume"' in page.text
    assert "9 mentions against a 28-day mean of 0.8 (p &lt; 0.0001)" in page.text
    assert (
        "提及 9 則，前 28 天平均 0.8 則（p &lt; 0.0001）" in client.get("/dashboard/alerts?lang=zh-Hant").text
    )
    assert client.delete(f"/api/v1/social/terms/{added.json()['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/social/terms", headers=headers).json() == []
