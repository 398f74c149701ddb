"""Tiers under random sequences of orders, partial refunds, cancellations, adjustments and redemptions over
years (a review every step, as a daily scheduler would): a redemption or an adjustment never moves a tier, and
after every step the member's tier (and since when they hold it) is the one worked out here, by hand, from the
qualifying spend alone: the rules of docs/loyalty.md ("Tiers") written out again without the code under test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from patron.commerce.models import Order, OrderLine
from patron.core import clock
from patron.core.clock import as_utc
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.customers.models import Customer
from patron.loyalty import orders, service, tiers
from patron.loyalty.models import Member, MemberTier
from patron.loyalty.schemas import RefundCreate, RefundLine, TierSetCreate
from tests.loyalty.conftest import Program, utc

TAIPEI = ZoneInfo("Asia/Taipei")
START = utc("2026-11-24T02:00:00+00:00")
PRICE = 40_000  # NT$400 a unit, in minor units
#: 一般 from 0, 高級 from NT$1,000, VIP from NT$3,000 in the last 12 months; review 1 January, 6 months' grace.
THRESHOLDS = (0, 100_000, 300_000)
TIERS: dict[str, Any] = {
    "effective_from": "2025-01-01T00:00:00+08:00",
    "currency": "TWD",
    "window_months": 12,
    "review_month": 1,
    "grace_months": 6,
    "tiers": [
        {"code": "member", "names": {"zh-Hant": "一般會員", "zh-Hans": "一般会员", "en": "Member"}},
        {"code": "premium", "names": {"zh-Hant": "高級會員", "zh-Hans": "高级会员", "en": "Premium"},
         "threshold": "1000", "points_percent": 150},
        {"code": "vip", "names": {"zh-Hant": "VIP", "zh-Hans": "VIP", "en": "VIP"}, "threshold": "3000",
         "points_percent": 200},
    ],
}  # fmt: skip
CODES = [t["code"] for t in TIERS["tiers"]]
_ids = itertools.count(1)


# ----------------------------------------------------------------------------------- the rules, by hand
def year_before(moment: datetime) -> datetime:
    """The same day and time one year earlier on Taipei's clock (29 February → 28 February)."""
    local = moment.astimezone(TAIPEI)
    day = 28 if (local.month, local.day) == (2, 29) else local.day
    return as_utc(local.replace(year=local.year - 1, day=day))


@dataclass
class HandOrder:
    at: datetime
    units: int
    refunded: int = 0
    cancelled: bool = False


@dataclass
class Hand:
    orders: list[HandOrder] = field(default_factory=list)
    tier: int = 0
    since: datetime | None = None
    reviewed_year: int | None = None

    def spend(self, start: datetime, end: datetime) -> int:
        """Paid lines placed in [start, end), each less its refunded share, rounded down."""
        return sum(
            PRICE * o.units - PRICE * o.units * o.refunded // o.units
            for o in self.orders
            if not o.cancelled and start <= o.at < end
        )

    @staticmethod
    def qualifies(amount: int) -> int:
        return max(i for i, threshold in enumerate(THRESHOLDS) if amount >= threshold)

    def synced(self, now: datetime) -> None:
        """Upgrade at once: the spend in the 12 months ending now reaches a higher tier (never down)."""
        target = self.qualifies(self.spend(year_before(now), now))
        if target > self.tier:
            self.tier, self.since = target, now

    def review(self, now: datetime) -> None:
        """The yearly review on 1 January (Taipei), judged on the calendar year before it, with 6 months' grace."""
        year = now.astimezone(TAIPEI).year
        at = as_utc(datetime(year, 1, 1, tzinfo=TAIPEI))
        if self.tier == 0 or (self.reviewed_year or 0) >= year or self.since is None or self.since >= at:
            return
        qualifies = self.qualifies(self.spend(as_utc(datetime(year - 1, 1, 1, tzinfo=TAIPEI)), at))
        self.reviewed_year = year
        if qualifies > self.tier:
            self.tier, self.since = qualifies, at
        elif qualifies == self.tier or self.since > as_utc(datetime(year - 1, 7, 1, tzinfo=TAIPEI)):
            pass  # kept, or reached less than 6 months before the review: kept in grace
        else:
            self.tier, self.since = max(qualifies, self.tier - 1), at  # one tier down at most


# ----------------------------------------------------------------------------------- the sequences
step = st.one_of(
    st.tuples(st.just("order"), st.integers(1, 5)),
    st.tuples(st.just("refund"), st.integers(1, 3)),
    st.tuples(st.just("cancel"), st.integers(0, 3)),
    st.tuples(st.just("earn"), st.integers(1, 5000)),  # points adjusted in: never a promotion
    st.tuples(st.just("redeem"), st.integers(1, 400)),  # points spent: never a demotion
)
#: A year of steps by hand: 高級 on 4 December 2026 (NT$1,200), VIP on 10 March 2027 (NT$3,200 in the window);
#: 3 of its 5 units refunded (NT$2,000 − ⌊2,000 × 3 / 5⌋ = NT$800 left: the window is NT$2,000, VIP kept, no
#: downgrade before the review); 5,000 adjusted points and redemptions move nothing; the review of 1 January 2028
#: judges 2027: NT$800 + NT$800 (27 November) = NT$1,600 → 高級 qualifies, VIP since March (more than 6 months
#: before the review, no grace) → one tier down, 高級 since 1 January 2028.
HAND = [
    (("order", 3), 10), (("earn", 5000), 1), (("order", 5), 95), (("redeem", 30), 1), (("refund", 3), 1),
    (("redeem", 200), 60), (("order", 2), 200), (("earn", 1), 50), (("redeem", 10), 20),
]  # fmt: skip


