"""The loyalty API (named 4xx errors in three languages, retries, refunds) and ``patron loyalty …``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.web.app import create_app
from tests.factories import ORDER_HEADER, write_csv
from tests.loyalty.conftest import RULE_V1, Program, order

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def headers(program: Program) -> dict[str, str]:
    with transaction(program.engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=program.workspace.id, name="tests")
    return {"Authorization": f"Bearer {key}"}


def test_api_redeem_adjust_and_retries(program: Program, client: TestClient, headers: dict[str, str]) -> None:
    base = "/api/v1/loyalty/members/C001"
    assert client.post(f"{base}/adjust", headers=headers,
                       json={"points": 120, "reason": "welcome", "idempotency_key": "welcome-C001"}).status_code == 200  # fmt: skip
    body = {"points": 45, "reason": "voucher", "idempotency_key": "pos-0001"}
    first = client.post(f"{base}/redeem", headers=headers, json=body)
    retry = client.post(f"{base}/redeem", headers=headers, json=body)
    assert first.status_code == retry.status_code == 200
    assert (first.json()["replayed"], retry.json()["replayed"]) == (False, True)
    assert (
        first.json()["entry"]["id"] == retry.json()["entry"]["id"] and retry.json()["balance"]["points"] == 75
    )
    page = client.get(f"{base}/entries", headers=headers).json()
    assert [(e["kind"], e["points"]) for e in page["items"]] == [("redeem", -45), ("adjust", 120)]
    assert page["items"][1]["source_ref"] == "api"
    check = client.get("/api/v1/loyalty/check", headers=headers).json()
    assert (check["members"], check["entries"], check["differences"]) == (1, 2, [])


@pytest.mark.parametrize(
    ("locale", "word"), [("en", "Not enough points"), ("zh-TW", "點數不足"), ("zh-CN", "积分不足")]
)
def test_api_errors_are_named_and_translated(
    program: Program, client: TestClient, headers: dict[str, str], locale: str, word: str
) -> None:
    base = "/api/v1/loyalty/members"
    h = {**headers, "Accept-Language": locale}
    client.post(
        f"{base}/C001/adjust", headers=h, json={"points": 10, "reason": "x", "idempotency_key": "seed"}
    )
    short = client.post(
        f"{base}/C001/redeem", headers=h, json={"points": 11, "reason": "x", "idempotency_key": "k1"}
    )
    assert short.status_code == 409 and short.json()["error"]["code"] == "loyalty.insufficient_points"
    assert word in short.json()["error"]["message"]
    for path, body, status, code in (
        (
            "C999/redeem",
            {"points": 1, "reason": "x", "idempotency_key": "k2"},
            404,
            "loyalty.member_not_found",
        ),
        ("C001/redeem", {"points": -3, "reason": "x", "idempotency_key": "k3"}, 400, "loyalty.bad_points"),
        ("C001/redeem", {"points": 1.5, "reason": "x", "idempotency_key": "k4"}, 422, "request.invalid"),
        ("C001/redeem", {"points": 1, "reason": "x", "idempotency_key": "bad key!"}, 422, "request.invalid"),
        ("C001/redeem", {"points": 10, "reason": "x", "idempotency_key": "seed"}, 409, "loyalty.key_reused"),
    ):
        answer = client.post(f"{base}/{path}", headers=h, json=body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), path
    bad_rules = client.post("/api/v1/loyalty/rules", headers=h, json={**RULE_V1, "points_per_unit": "many"})
    assert (bad_rules.status_code, bad_rules.json()["error"]["code"]) == (400, "loyalty.invalid_rules")
    assert bad_rules.json()["error"]["details"][0]["location"] == "points_per_unit"
    early = client.post("/api/v1/loyalty/rules", headers=h, json=RULE_V1)  # before version 2
    assert (early.status_code, early.json()["error"]["code"]) == (409, "loyalty.rule_before_latest")
    assert (
        client.get("/api/v1/loyalty/orders/NOPE", headers=h).json()["error"]["code"]
        == "loyalty.order_not_found"
    )
    balance = client.get(f"{base}/C001", headers=h).json()
    assert (balance["points"], balance["debt"]) == (10, 0)  # nothing moved


def test_api_order_refund_and_sync(program: Program, client: TestClient, headers: dict[str, str]) -> None:
    # O7: P2 2 × 250.50 = 501.00 and P1 1 × 680 under v2 (2 per NT$100): 10.02 → 10 and 13.6 → 13.
    rows = [
        order("O7", 1, "C004", "2026-09-01T10:00:00+08:00", "completed", "P2", 2, "250.50"),
        order("O7", 2, "C004", "2026-09-01T10:00:00+08:00", "completed", "P1", 1, "680"),
    ]
    path = write_csv(program.folder / "o7.csv", ORDER_HEADER, rows)
    uploaded = client.post("/api/v1/imports/orders", headers=headers, content=path.read_bytes())
    assert uploaded.status_code == 200 and uploaded.json()["inserted"] == 2  # the upload earns as it lands
    assert client.get("/api/v1/loyalty/orders/O7", headers=headers).json()["points"] == 23
    refund = {"idempotency_key": "rma-1", "lines": [{"line_no": 1, "quantity": 1}]}
    answer = client.post("/api/v1/loyalty/orders/O7/refunds", headers=headers, json=refund)
    assert answer.status_code == 200 and answer.json()["points"] == 18  # line 1: 10 − ⌊10 / 2⌋ = 5
    again = client.post("/api/v1/loyalty/orders/O7/refunds", headers=headers, json=refund).json()
    assert (again["points"], again["replayed"]) == (18, True)
    unknown = client.post("/api/v1/loyalty/orders/O7/refunds", headers=headers,
                          json={"idempotency_key": "rma-2", "lines": [{"line_no": 9, "quantity": 1}]})  # fmt: skip
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "loyalty.unknown_line")
    synced = client.post("/api/v1/loyalty/orders/O7/sync", headers=headers).json()
    assert synced["points"] == 18  # nothing changed since
    assert client.get("/api/v1/loyalty/members/C004", headers=headers).json()["points"] == 18


def test_cli(program: Program, tmp_path: Path) -> None:
    ws = ["--workspace", program.workspace.slug, "--lang", "en"]
    program.import_orders([order("O8", 1, "C001", "2026-09-01T10:00:00+08:00", "completed", "P1", 5, "680")])
    # 5 × 680 = 3400.00 under v2 → 68 points, plus C001's first-purchase bonus? v2 has none: 68.
    shown = runner.invoke(app, ["loyalty", "balance", "C001", *ws])
    assert shown.exit_code == 0 and "C001: 68 points, debt 0." in shown.output
    spent = runner.invoke(app, ["loyalty", "redeem", "C001", "60", "--key", "cli-1", *ws])
    assert spent.exit_code == 0 and "Recorded -60 points; balance now 8." in spent.output
    again = runner.invoke(app, ["loyalty", "redeem", "C001", "60", "--key", "cli-1", *ws])
    assert again.exit_code == 0 and "nothing moved" in again.output
    short = runner.invoke(app, ["loyalty", "redeem", "C001", "60", "--key", "cli-2", *ws])
    assert short.exit_code == 2 and "Not enough points: 60 asked, 8 available" in short.output
    zh = runner.invoke(app, ["loyalty", "redeem", "C001", "60", "--key", "cli-2", "--workspace",
                             program.workspace.slug, "--lang", "zh-Hant"])  # fmt: skip
    assert zh.exit_code == 2 and "點數不足" in zh.output
    refund = runner.invoke(app, ["loyalty", "refund", "O8", "--key", "r-1", "--line", "1:5", *ws])
    assert refund.exit_code == 0 and "now holds 0 points" in refund.output
    assert "debt 60" in runner.invoke(app, ["loyalty", "balance", "C001", *ws]).output
    bad_line = runner.invoke(app, ["loyalty", "refund", "O8", "--key", "r-2", "--line", "one", *ws])
    assert bad_line.exit_code == 2 and "LINE_NO:QUANTITY" in bad_line.output
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "currency: TWD\npoints_per_unit: 3\nper_amount: '100'\neffective_from: 2027-01-01T00:00:00+08:00\n"
    )
    added = runner.invoke(app, ["loyalty", "rules", "add", str(rules), *ws])
    assert added.exit_code == 0 and "version 3" in added.output
    rules.write_text("currency: [TWD\n")
    broken = runner.invoke(app, ["loyalty", "rules", "add", str(rules), *ws])
    assert broken.exit_code == 2 and "Cannot read the earn rules" in broken.output
    assert runner.invoke(app, ["loyalty", "sync", *ws]).exit_code == 0
    assert runner.invoke(app, ["loyalty", "expire", *ws]).exit_code == 0
    checked = runner.invoke(app, ["loyalty", "check", *ws])
    assert checked.exit_code == 0 and "0 differences" in checked.output


def test_point_value_by_cli_and_api(program: Program, client: TestClient, headers: dict[str, str]) -> None:
    ws = ["--workspace", program.workspace.slug]
    shown = runner.invoke(
        app, ["loyalty", "program", "--name", "茶友會", "--point-value", "0.1", *ws, "--lang", "en"]
    )
    assert shown.exit_code == 0 and "One point is worth 0.1 TWD." in shown.output
    bad = runner.invoke(app, ["loyalty", "program", "--point-value", "1,5", *ws, "--lang", "zh-Hant"])
    assert bad.exit_code == 2 and "point_value" in bad.output and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    assert client.get("/api/v1/loyalty/program", headers=headers).json()["point_value"] == "0.1"
    changed = client.put(
        "/api/v1/loyalty/program", headers=headers, json={"name": "茶友會", "point_value": "1.2500"}
    )
    assert changed.status_code == 200 and changed.json()["point_value"] == "1.25"
    refused = client.put(
        "/api/v1/loyalty/program", headers=headers, json={"name": "茶友會", "point_value": "-1"}
    )
    assert refused.status_code == 422 and "point_value" in refused.text
    assert client.get("/api/v1/loyalty/program", headers=headers).json()["point_value"] == "1.25"
