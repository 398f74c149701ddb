"""The Loyalty tab's tier tables (members by tier, tier movements per month) and the tier on the customer page.

Tiers from 1 Jan 2024 (一般會員 0, 高級會員 NT$10,000, VIP NT$30,000 in 12 months; review in January, 6 months'
grace). C004 buys NT$10,020 on 20 Dec 2024 → 高級 (move in Dec 2024); the January 2026 review finds nothing in
2025 and C004 reached 高級 more than 6 months before → back to 一般 (Jan 2026). C001 buys NT$10,020 on 1 Feb 2026
→ 高級 (Feb 2026); C002 NT$30,060 on 1 Aug 2026 → VIP (Aug 2026); C003 NT$250.50 → stays 一般.
Now: 4 members, 一般 2 (50 %), 高級 1 (25 %), VIP 1 (25 %).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.core import clock
from patron.core import service as core_service
from patron.core.db import transaction
from patron.dashboard import loyalty
from patron.dashboard.filters import parse_filters
from patron.loyalty import tiers
from tests.loyalty.conftest import Program, make_program, utc
from tests.loyalty.test_tiers import TIERS, add_tiers, coffee, import_at
from tests.web.conftest import PASSWORD, log_in


@pytest.fixture
def tiered(engine: Engine, tmp_path: Path) -> Program:
    fx = make_program(engine, tmp_path / "loyalty")
    add_tiers(fx, {**TIERS, "effective_from": "2024-01-01T00:00:00+08:00"})
    import_at(
        fx, "2024-12-21T10:00:00+08:00", [coffee("A", "C004", "2024-12-20T10:00:00+08:00", 40)], "a.csv"
    )
    with clock.frozen(utc("2026-01-02T02:00:00Z")), transaction(fx.engine) as session:
        assert tiers.review(session, workspace=fx.workspace).downgraded == 1
    import_at(
        fx, "2026-02-02T10:00:00+08:00", [coffee("B", "C001", "2026-02-01T10:00:00+08:00", 40)], "b.csv"
    )
    import_at(fx, "2026-08-02T10:00:00+08:00", [
        coffee("C", "C002", "2026-08-01T10:00:00+08:00", 120), coffee("D", "C003", "2026-08-01T10:00:00+08:00", 1),
    ], "c.csv")  # fmt: skip
    return fx


def test_members_by_tier_and_tier_movements(tiered: Program) -> None:
    with transaction(tiered.engine) as session:
        view = loyalty.loyalty(
            session, tiered.workspace, parse_filters({}, today=date(2026, 11, 24)), "zh-Hant"
        )
    assert view.members == 4
    assert view.tables["tiers"].rows == [
        ["一般會員", 0.0, 2, 50.0], ["高級會員", 10000.0, 1, 25.0], ["VIP", 30000.0, 1, 25.0]
    ]  # fmt: skip
    moves = {row[0].strftime("%Y-%m"): row[1:] for row in view.tables["tier_moves"].rows}  # type: ignore[union-attr]
    assert (moves["2026-01"], moves["2026-02"], moves["2026-08"]) == (
        [0, 1, 0, 0],
        [1, 0, 0, 0],
        [1, 0, 0, 0],
    )
    assert (
        sum(sum(row) for month, row in moves.items() if month not in ("2026-01", "2026-02", "2026-08")) == 0
    )  # type: ignore[misc]
    with transaction(tiered.engine) as session:
        segment = loyalty.loyalty(session, tiered.workspace, parse_filters({"segment": "nobody"},
                                  today=date(2026, 11, 24)), "en")  # fmt: skip
    assert [row[2] for row in segment.tables["tiers"].rows] == [0, 0, 0]


def test_the_customer_page_shows_the_tier(client: TestClient, tiered: Program) -> None:
    email = f"viewer@{tiered.workspace.slug}.example.com"
    with transaction(tiered.engine) as session:
        core_service.create_user(session, workspace_id=tiered.workspace.id, email=email, password=PASSWORD,
                                 role="viewer")  # fmt: skip
    log_in(client, tiered.workspace.slug, email)
    assert 'data-tier="vip"' in client.get("/customers/C002?lang=en").text
    page = client.get("/customers/C001?lang=zh-Hans").text
    assert 'data-tier="premium"' in page and "高级会员" in page
