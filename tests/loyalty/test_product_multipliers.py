"""Product multipliers: a product's own multiplier takes precedence over its category's (never both), with the
tier multiplier and a bonus period on top; every number below is computed by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.importers import import_file
from patron.loyalty import orders, service
from patron.loyalty.models import EarnRule, Entry
from patron.loyalty.schemas import EarnRuleCreate
from patron.loyalty.service import item_percent, line_points
from patron.web.app import create_app
from tests.factories import write_csv
from tests.loyalty.conftest import Program, order
from tests.loyalty.test_tiers import add_tiers, import_at, tier_of

#: v3 from 1 Sep 2026: 1 point per NT$100; tea ×2 and coffee ×0 by category; P3 (a tea) ×3 and P2 (a coffee)
#: ×1.5 by product; double points on the weekend of 3–4 October 2026 (Taipei).
RULE_V3: dict[str, Any] = {
    "effective_from": "2026-09-01T00:00:00+08:00",
    "currency": "TWD",
    "points_per_unit": 1,
    "per_amount": "100",
    "category_multipliers": {"tea": 200, "coffee": 0},
    "product_multipliers": {"P3": 300, "P2": 150},
    "bonus_periods": [
        {"start": "2026-10-03T00:00:00+08:00", "end": "2026-10-05T00:00:00+08:00", "percent": 200}
    ],
}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def api_headers(program: Program) -> dict[str, str]:
    with transaction(program.engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=program.workspace.id, name="tests")
    return {"Authorization": f"Bearer {key}"}


def _rule() -> EarnRule:
    return EarnRule(
        points_per_unit=1, unit_minor=10_000, currency="TWD", category_multipliers={"tea": 200, "coffee": 0},
        product_multipliers={"P3": 300, "P2": 150, "P9": 0}, bonus_periods=[],
    )  # fmt: skip


def test_the_product_multiplier_takes_precedence_over_its_category() -> None:
    rule = _rule()
    assert item_percent(rule, product="P3", category="tea") == 300  # not 200, and never 200 × 300
    assert item_percent(rule, product="P1", category="tea") == 200  # no product multiplier: the category's
    assert item_percent(rule, product="P2", category="coffee") == 150  # the product's, even over a category 0
    assert item_percent(rule, product="P9", category="tea") == 0  # a product set to 0 earns nothing
    assert item_percent(rule, product="P7", category=None) == 100
    assert item_percent(rule, product=None, category="tea") == 200
    plain = datetime(2026, 9, 10, 4, tzinfo=UTC)
    # NT$1,350 of P3 = 135,000 minor × 1 × 300 / 10,000 = 40.5 → 40; as a plain tea it would be 27.
    assert line_points(rule, amount_minor=135_000, category="tea", product="P3", ordered_at=plain) == 40
    assert line_points(rule, amount_minor=135_000, category="tea", product="P1", ordered_at=plain) == 27
    # A rule stored before product multipliers existed (the column's default) reads as none.
    rule.product_multipliers = {}
    assert item_percent(rule, product="P3", category="tea") == 200


def test_two_lines_with_product_and_category_multipliers_tier_and_bonus_period(program: Program) -> None:
    products = write_csv(program.folder / "p3.csv", ("external_id", "name", "category", "price"),
                         [("P3", "冠軍東方美人", "tea", "450")])  # fmt: skip
    import_file(program.engine, workspace_slug=program.workspace.slug, kind="products", path=products)
    with transaction(program.engine) as session:
        v3 = service.add_rule(session, workspace=program.workspace, actor="tests",
                              data=EarnRuleCreate.model_validate(RULE_V3))  # fmt: skip
    assert (v3.version, v3.product_multipliers) == (3, {"P3": 300, "P2": 150})
    add_tiers(program)
    # O1, 10 Sep: 40 × P2 (coffee, category ×0, product ×1.5) = NT$10,020 = 1,002,000 minor
    #   × 1 × 150 % × 100 % (no bonus) × 100 % (一般會員) / 10,000 = 150.3 → 150; it makes C001 高級會員 (×1.5).
    import_at(program, "2026-09-10T12:00:00+08:00",
              [order("O1", 1, "C001", "2026-09-10T10:00:00+08:00", "completed", "P2", 40, "250.50")],
              "o1.csv")  # fmt: skip
    assert tier_of(program, "C001") == "premium"
    # O2, Saturday 3 Oct (double points), two lines, the member at 150 %:
    #   line 1: 3 × P3 at NT$450 = 135,000 minor × 1 × 300 (product, not tea's 200) × 200 × 150
    #           / (10,000 × 10⁶) = 121.5 → 121
    #   line 2: 2 × P1 at NT$680 = 136,000 minor × 1 × 200 (tea) × 200 × 150 / (10,000 × 10⁶) = 81.6 → 81
    import_at(program, "2026-10-03T18:00:00+08:00",
              [order("O2", 1, "C001", "2026-10-03T15:00:00+08:00", "completed", "P3", 3, "450"),
               order("O2", 2, "C001", "2026-10-03T15:00:00+08:00", "completed", "P1", 2, "680")],
              "o2.csv")  # fmt: skip
    with transaction(program.engine) as session:
        rows = session.execute(
            select(
                Entry.order_external_id, Entry.line_no, Entry.points, Entry.rule_version, Entry.tier_percent
            )
            .where(Entry.workspace_id == program.workspace.id, Entry.source == "order")
            .order_by(Entry.id)
        ).all()
        balance = service.balance(session, workspace_id=program.workspace.id, customer_external_id="C001")
        again = orders.sync_orders(session, workspace=program.workspace)
    assert [tuple(r) for r in rows] == [("O1", 1, 150, 3, 100), ("O2", 1, 121, 3, 150), ("O2", 2, 81, 3, 150)]
    assert balance.points == 150 + 121 + 81 == 352
    assert again.entries == 0  # each line keeps its version and tier multiplier: nothing moves twice
    # A later version that drops P3's multiplier does not change what O2 earned (history is never rewritten).
    with transaction(program.engine) as session:
        service.add_rule(session, workspace=program.workspace, actor="tests", data=EarnRuleCreate.model_validate(
            {**RULE_V3, "effective_from": "2026-11-01T00:00:00+08:00", "product_multipliers": {}}))  # fmt: skip
        assert orders.sync_orders(session, workspace=program.workspace).entries == 0
        o2 = orders.order_points(session, workspace_id=program.workspace.id, order_external_id="O2")
        assert (o2.rule_version, o2.points) == (3, 202)
        assert service.check(session, workspace_id=program.workspace.id).differences == []


def test_a_bad_product_multiplier_is_refused_by_name(program: Program) -> None:
    with transaction(program.engine) as session, pytest.raises(PatronError) as caught:
        service.add_rule(session, workspace=program.workspace, actor="tests", data=EarnRuleCreate.model_validate(
            {**RULE_V3, "product_multipliers": {"P3": 10_001}}))  # fmt: skip
    assert caught.value.code == "loyalty.bad_product_multiplier"
    assert caught.value.message("zh-Hant") == "商品「P3」的倍數必須是 0–10000%，不是 10001。"
    with transaction(program.engine) as session:
        assert len(service.list_rules(session, workspace_id=program.workspace.id)) == 2  # nothing added


def test_product_multipliers_through_the_api_and_the_cli(
    client: TestClient, program: Program, api_headers: dict[str, str], tmp_path: Path
) -> None:
    added = client.post("/api/v1/loyalty/rules", headers=api_headers, json=RULE_V3)
    assert added.status_code == 201, added.text
    assert added.json()["product_multipliers"] == {"P3": 300, "P2": 150}
    bad = client.post("/api/v1/loyalty/rules", headers={**api_headers, "Accept-Language": "en"},
                      json={**RULE_V3, "effective_from": None, "product_multipliers": {"P3": -1}})  # fmt: skip
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "loyalty.bad_product_multiplier")
    listed = client.get("/api/v1/loyalty/rules", headers=api_headers).json()
    assert [r["product_multipliers"] for r in listed] == [{}, {}, {"P3": 300, "P2": 150}]
    path = tmp_path / "v4.yaml"
    path.write_text("currency: TWD\npoints_per_unit: 1\nper_amount: '100'\nproduct_multipliers: {P1: 250}\n",
                    encoding="utf-8")  # fmt: skip
    result = CliRunner().invoke(app, ["loyalty", "rules", "add", str(path), "--workspace", program.workspace.slug,
                                      "--lang", "en"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with transaction(program.engine) as session:
        assert service.list_rules(session, workspace_id=program.workspace.id)[-1].product_multipliers == {
            "P1": 250
        }
