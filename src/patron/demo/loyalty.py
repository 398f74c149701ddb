"""The demo's loyalty program: launched a year before the demo's last day, its points earned from the demo's
orders through the ledger's own service, a week at a time with the clock at the week's last evening, so the
dashboard's months, the customer pages' lots and the expiry job all show real history.

The program enrols by consent: before the year is played, the customers who agreed to join at their first
purchase since the launch (``CONSENT_CHANCE``; at the till or on the web shop) are enrolled with that moment as
their consent, through the enrolment import (``patron import loyalty_members``); a few said no (rows the import
rejects) and the rest were never asked, so neither are members and their orders earn nothing. In the last week
``LEAVERS`` members leave the program (their points forfeited).

Every week the expiry job runs (12-month expiry, so the first month's lots expire in the last month), a dozen
members holding at least ``VOUCHER_SMALL`` points redeem a voucher, and a few orders of a week before are
refunded whole (their points go back, as debt where they were spent). Seeded: the same seed gives
the same ledger. A workspace whose program already has entries is left as it is (loading twice changes
nothing; its orders' imports keep their points in line).
"""

from __future__ import annotations

import csv
import random
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from patron.commerce.models import Order
from patron.core import clock
from patron.core import service as core_service
from patron.core.clock import as_utc
from patron.core.db import transaction
from patron.customers.models import Customer
from patron.importers import import_file
from patron.loyalty import service, tiers
from patron.loyalty.birthday import give_birthday_rewards
from patron.loyalty.models import Enrolment, Entry, EntryKind, ExpiryPolicy, Member
from patron.loyalty.orders import EARNING_STATUSES, refund_order, sync_orders
from patron.loyalty.schemas import EarnRuleCreate, ProgramUpdate, RefundCreate, TierSetCreate

PROGRAM_NAME = "茶友會"
LAUNCH_MONTHS_BEFORE_END = 12
#: Twelve months, as most programs: with the launch 12 months back, the first month's lots expire in the last
#: month (each expired lot is one entry; 6 months expired 35,000 lots and took 300 s on SQLite).
EXPIRY_MONTHS = 12
#: What a point costs the shop when redeemed: the catalog's NT$100 voucher is 80 points and NT$300 is 250 (NT$1.20–1.25).
POINT_VALUE = "1.2"
VOUCHER_SMALL, VOUCHER_LARGE = 100, 300
#: Members holding a voucher's worth of points who redeem one each week (chosen at random).
REDEMPTIONS_PER_WEEK = 12
STEP_DAYS = 7
#: An earning order is refunded whole a week later with this chance.
REFUND_CHANCE = 0.004
REFUND_AFTER_DAYS = 7
#: Tier thresholds (NT$ in the last 12 months), set so that the demo's customers fill every tier.
PREMIUM_SPEND, VIP_SPEND = "6000", "20000"
#: Customers who agreed to join at their first purchase since the launch; of the others, this share said no.
CONSENT_CHANCE, REFUSED_CHANCE = 0.85, 0.05
#: Members who leave the program in the demo's last week.
LEAVERS = 3


@dataclass
class LoyaltyReport:
    members: int = 0
    earned: int = 0
    redeemed: int = 0
    expired: int = 0
    reversed: int = 0


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _rules(launch: datetime, anniversary: date) -> list[EarnRuleCreate]:
    """v1 at launch: 1 point per NT$100, tea leaves ×1.5, gift boxes ×2, 50 points on the first purchase;
    v2 half a year later adds a double-points weekend for the brand's anniversary."""
    first = {"effective_from": launch.isoformat(), "currency": "TWD", "points_per_unit": 1, "per_amount": "100",
             "category_multipliers": {"tea_leaves": 150, "gift_boxes": 200}, "first_purchase_bonus": 50}  # fmt: skip
    zone = launch.tzinfo
    second_start = datetime.combine(_month_start(anniversary, 0), time(), zone)
    weekend = datetime.combine(anniversary, time(), zone)
    second = first | {"effective_from": second_start.isoformat(),
                      "bonus_periods": [{"start": weekend.isoformat(),
                                         "end": (weekend + timedelta(days=2)).isoformat(), "percent": 200}]}  # fmt: skip
    return [EarnRuleCreate.model_validate(first), EarnRuleCreate.model_validate(second)]