def _tier(program: Program, cid: int) -> tuple[str, datetime | None]:
    with transaction(program.engine) as session:
        row = session.execute(
            select(MemberTier.tier, MemberTier.since)
            .join(Member, Member.id == MemberTier.member_id)
            .where(Member.workspace_id == program.workspace.id, Member.customer_id == cid)
        ).first()
    return (row[0], as_utc(row[1])) if row else (CODES[0], None)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(step, st.integers(0, 100)), min_size=1, max_size=25))
@example(steps=HAND)
def test_tiers_follow_qualifying_spend_and_never_redemptions(
    program: Program, steps: list[tuple[tuple[str, int], int]]
) -> None:
    ws = program.workspace
    with transaction(program.engine) as session:
        if not tiers.list_tier_sets(session, workspace_id=ws.id):
            tiers.add_tier_set(session, workspace=ws, data=TierSetCreate.model_validate(TIERS), actor="tests")
        n = next(_ids)
        customer = Customer(workspace_id=ws.id, external_id=f"T{n:05d}")
        session.add(customer)
        session.flush()
        cid = customer.id
    hand, placed, now = Hand(), [], START
    for index, ((kind, amount), days) in enumerate(steps):
        now += timedelta(days=days)
        key = f"t{n}-{index}"
        before = _tier(program, cid)
        with clock.frozen(now):
            try:
                with transaction(program.engine) as session:
                    if kind == "order":
                        at = now - timedelta(hours=1)
                        order = Order(workspace_id=ws.id, external_id=f"TO{n}-{index}", customer_id=cid, ordered_at=at,
                                      status="completed", currency="TWD", total_minor=PRICE * amount)  # fmt: skip
                        session.add(order)
                        session.flush()
                        session.add(OrderLine(workspace_id=ws.id, order_id=order.id, line_no=1, quantity=amount,
                                              unit_price_minor=PRICE, discount_minor=0, amount_minor=PRICE * amount))  # fmt: skip
                        session.flush()
                        orders.sync_orders(session, workspace=ws, order_ids=[order.id])
                        placed.append(order.external_id)
                        hand.orders.append(HandOrder(at, amount))
                        hand.synced(now)
                    elif kind == "refund" and placed:
                        orders.refund_order(session, workspace=ws, order_external_id=placed[-1],
                                            data=RefundCreate(idempotency_key=key, lines=[RefundLine(line_no=1, quantity=amount)]))  # fmt: skip
                        hand.orders[-1].refunded += amount
                        hand.synced(now)
                    elif kind == "cancel" and placed:
                        which = placed[amount % len(placed)]
                        session.execute(update(Order).where(Order.workspace_id == ws.id, Order.external_id == which)
                                        .values(status="cancelled"))  # fmt: skip
                        ids = list(session.scalars(select(Order.id).where(Order.workspace_id == ws.id,
                                                                          Order.external_id == which)))  # fmt: skip
                        orders.sync_orders(session, workspace=ws, order_ids=ids)
                        hand.orders[amount % len(placed)].cancelled = True
                        hand.synced(now)
                    elif kind == "earn":
                        service.adjust(session, workspace=ws, customer_external_id=f"T{n:05d}", points=amount,
                                       reason="goodwill", idempotency_key=key, actor="hypothesis")  # fmt: skip
                    elif kind == "redeem":
                        service.redeem(session, workspace=ws, customer_external_id=f"T{n:05d}", points=amount,
                                       reason="voucher", idempotency_key=key)  # fmt: skip
            except PatronError as error:  # a refused step moves nothing, in the database and by hand
                assert error.code in ("loyalty.insufficient_points", "loyalty.refund_too_much",
                                      "loyalty.member_not_found")  # fmt: skip
            if kind in ("earn", "redeem"):
                assert _tier(program, cid) == before, (kind, amount)  # points never move a tier
            with transaction(program.engine) as session:
                tiers.review(session, workspace=ws)  # daily, as a scheduler runs it; acts once a year
            hand.review(now)
        code, since = _tier(program, cid)
        assert (code, since) == (CODES[hand.tier], hand.since), (index, kind, amount, now)
    if steps == HAND:  # the hand-worked year, pinned
        assert _tier(program, cid) == ("premium", utc("2027-12-31T16:00:00+00:00"))
    with transaction(program.engine) as session:
        assert service.check(session, workspace_id=ws.id).differences == []
