"""The Loyalty tab's rewards, referrals and catalog changes against a hand-computed catalog (clock at
2026-11-24T02:00Z):

| who  | what                                                                         |
|---|---|
| C001 | +300; V100 (100) used at a point of sale; TEA (50) not used yet; +100 for referring C004 |
| C002 | +200 on 2026-09-01; V100 (100) cancelled, its points back; TEA (50) issued 2026-10-01, expired 2026-10-31 unused |
| bob  | V100's stock 5 → 4 (1 issued and not cancelled: 3 left)                      |

Referrals with C001's code (cap 1), recorded 2026-09-01: C001 itself (refused: same customer), C004 (bought
2026-09-10, rewarded now), C003 (refused: cap)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine

from patron.core import clock
from patron.core import service as core_service
from patron.core.db import transaction
from patron.customers.models import Customer
from patron.dashboard.filters import parse_filters
from patron.dashboard.loyalty_rewards import rewards_tables
from patron.loyalty import coupons, referrals, rewards, service
from patron.loyalty.schemas import ReferralCreate, ReferralSettingsUpdate, RewardCreate, RewardUpdate
from patron.web.app import create_app
from tests.dashboard.test_loyalty import TODAY
from tests.loyalty.conftest import Program, make_program, order, utc
from tests.web.conftest import PASSWORD, log_in

NAMES = {
    "V100": ("百元折價券", "百元代金券", "NT$100 voucher"),
    "TEA": ("烏龍茶一包", "乌龙茶一包", "A pack of oolong"),
}


def build_rewards(fx: Program) -> None:
    ws = fx.workspace
    with transaction(fx.engine) as session:
        for code, kind, cost, extra in (("V100", "voucher", 100, {"amount": "100", "stock": 5}),
                                        ("TEA", "free_product", 50, {})):  # fmt: skip
            hant, hans, en = NAMES[code]
            data = RewardCreate.model_validate({"code": code, "kind": kind, "points_cost": cost, "name_zh_hant": hant,
                                                "name_zh_hans": hans, "name_en": en, **extra})  # fmt: skip
            rewards.create_reward(session, workspace=ws, data=data, actor="alice")
        service.adjust(session, workspace=ws, customer_external_id="C001", points=300, reason="start",
                       idempotency_key="s1", actor="tests")  # fmt: skip
    with clock.frozen(utc("2026-09-01T00:00:00+00:00")), transaction(fx.engine) as session:
        service.adjust(session, workspace=ws, customer_external_id="C002", points=200, reason="start",
                       idempotency_key="s2", actor="tests")  # fmt: skip
        referrals.set_settings(session, workspace=ws, data=ReferralSettingsUpdate(referrer_points=100, cap=1))
        code = referrals.member_code(session, workspace=ws, customer_external_id="C001").code
        for customer in ("C001", "C004", "C003"):
            referrals.record(session, workspace=ws, data=ReferralCreate(code=code, customer_id=customer))
    with clock.frozen(utc("2026-10-01T00:00:00+00:00")), transaction(fx.engine) as session:
        rewards.redeem_reward(
            session, workspace=ws, code="TEA", customer_external_id="C002", idempotency_key="k4"
        )
    fx.import_orders([order("O4", 1, "C004", "2026-09-10T10:00:00+08:00", "paid", "P1", 1, "680")], "o4.csv")
    with transaction(fx.engine) as session:
        used = rewards.redeem_reward(
            session, workspace=ws, code="V100", customer_external_id="C001", idempotency_key="k1"
        )
        coupons.use_coupon(session, workspace=ws, code=used.code, reference="POS-1")
        rewards.redeem_reward(
            session, workspace=ws, code="TEA", customer_external_id="C001", idempotency_key="k2"
        )
        back = rewards.redeem_reward(
            session, workspace=ws, code="V100", customer_external_id="C002", idempotency_key="k3"
        )
        coupons.cancel_coupon(session, workspace=ws, code=back.code, actor="tests")
        rewards.update_reward(session, workspace=ws, code="V100", data=RewardUpdate(stock=4), actor="bob")
        referrals.settle(session, workspace=ws)
        assert service.check(session, workspace_id=ws.id).differences == []


@pytest.fixture
def catalog(engine: Engine, tmp_path: Path) -> Program:
    fx = make_program(engine, tmp_path / "loyalty")
    build_rewards(fx)
    return fx


def _tables(fx: Program, **params: str) -> dict[str, list[list[object]]]:
    with transaction(fx.engine) as session:
        found = rewards_tables(session, fx.workspace, parse_filters(params, today=TODAY), "en")
    return {key: table.rows for key, table in found.items()}


def test_rewards_referrals_and_changes_are_the_hand_computed_ones(catalog: Program) -> None:
    tables = _tables(catalog)
    # code, name, kind, cost, stock, left, issued, used, not used yet, expired unused, cancelled, points spent
    assert tables["rewards"] == [
        ["TEA", "A pack of oolong", "Free product", 50, None, None, 2, 0, 1, 1, 0, 100, True],
        ["V100", "NT$100 voucher", "Voucher", 100, 4, 3, 2, 1, 0, 0, 1, 100, True],
    ]
    assert tables["referrals"] == [
        ["Recorded", 3], ["Pending", 0], ["Rewarded", 1], ["Refused", 2], ["— Same customer", 1],
        ["— Same email", 0], ["— Same phone", 0], ["— Already referred", 0], ["— Not a new customer", 0],
        ["— Referrer at the cap", 1],
    ]  # fmt: skip
    changes = tables["catalog_changes"]
    assert [row[1:3] for row in changes] == [["V100", "bob"], ["TEA", "alice"], ["V100", "alice"]]
    assert changes[0][3] == "stock: 5 → 4"
    with transaction(catalog.engine) as session:
        balances = [service.balance(session, workspace_id=catalog.workspace.id, customer_external_id=c).points
                    for c in ("C001", "C002")]  # fmt: skip
    assert balances == [250, 150]  # 300 − 100 − 50 + 100; 200 − 100 + 100 − 50


def test_a_segment_narrows_coupons_to_its_members(catalog: Program) -> None:
    with transaction(catalog.engine) as session:
        session.execute(update(Customer).where(Customer.workspace_id == catalog.workspace.id,
                                               Customer.external_id == "C001").values(segment="vip"))  # fmt: skip
    tables = _tables(catalog, segment="vip")
    assert [row[6:12] for row in tables["rewards"]] == [[1, 0, 1, 0, 0, 50], [1, 1, 0, 0, 0, 100]]
    assert tables["referrals"][0] == ["Recorded", 3]  # C001 referred them all


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_tab_shows_them_and_exports_them(client: TestClient, catalog: Program) -> None:
    email = f"viewer@{catalog.workspace.slug}.example.com"
    with transaction(catalog.engine) as session:
        core_service.create_user(session, workspace_id=catalog.workspace.id, email=email, password=PASSWORD,
                                 role="viewer")  # fmt: skip
    log_in(client, catalog.workspace.slug, email)
    for language, words in (
        ("zh-Hant", "獎勵與優惠券"),
        ("zh-Hans", "奖励与优惠券"),
        ("en", "Rewards and coupons"),
    ):
        page = client.get(f"/dashboard/loyalty?lang={language}")
        assert page.status_code == 200 and words in page.text
        for key in ("rewards", "referrals", "catalog_changes"):
            assert f'data-table="{key}"' in page.text
    export = client.get("/dashboard/loyalty/export?table=rewards&format=csv")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[2][:12] == [
        "V100",
        "NT$100 voucher",
        "Voucher",
        "100",
        "4",
        "3",
        "2",
        "1",
        "0",
        "0",
        "1",
        "100",
    ]
