"""A workspace with a loyalty program, two earn-rule versions, customers C001–C004 and products P1 (tea, 680)
and P2 (coffee, 250.50)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.models import Workspace
from patron.importers import import_file
from patron.loyalty import service
from patron.loyalty.models import ExpiryPolicy
from patron.loyalty.schemas import EarnRuleCreate, ProgramUpdate
from tests.factories import ORDER_HEADER, customers_file, make_workspace, products_file, write_csv

#: v1 from 1 Jan 2026: 1 point per NT$100, tea ×2, 50 points on the first purchase, NT$300 minimum spend.
RULE_V1: dict[str, Any] = {
    "effective_from": "2026-01-01T00:00:00+08:00",
    "currency": "TWD",
    "points_per_unit": 1,
    "per_amount": "100",
    "category_multipliers": {"tea": 200},
    "first_purchase_bonus": 50,
    "min_spend": "300",
}
#: v2 from 1 Jun 2026: 2 points per NT$100, nothing else.
RULE_V2: dict[str, Any] = {
    "effective_from": "2026-06-01T00:00:00+08:00",
    "currency": "TWD",
    "points_per_unit": 2,
    "per_amount": "100",
}


@dataclass
class Program:
    workspace: Workspace
    folder: Path
    engine: Engine

    def import_orders(self, rows: list[tuple[Any, ...]], name: str = "o.csv") -> None:
        path = write_csv(self.folder / name, ORDER_HEADER, rows)
        report = import_file(self.engine, workspace_slug=self.workspace.slug, kind="orders", path=path)
        assert report.rejected == 0, report.errors


def order(order_id: str, line: int, customer: str, at: str, status: str, product: str, quantity: int,
          price: str) -> tuple[Any, ...]:  # fmt: skip
    return (order_id, line, customer, at, status, "web", product, quantity, price, "")


def make_program(engine: Engine, folder: Path, policy: ExpiryPolicy = ExpiryPolicy.MONTHS) -> Program:
    workspace = make_workspace(engine)
    folder.mkdir(parents=True, exist_ok=True)
    import_file(
        engine, workspace_slug=workspace.slug, kind="customers", path=customers_file(folder / "c.csv", 4)
    )
    import_file(engine, workspace_slug=workspace.slug, kind="products", path=products_file(folder / "p.csv"))
    with transaction(engine) as session:
        service.set_program(
            session, workspace=workspace, data=ProgramUpdate(name="茶友會", expiry_policy=policy)
        )
        for rule in (RULE_V1, RULE_V2):
            service.add_rule(
                session, workspace=workspace, data=EarnRuleCreate.model_validate(rule), actor="tests"
            )
    return Program(workspace, folder, engine)


@pytest.fixture
def program(engine: Engine, tmp_path: Path) -> Program:
    return make_program(engine, tmp_path / "loyalty")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
