"""Tiers: qualifying spend in a rolling window (workspace's zone, edges hand-computed), never the balance; upgrade
at once, downgrade only at the yearly review under the grace rule; the tier multiplier kept per order line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from patron.core.clock import frozen
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.loyalty import orders, service, tiers
from patron.loyalty.models import Entry
from patron.loyalty.schemas import TierSetCreate
from tests.loyalty.conftest import Program, order, utc

#: 一般會員 from 0, 高級會員 from NT$10,000, VIP from NT$30,000 of spend in the last 12 months.
TIERS: dict[str, Any] = {
    "effective_from": "2025-01-01T00:00:00+08:00",
    "currency": "TWD",
    "window_months": 12,
    "review_month": 1,
    "grace_months": 6,
    "tiers": [
        {"code": "member", "names": {"zh-Hant": "一般會員", "zh-Hans": "一般会员", "en": "Member"},
         "threshold": "0", "birthday_points": 100},
        {"code": "premium", "names": {"zh-Hant": "高級會員", "zh-Hans": "高级会员", "en": "Premium"},
         "threshold": "10000", "discount_percent": 5, "points_percent": 150, "birthday_points": 300},
        {"code": "vip", "names": {"zh-Hant": "VIP", "zh-Hans": "VIP", "en": "VIP"}, "threshold": "30000",
         "discount_percent": 10, "points_percent": 200, "birthday_points": 800, "exclusive_events": True,
         "early_access": True},
    ],
}  # fmt: skip


def add_tiers(program: Program, document: dict[str, Any] | None = None) -> None:
    with transaction(program.engine) as session:
        tiers.add_tier_set(session, workspace=program.workspace,
                           data=TierSetCreate.model_validate(document or TIERS), actor="tests")  # fmt: skip


def coffee(
    order_id: str, customer: str, at: str, quantity: int, status: str = "completed"
) -> tuple[Any, ...]:
    """P2 at NT$250.50 a unit: 40 units are NT$10,020, 120 units NT$30,060."""
    return order(order_id, 1, customer, at, status, "P2", quantity, "250.50")


def import_at(program: Program, at: str, rows: list[tuple[Any, ...]], name: str) -> None:
    with frozen(datetime.fromisoformat(at)):
        program.import_orders(rows, name)


def tier_of(program: Program, customer: str) -> str:
    with transaction(program.engine) as session:
        return tiers.member_tier(
            session, workspace=program.workspace, customer_external_id=customer
        ).tier.code


def test_window_is_counted_on_the_workspace_clock_with_the_day_clamped() -> None:
    # 31 May 00:30 Taipei − 3 months = 28 Feb 00:30 Taipei = 27 Feb 16:30 UTC; 29 Feb 2028 − 12 months = 28 Feb.
    assert tiers.months_before(utc("2026-05-31T00:30:00+08:00"), 3, "Asia/Taipei") == utc(
        "2026-02-27T16:30:00Z"
    )
    assert tiers.months_before(utc("2028-02-29T12:00:00+08:00"), 12, "Asia/Taipei") == utc(
        "2027-02-28T04:00:00Z"
    )


def test_a_balance_never_promotes_spend_does_and_the_multiplier_stays_with_the_line(program: Program) -> None:
    add_tiers(program)
    with transaction(program.engine) as session:
        service.adjust(session, workspace=program.workspace, customer_external_id="C001", points=100_000,
                       reason="goodwill", idempotency_key="big-C001", actor="tests")  # fmt: skip
    # 100,000 points and no spend: still the lowest tier (the anchors promoted on balance).
    assert tier_of(program, "C001") == "member"
    # O1 NT$10,020 under v2 (2 points per NT$100) at 100 %: 1,002,000 × 2 × 100 × 100 × 100 / (10,000 × 10⁶)
    # = 200.4 → 200; the order crosses NT$10,000, so C001 is 高級會員 from then on.
    import_at(program, "2026-11-01T10:00:00+08:00",
              [coffee("O1", "C001", "2026-10-31T10:00:00+08:00", 40)], "o1.csv")  # fmt: skip
    assert tier_of(program, "C001") == "premium"
    # O2 NT$1,002 earns at 150 %: 100,200 × 2 × 150 / 10,000 = 30.06 → 30.
    import_at(program, "2026-11-02T10:00:00+08:00",
              [coffee("O2", "C001", "2026-11-02T09:00:00+08:00", 4)], "o2.csv")  # fmt: skip
    customer_id = _customer_id(program, "C001")
    with transaction(program.engine) as session:
        earned = session.execute(
            select(Entry.order_external_id, Entry.points, Entry.tier_percent)
            .where(Entry.workspace_id == program.workspace.id, Entry.source == "order")
            .order_by(Entry.id)
        ).all()
        assert [tuple(row) for row in earned] == [("O1", 200, 100), ("O2", 30, 150)]
        # A later sync (the member is 高級會員 now) moves nothing: each line keeps its multiplier.
        assert orders.sync_orders(session, workspace=program.workspace).entries == 0
        read = tiers.member_tier(
            session, workspace=program.workspace, customer_external_id="C001", locale="en"
        )
        found = tiers.benefits(session, workspace_id=program.workspace.id, customer_id=customer_id)
    # NT$11,022 of NT$30,000: NT$18,978 to VIP, 36 %.
    assert (read.qualifying, read.next_tier and read.next_tier.name, read.to_next, read.progress_percent) == (
        "11022.00", "VIP", "18978.00", 36)  # fmt: skip
    assert [(m.from_tier, m.to_tier, m.reason, m.qualifying) for m in read.history] == [
        ("member", "premium", "upgrade", "10020.00")
    ]
    assert found is not None and (found.tier, found.discount_percent, found.points_percent,
                                  found.birthday_points) == ("premium", 5, 150, 300)  # fmt: skip


def _customer_id(program: Program, external_id: str) -> int:
    from patron.customers.models import Customer

    with transaction(program.engine) as session:
        found = session.scalar(
            select(Customer.id).where(
                Customer.workspace_id == program.workspace.id, Customer.external_id == external_id
            )
        )
    assert found is not None
    return found


def test_rolling_window_edges_in_the_workspace_zone(program: Program) -> None:
    add_tiers(program)
    # Synced at 24 Nov 2026 10:00 Taipei: the window starts 24 Nov 2025 10:00 Taipei (02:00 UTC), inclusive.
    import_at(program, "2026-11-24T10:00:00+08:00", [
        coffee("IN", "C001", "2025-11-24T10:00:00+08:00", 40),
        coffee("OUT", "C002", "2025-11-24T09:59:59+08:00", 40),
    ], "edge.csv")  # fmt: skip
    assert (tier_of(program, "C001"), tier_of(program, "C002")) == ("premium", "member")
    # The 2027 review counts calendar 2026 in Taipei: [2025-12-31T16:00Z, 2026-12-31T16:00Z).
    with transaction(program.engine) as session:
        tier_set = tiers.current_set(session, program.workspace.id)
        assert tier_set is not None
        at = tiers.review_moment(tier_set, 2027, "Asia/Taipei")
        start, end = tiers.window(tier_set, at, "Asia/Taipei")
    assert (start, end) == (utc("2025-12-31T16:00:00Z"), utc("2026-12-31T16:00:00Z"))
    import_at(program, "2027-01-02T10:00:00+08:00", [
        order("E1", 1, "C003", "2025-12-31T23:59:59+08:00", "completed", "P2", 1, "1"),  # out
        order("E2", 1, "C003", "2026-01-01T00:00:00+08:00", "completed", "P2", 1, "10"),  # in
        order("E3", 1, "C003", "2026-12-31T23:59:59+08:00", "completed", "P2", 1, "100"),  # in (15:59:59 UTC)
        order("E4", 1, "C003", "2027-01-01T00:00:00+08:00", "completed", "P2", 1, "1000"),  # out, still 2026 UTC
    ], "year.csv")  # fmt: skip
    customer_id = _customer_id(program, "C003")
    with transaction(program.engine) as session:
        spent = tiers.spend(session, workspace_id=program.workspace.id, currency="TWD", start=start, end=end,
                            customer_ids=[customer_id])  # fmt: skip
    assert list(spent.values()) == [11_000]  # NT$10 + NT$100


def test_yearly_review_with_grace_and_one_tier_down_at_most(program: Program) -> None:
    add_tiers(program)
    import_at(
        program,
        "2025-03-02T10:00:00+08:00",
        [coffee("A1", "C002", "2025-03-01T10:00:00+08:00", 120)],
        "a1.csv",
    )
    import_at(program, "2025-12-21T10:00:00+08:00", [
        coffee("A2", "C004", "2025-12-20T10:00:00+08:00", 40),
        coffee("A3", "C003", "2025-12-15T10:00:00+08:00", 24),  # NT$6,012: not enough yet
    ], "a2.csv")  # fmt: skip
    import_at(
        program,
        "2026-02-02T10:00:00+08:00",
        [coffee("B1", "C001", "2026-02-01T10:00:00+08:00", 40)],
        "b1.csv",
    )
    import_at(
        program,
        "2026-06-02T10:00:00+08:00",
        [coffee("B2", "C002", "2026-06-01T10:00:00+08:00", 20)],
        "b2.csv",
    )
    # NT$6,012 + NT$5,010 = NT$11,022 in the window on 2 Aug 2026: 高級會員 since then.
    import_at(
        program,
        "2026-08-02T10:00:00+08:00",
        [coffee("B3", "C003", "2026-08-01T10:00:00+08:00", 20)],
        "b3.csv",
    )
    assert [tier_of(program, c) for c in ("C001", "C002", "C003", "C004")] == [
        "premium",
        "vip",
        "premium",
        "premium",
    ]
    with transaction(program.engine) as session, frozen(utc("2027-01-05T01:00:00Z")):
        report = tiers.review(session, workspace=program.workspace)
    # Calendar 2026 spend: C001 NT$10,020 ≥ 高級 → kept; C002 NT$5,010, VIP since Mar 2025 → one tier down only
    # (高級); C003 NT$5,010 but 高級 since 2 Aug 2026, after 1 Jul 2026 (6 months before the review) → grace;
    # C004 nothing in 2026, 高級 since Dec 2025 → 一般.
    assert (report.members, report.kept, report.grace, report.downgraded, report.upgraded) == (4, 1, 1, 2, 0)
    assert [tier_of(program, c) for c in ("C001", "C002", "C003", "C004")] == [
        "premium",
        "premium",
        "premium",
        "member",
    ]
    with transaction(program.engine) as session, frozen(utc("2027-01-06T01:00:00Z")):
        assert tiers.review(session, workspace=program.workspace).members == 0  # once a year
    with transaction(program.engine) as session:
        history = tiers.member_tier(session, workspace=program.workspace, customer_external_id="C002").history
    assert [(m.from_tier, m.to_tier, m.reason, m.qualifying) for m in reversed(history)] == [
        ("member", "vip", "upgrade", "30060.00"), ("vip", "premium", "review_downgrade", "5010.00")
    ]  # fmt: skip
    with transaction(program.engine) as session, frozen(utc("2028-01-02T01:00:00Z")):
        later = tiers.review(session, workspace=program.workspace)
    # 2028: C003's grace is over and 2027 brought nothing: down to 一般; C001, C002 also spent nothing in 2027.
    assert (later.members, later.downgraded) == (3, 3)
    assert [tier_of(program, c) for c in ("C001", "C002", "C003")] == ["member", "member", "member"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"threshold": "5"}, "loyalty.tier_first_threshold"),
        ({"names": {"zh-Hant": "一般會員", "en": "Member"}}, "loyalty.tier_names"),
    ],
)
def test_bad_tier_sets_are_refused_by_name(program: Program, change: dict[str, Any], code: str) -> None:
    document = {**TIERS, "tiers": [{**TIERS["tiers"][0], **change}, *TIERS["tiers"][1:]]}
    with pytest.raises(PatronError) as caught, transaction(program.engine) as session:
        tiers.add_tier_set(session, workspace=program.workspace, data=TierSetCreate.model_validate(document))
    assert caught.value.code == code