def _tiers(launch: datetime) -> TierSetCreate:
    """一般會員 / 高級會員 / VIP on the spend of the last 12 months; reviewed every January, 6 months' grace."""
    return TierSetCreate.model_validate({
        "effective_from": launch.isoformat(), "currency": "TWD", "window_months": 12, "review_month": 1,
        "grace_months": 6,
        "tiers": [
            {"code": "member", "names": {"zh-Hant": "一般會員", "zh-Hans": "一般会员", "en": "Member"},
             "birthday_points": 20},
            {"code": "premium", "names": {"zh-Hant": "高級會員", "zh-Hans": "高级会员", "en": "Premium"},
             "threshold": PREMIUM_SPEND, "discount_percent": 5, "points_percent": 150, "birthday_points": 60},
            {"code": "vip", "names": {"zh-Hant": "VIP 會員", "zh-Hans": "VIP 会员", "en": "VIP"},
             "threshold": VIP_SPEND, "discount_percent": 10, "points_percent": 200, "birthday_points": 200,
             "exclusive_events": True, "early_access": True},
        ],
    })  # fmt: skip


def _consents(
    session: Session, workspace_id: int, launch: datetime, rng: random.Random
) -> list[tuple[str, ...]]:
    """Rows of the enrolment import: each customer who bought since the launch consented at that first purchase
    (at the till or on the web shop) with ``CONSENT_CHANCE``, said no with ``REFUSED_CHANCE``, else was never
    asked (no row)."""
    first = (
        select(Order.customer_id, func.min(Order.ordered_at).label("at"))
        .where(Order.workspace_id == workspace_id, Order.ordered_at >= launch)
        .group_by(Order.customer_id)
        .subquery()
    )
    rows: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for external_id, at, channel in session.execute(
        select(Customer.external_id, first.c.at, Order.channel)
        .join(first, first.c.customer_id == Customer.id)
        .join(Order, (Order.customer_id == Customer.id) & (Order.ordered_at == first.c.at))
        .where(Customer.workspace_id == workspace_id, Order.workspace_id == workspace_id)
        .order_by(Customer.external_id, Order.id)
    ):
        if external_id in seen:
            continue
        seen.add(external_id)
        draw = rng.random()
        source = "pos" if channel == "store" else "web_form"
        if draw < CONSENT_CHANCE:
            rows.append((external_id, as_utc(at).isoformat(), "yes", source, "demo"))
        elif draw < CONSENT_CHANCE + REFUSED_CHANCE:
            rows.append((external_id, as_utc(at).isoformat(), "no", source, "demo"))
    return rows


def _enrol(engine: Engine, slug: str, rows: list[tuple[str, ...]]) -> None:
    """Enrol with the import engine, as a shop would load its membership forms."""
    with tempfile.TemporaryDirectory(prefix="patron-demo-") as folder:
        path = Path(folder) / "loyalty_members.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("customer", "consented_at", "consent", "source", "recorded_by"))
            writer.writerows(rows)
        import_file(engine, workspace_slug=slug, kind="loyalty_members", path=path, rejects_path=False)


