"""The rewards, coupons and referrals over the API (named 4xx in three languages) and ``patron loyalty rewards |
coupon | referrals``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.web.app import create_app
from tests.loyalty.conftest import Program

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})
VOUCHER = {"code": "V50", "kind": "voucher", "amount": "50", "points_cost": 40, "stock": 1,
           "name_zh_hant": "五十元折價券", "name_zh_hans": "五十元代金券", "name_en": "NT$50 voucher"}  # fmt: skip


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def headers(program: Program) -> dict[str, str]:
    with transaction(program.engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=program.workspace.id, name="tests")
    return {"Authorization": f"Bearer {key}"}


def test_api_catalog_coupons_and_their_refusals(
    program: Program, client: TestClient, headers: dict[str, str]
) -> None:
    api = "/api/v1/loyalty"
    assert client.post(f"{api}/members/C001/adjust", headers=headers,
                       json={"points": 100, "reason": "start", "idempotency_key": "s1"}).status_code == 200  # fmt: skip
    created = client.post(f"{api}/rewards", headers=headers, json=VOUCHER)
    assert created.status_code == 201 and created.json()["left"] == 1
    assert (
        client.post(f"{api}/rewards", headers=headers, json=VOUCHER).json()["error"]["code"]
        == "loyalty.reward_exists"
    )
    bad = client.post(f"{api}/rewards", headers=headers, json={**VOUCHER, "code": "X", "kind": "gift"})
    assert bad.status_code == 422
    body = {"customer_id": "C001", "idempotency_key": "pos-1"}
    issued = client.post(f"{api}/rewards/V50/redeem", headers=headers, json=body)
    assert issued.status_code == 201 and (issued.json()["balance"], issued.json()["amount"]) == (60, "50.00")
    code = issued.json()["code"]
    assert client.post(f"{api}/rewards/V50/redeem", headers=headers, json=body).json()["replayed"] is True
    assert client.get(f"{api}/coupons/{code}", headers=headers).json()["usable"] is True
    used = client.post(f"{api}/coupons/{code}/redeem", headers=headers, json={"reference": "R-1"})
    assert used.status_code == 200 and used.json()["status"] == "used"
    for locale, words in (("en", "already used"), ("zh-TW", "已於"), ("zh-CN", "已于")):
        again = client.post(
            f"{api}/coupons/{code}/redeem", headers={**headers, "Accept-Language": locale}, json={}
        )
        assert (again.status_code, again.json()["error"]["code"]) == (409, "loyalty.coupon_used")
        assert words in again.json()["error"]["message"]
    for locale, words in (("en", "out of stock"), ("zh-TW", "已兌換完畢"), ("zh-CN", "已兑换完毕")):
        out = client.post(f"{api}/rewards/V50/redeem", headers={**headers, "Accept-Language": locale},
                          json={"customer_id": "C001", "idempotency_key": "pos-2"})  # fmt: skip
        assert (out.status_code, out.json()["error"]["code"]) == (409, "loyalty.reward_out_of_stock")
        assert words in out.json()["error"]["message"]
    assert client.get(f"{api}/coupons/nope", headers=headers).status_code == 400
    assert (
        client.post(f"{api}/coupons/{code}/cancel", headers=headers).json()["error"]["code"]
        == "loyalty.coupon_used"
    )
    changed = client.patch(f"{api}/rewards/V50", headers=headers, json={"stock": 3, "points_cost": 30})
    assert changed.status_code == 200 and changed.json()["left"] == 2
    trail = client.get(f"{api}/catalog-changes", headers=headers).json()
    assert [(c["action"], c["actor"]) for c in trail] == [("update", "api"), ("create", "api")]
    assert trail[0]["changes"] == {"points_cost": [40, 30], "stock": [1, 3]}
    second = client.post(f"{api}/rewards/V50/redeem", headers=headers,
                         json={"customer_id": "C001", "idempotency_key": "pos-3"}).json()  # fmt: skip
    back = client.post(f"{api}/coupons/{second['code']}/cancel", headers=headers).json()
    assert (back["status"], back["balance"]) == ("cancelled", 60)  # 60 − 30 + 30
    assert [r["code"] for r in client.get(f"{api}/rewards", headers=headers).json()] == ["V50"]
    assert client.get(f"{api}/check", headers=headers).json()["differences"] == []


def test_cli_rewards_and_coupons(program: Program) -> None:
    ws = ["--workspace", program.workspace.slug, "--lang", "en"]
    runner.invoke(app, ["loyalty", "adjust", "C002", "90", "--key", "s", "--reason", "start", *ws])
    added = runner.invoke(app, ["loyalty", "rewards", "add", "TEA", "--kind", "free_product", "--cost", "40",
                                "--name-zh-hant", "烏龍茶", "--name-zh-hans", "乌龙茶", "--name-en", "Oolong",
                                "--stock", "5", "--by", "alice", *ws])  # fmt: skip
    assert added.exit_code == 0 and "Reward TEA (Oolong): 40 points, 5 left." in added.output
    bad = runner.invoke(app, ["loyalty", "rewards", "add", "T2", "--kind", "voucher", "--cost", "0", "--name-zh-hant",
                              "甲", "--name-zh-hans", "甲", "--name-en", "A", *ws])  # fmt: skip
    assert bad.exit_code == 2 and "points_cost" in bad.output and len(bad.output.strip().splitlines()) == 1
    listed = runner.invoke(app, ["loyalty", "rewards", "list", "--json", *ws])
    assert listed.exit_code == 0 and '"left": 5' in listed.output
    issued = runner.invoke(app, ["loyalty", "rewards", "redeem", "TEA", "C002", "--key", "k1", *ws])
    assert issued.exit_code == 0 and "40 points spent, balance now 50" in issued.output
    code = issued.output.split()[1]
    checked = runner.invoke(app, ["loyalty", "coupon", "check", code, *ws])
    assert checked.exit_code == 0 and "Oolong for C002, not used yet" in checked.output
    assert runner.invoke(app, ["loyalty", "coupon", "redeem", code, "--reference", "R1", *ws]).exit_code == 0
    twice = runner.invoke(app, ["loyalty", "coupon", "redeem", code, *ws])
    assert twice.exit_code == 2 and "was already used" in twice.output
    zh = runner.invoke(app, ["loyalty", "coupon", "redeem", code, "--workspace", program.workspace.slug,
                             "--lang", "zh-Hant"])  # fmt: skip
    assert zh.exit_code == 2 and "已於" in zh.output and "每張只能使用一次" in zh.output
    other = runner.invoke(
        app, ["loyalty", "rewards", "redeem", "TEA", "C002", "--key", "k2", *ws]
    ).output.split()[1]
    cancelled = runner.invoke(app, ["loyalty", "coupon", "cancel", other, "--by", "bob", *ws])
    assert cancelled.exit_code == 0 and "40 points given back; balance now 50." in cancelled.output
    short = runner.invoke(app, ["loyalty", "rewards", "set", "TEA", "--cost", "60", "--by", "carol", *ws])
    assert short.exit_code == 0
    poor = runner.invoke(app, ["loyalty", "rewards", "redeem", "TEA", "C002", "--key", "k3", *ws])
    assert poor.exit_code == 2 and "Not enough points: 60 asked, 50 available" in poor.output
    trail = runner.invoke(app, ["loyalty", "rewards", "changes", "TEA", "--json", *ws])
    assert (
        trail.exit_code == 0 and '"actor": "carol"' in trail.output and '"points_cost": [\n' in trail.output
    )
