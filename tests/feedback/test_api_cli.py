"""Feedback through the import engine, ``patron feedback`` and ``/api/v1/feedback`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.feedback.models import FeedbackItem
from patron.importers import import_file
from patron.web.app import create_app
from tests.factories import customers_file, make_workspace, write_csv

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})
HEADER = ("review_id", "通路", "來源", "時間", "作者", "email", "評分", "內容")
ROWS = [
    ("g1", "評論", "google_maps", "2026-11-10 12:00", "阿明", "c1@example.com", "2", "送餐很快但湯是冷的"),
    ("g2", "review", "google_maps", "2026-11-11 12:00", "Amy", "", "5", "The staff were friendly and the coffee was delicious"),
    ("g3", "review", "google_maps", "2026-11-12 12:00", "", "", "", "   "),  # empty text: rejected
    ("g4", "fax", "google_maps", "2026-11-12 12:00", "", "", "", "退貨流程太麻煩"),  # unknown channel: rejected
    ("", "email", "mailbox", "2026-11-13 09:30", "", "", "", "退款到現在還沒收到，請回電 0912-345-678"),
]  # fmt: skip


@pytest.fixture
def shop(engine: Engine, tmp_path: Path) -> Workspace:
    workspace = make_workspace(engine)
    import_file(
        engine, workspace_slug=workspace.slug, kind="customers", path=customers_file(tmp_path / "c.csv")
    )
    return workspace


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_import_analyze_and_themes_from_the_cli(engine: Engine, shop: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "feedback.csv", HEADER, ROWS)
    done = runner.invoke(app, ["feedback", "import", str(path), "-w", shop.slug])
    assert done.exit_code == 1, done.output  # two rows rejected, three landed
    rejects = (tmp_path / "feedback.rejects.csv").read_text(encoding="utf-8-sig")
    assert "text: This column is required and is empty." in rejects and "fax" in rejects
    again = runner.invoke(app, ["import", "feedback", str(path), "-w", shop.slug, "--json"])
    report = json.loads(again.output)
    assert (report["inserted"], report["updated"], report["unchanged"], report["rejected"]) == (0, 0, 3, 2)
    with transaction(engine) as session:
        items = session.scalars(select(FeedbackItem).where(FeedbackItem.workspace_id == shop.id)).all()
        by_text = {item.text: item for item in items}
        assert len(items) == 3
        first = by_text["送餐很快但湯是冷的"]
        assert (first.channel, first.source, first.author, first.rating) == (
            "review",
            "google_maps",
            "阿明",
            2.0,
        )
        assert first.customer_id is not None  # c1@example.com is customer C001
        assert first.source_key == "src:review:google_maps:g1"
        # Analysed by the import itself (no `patron feedback analyze`), in both ways in.
        assert all(item.analyzed_with == "shipped:1" and item.sentiment for item in items)
        mail = by_text["退款到現在還沒收到，請回電 0912-345-678"]
        assert mail.masked_text == "退款到現在還沒收到，請回電 [PHONE]" and mail.source_key.startswith("fp:")
    shown = runner.invoke(app, ["feedback", "themes", "-w", shop.slug, "--since", "2026-11-01", "--until",
                                "2026-11-30", "--json"])  # fmt: skip
    figures = {
        f["theme"]: (f["items"], f["positive"], f["negative"]) for f in json.loads(shown.output) if f["items"]
    }
    # g1: delivery +, waiting +, food −; g2: staff +, food +; the e-mail: returns −
    assert figures == {"food_quality": (2, 1, 1), "delivery": (1, 1, 0), "waiting_time": (1, 1, 0),
                       "staff_attitude": (1, 1, 0), "returns_refunds": (1, 0, 1)}  # fmt: skip
    table = runner.invoke(app, ["feedback", "themes", "-w", shop.slug, "--since", "2026-11-01", "--until",
                                "2026-11-30", "--lang", "zh-Hant"])  # fmt: skip
    assert table.exit_code == 0 and "餐點品質" in table.output and "50.0" in table.output


def test_a_bad_taxonomy_file_is_one_translated_line_naming_its_line(
    engine: Engine, shop: Workspace, tmp_path: Path
) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("version: 2\nthemes:\n  - key: refunds\n    group: money\n", encoding="utf-8")
    done = runner.invoke(app, ["feedback", "themes", "--set", str(bad), "-w", shop.slug, "--lang", "zh-Hant"])
    assert done.exit_code == 2 and done.output.strip().count("\n") == 0
    assert "「mine.yaml」第 4 行：「group」的值不正確。" in done.output
    missing = runner.invoke(app, ["feedback", "themes", "--set", str(tmp_path / "no.yaml"), "-w", shop.slug])
    assert missing.exit_code == 2 and "not found" in missing.output
    good = tmp_path / "good.yaml"
    good.write_text("version: 2\nthemes:\n  - key: refunds\n    group: cx\n    names: {zh-Hant: 退款, zh-Hans: 退款, "
                    "en: Refunds}\n    keywords: {zh: [退款]}\n", encoding="utf-8")  # fmt: skip
    saved = runner.invoke(app, ["feedback", "themes", "--set", str(good), "-w", shop.slug])
    assert saved.exit_code == 0 and "Taxonomy version 1 saved (1 themes)" in saved.output
    shown = runner.invoke(app, ["feedback", "themes", "--show", "-w", shop.slug])
    assert shown.output == good.read_text(encoding="utf-8")


def test_the_api_single_batch_idempotent_and_figures(
    engine: Engine, shop: Workspace, client: TestClient
) -> None:
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=shop.id, name="tests")
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "zh-TW"}
    one = {"channel": "chat", "text": "店員態度很差，等了半小時", "occurred_at": "2026-11-20T10:00:00+08:00",
           "client_key": "chat-1", "customer_id": "C002"}  # fmt: skip
    first = client.post("/api/v1/feedback/items", headers=headers, json=one)
    assert first.status_code == 200 and first.json()["created"] is True
    again = client.post("/api/v1/feedback/items", headers=headers, json=one)
    assert again.json() == {**first.json(), "created": False}
    batch = [{"channel": "social", "source": "threads", "source_id": f"p{i}", "occurred_at": "2026-11-21T10:00:00Z",
              "text": text} for i, text in enumerate(["價格便宜，CP值高", "Refund took three weeks", "😀🙏🎉"])]  # fmt: skip
    stored = client.post("/api/v1/feedback/items/batch", headers=headers, json={"items": batch})
    assert [s["created"] for s in stored.json()] == [True, True, True]
    refused = {
        "empty": client.post("/api/v1/feedback/items", headers=headers, json={**one, "client_key": "x", "text": " "}),
        "customer": client.post("/api/v1/feedback/items", headers=headers, json={**one, "client_key": "y",
                                                                                 "customer_id": "NOPE"}),
        "channel": client.post("/api/v1/feedback/items", headers=headers, json={**one, "channel": "fax"}),
        "too many": client.post("/api/v1/feedback/items/batch", headers=headers, json={"items": [one] * 1001}),
        "taxonomy": client.put("/api/v1/feedback/taxonomy", headers=headers, json={"yaml": "version: 1\nthemes: 3\n"}),
        "period": client.get("/api/v1/feedback/themes?since=2026-12-01&until=2026-11-01", headers=headers),
    }  # fmt: skip
    assert {name: answer.status_code for name, answer in refused.items()} == {
        "empty": 422, "customer": 404, "channel": 422, "too many": 422, "taxonomy": 400, "period": 400}  # fmt: skip
    assert refused["empty"].json()["error"]["code"] == "feedback.empty_text"
    assert "第 2 行" in refused["taxonomy"].json()["error"]["message"]
    # The items arrived analysed: the figures below need no analysis run, and one finds nothing left to do.
    analysed = client.post("/api/v1/feedback/analyze", headers=headers).json()
    assert (analysed["analysed"], analysed["taxonomy"]) == (0, "shipped:1")
    query = "since=2026-11-01&until=2026-11-30"
    themes = client.get(f"/api/v1/feedback/themes?{query}", headers=headers).json()
    # "Refund took three weeks" has no opinion word and too little evidence: neutral since the evidence rule
    # (docs/text.md, "Neutral mentions"), a known cost of that rule in English.
    assert [(t["theme"], t["name"], t["items"], t["negative"]) for t in themes if t["items"]] == [
        ("price_value", "價格與價值", 1, 0), ("returns_refunds", "退換貨與退款", 1, 0),
        ("staff_attitude", "服務態度", 1, 1), ("waiting_time", "等候時間", 1, 1)]  # fmt: skip
    channels = {c["channel"]: (c["items"], c["positive"], c["negative"])
                for c in client.get(f"/api/v1/feedback/channels?{query}", headers=headers).json()}  # fmt: skip
    assert channels["chat"] == (1, 0, 1) and channels["social"][0] == 3
    page = client.get(f"/api/v1/feedback/items?{query}&theme=staff_attitude", headers=headers).json()
    assert page["total"] == 1 and page["items"][0]["customer_id"] == "C002"
    assert page["items"][0]["themes"] == [
        {"theme": "staff_attitude", "sentiment": "negative", "score": page["items"][0]["themes"][0]["score"]},
        {"theme": "waiting_time", "sentiment": "negative", "score": page["items"][0]["themes"][1]["score"]},
    ]
    other = make_workspace(engine)
    with transaction(engine) as session:
        _, other_key = core_service.create_api_key(session, workspace_id=other.id, name="tests")
        assert session.scalar(select(func.count()).where(FeedbackItem.workspace_id == other.id)) == 0
    foreign = client.get(f"/api/v1/feedback/items?{query}", headers={"Authorization": f"Bearer {other_key}"})
    assert foreign.json()["total"] == 0