def load_loyalty(engine: Engine, *, slug: str, end: date, seed: int) -> LoyaltyReport | None:
    """Create the program and play its year; None when the program already has entries (left as it is)."""
    rng = random.Random(seed)
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        if session.scalar(select(func.count()).select_from(Entry).where(Entry.workspace_id == workspace.id)):
            return None
        zone = ZoneInfo(workspace.timezone)
        launch_day = _month_start(end, LAUNCH_MONTHS_BEFORE_END)
        launch = datetime.combine(launch_day, time(), zone)
        if service.get_program(session, workspace.id) is None:
            service.set_program(session, workspace=workspace, data=ProgramUpdate(
                name=PROGRAM_NAME, expiry_policy=ExpiryPolicy.MONTHS, expiry_months=EXPIRY_MONTHS,
                point_value=POINT_VALUE, enrolment=Enrolment.CONSENT))  # fmt: skip
            anniversary = _month_start(end, LAUNCH_MONTHS_BEFORE_END // 2) + timedelta(days=9)
            for rule in _rules(launch, anniversary):
                service.add_rule(session, workspace=workspace, data=rule, actor="demo")
        if tiers.current_set(session, workspace.id, launch) is None:
            tiers.add_tier_set(session, workspace=workspace, data=_tiers(launch), actor="demo")
        by_day: dict[date, list[int]] = defaultdict(list)
        earning: dict[date, list[str]] = defaultdict(list)
        for order_id, external_id, ordered_at, status in session.execute(
            select(Order.id, Order.external_id, Order.ordered_at, Order.status)
            .where(Order.workspace_id == workspace.id, Order.ordered_at >= launch)
            .order_by(Order.ordered_at, Order.id)
        ):
            day = ordered_at.astimezone(zone).date()
            by_day[day].append(order_id)
            if status in EARNING_STATUSES:
                earning[day].append(external_id)
        consents = _consents(session, workspace.id, launch, rng)
    _enrol(engine, slug, consents)
    now = clock.utcnow()
    week = launch_day
    while week <= end:
        # A week at a time: one transaction each, the clock at its last evening.
        days = [week + timedelta(days=i) for i in range(STEP_DAYS) if week + timedelta(days=i) <= end]
        evening = min(datetime.combine(days[-1], time(21), zone), now)
        with clock.frozen(evening), transaction(engine) as session:
            workspace = core_service.get_workspace(session, slug)
            service.expire_due(
                session, workspace_id=workspace.id
            )  # first: balances are exact for redemptions
            tiers.review(session, workspace=workspace)  # acts once a year, in January
            give_birthday_rewards(session, workspace=workspace)  # once per member and year
            placed = [order_id for day in days for order_id in by_day.get(day, [])]
            if placed:
                sync_orders(session, workspace=workspace, order_ids=placed)
            for day in days:
                for external_id in earning.get(day - timedelta(days=REFUND_AFTER_DAYS), []):
                    if rng.random() < REFUND_CHANCE:
                        refund_order(session, workspace=workspace, order_external_id=external_id,
                                     data=RefundCreate(idempotency_key=f"demo-refund-{external_id}"))  # fmt: skip
            holders = session.execute(
                select(Customer.external_id, Member.points)
                .join(
                    Member,
                    (Member.customer_id == Customer.id) & (Member.workspace_id == Customer.workspace_id),
                )
                .where(Member.workspace_id == workspace.id, Member.points >= VOUCHER_SMALL)
                .order_by(Customer.external_id)
            ).all()
            chosen = rng.sample(holders, min(len(holders), REDEMPTIONS_PER_WEEK))
            for customer, points in sorted(chosen):
                value = VOUCHER_LARGE if points >= VOUCHER_LARGE and rng.random() < 0.5 else VOUCHER_SMALL
                service.redeem(session, workspace=workspace, customer_external_id=customer, points=value,
                               reason=f"兌換 NT${value} 折價券", idempotency_key=f"demo-redeem-{customer}-{week}")  # fmt: skip
            if week + timedelta(days=STEP_DAYS) > end:  # the last week: a few members leave
                for customer, _points in rng.sample(holders, min(len(holders), LEAVERS)):
                    service.unenrol(session, workspace=workspace, customer_external_id=customer, actor="demo",
                                    reason="會員要求退出")  # fmt: skip
        week += timedelta(days=STEP_DAYS)
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        report = LoyaltyReport(
            members=int(
                session.scalar(
                    select(func.count()).select_from(Member).where(Member.workspace_id == workspace.id)
                )
                or 0
            )
        )
        for kind, total in session.execute(
            select(Entry.kind, func.sum(Entry.points))
            .where(Entry.workspace_id == workspace.id)
            .group_by(Entry.kind)
        ):
            if kind == EntryKind.EARN.value:
                report.earned = int(total)
            elif kind == EntryKind.REDEEM.value:
                report.redeemed = -int(total)
            elif kind == EntryKind.EXPIRE.value:
                report.expired = -int(total)
            elif kind == EntryKind.REVERSE.value:
                report.reversed = -int(total)
    return report
