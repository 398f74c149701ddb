"""The demo's rewards catalog, redemptions and referrals, played after the points year (``demo.loyalty``) through
the services themselves, seeded: six rewards (vouchers, a discount, tea bags, a tea snack, a tea class); over the last
four weeks the members holding the most points redeem one, and of those coupons most are used at a shop, some
cancelled, the rest still open; referral terms, and new customers of the last four months recorded as referred
the day before their first purchase, with a few refusals of each kind the demo can show (self-referral, not new,
referred twice, over the cap), then the settlement job at the end."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from patron.commerce.models import Order
from patron.core import clock
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.customers.models import Customer
from patron.loyalty import coupons, referrals, rewards
from patron.loyalty.models import Member
from patron.loyalty.orders import EARNING_STATUSES, sync_orders
from patron.loyalty.schemas import ReferralCreate, ReferralSettingsUpdate, RewardCreate

#: Members holding the most points who redeem a reward over the last four weeks.
REDEEMERS = 60
#: Referred new customers (at most), referrers among members.
REFEREES, REFERRERS = 40, 12


@dataclass
class RewardsReport:
    rewards: int = 0
    coupons: int = 0
    used: int = 0
    cancelled: int = 0
    referrals: int = 0
    rewarded: int = 0
    refused: int = 0


def _catalog(end: date, zone: ZoneInfo) -> list[RewardCreate]:
    start = datetime.combine(end - timedelta(days=30), time(), zone)
    until = datetime.combine(end + timedelta(days=60), time(), zone)
    items = [
        {"code": "V100", "kind": "voucher", "amount": "100", "points_cost": 80, "stock": 500, "per_member_limit": 3,
         "name_zh_hant": "百元折價券", "name_zh_hans": "百元代金券", "name_en": "NT$100 voucher"},
        {"code": "V300", "kind": "voucher", "amount": "300", "points_cost": 250, "stock": 100,
         "name_zh_hant": "三百元折價券", "name_zh_hans": "三百元代金券", "name_en": "NT$300 voucher"},
        {"code": "DISC15", "kind": "discount", "percent": 15, "points_cost": 150, "per_member_limit": 1,
         "name_zh_hant": "全單八五折", "name_zh_hans": "全单八五折", "name_en": "15% off one order"},
        {"code": "SAMPLE", "kind": "free_product", "points_cost": 40,
         "name_zh_hant": "試飲茶包一盒", "name_zh_hans": "试饮茶包一盒", "name_en": "A box of tasting tea bags"},
        {"code": "SNACK", "kind": "free_product", "points_cost": 60, "stock": 200,
         "name_zh_hant": "手工茶點一份", "name_zh_hans": "手工茶点一份", "name_en": "A handmade tea snack"},
        {"code": "CLASS", "kind": "experience", "points_cost": 500, "stock": 20, "per_member_limit": 1,
         "valid_from": start.isoformat(), "valid_until": until.isoformat(),
         "name_zh_hant": "茶藝體驗課", "name_zh_hans": "茶艺体验课", "name_en": "Tea ceremony class"},
    ]  # fmt: skip
    return [RewardCreate.model_validate(item) for item in items]


def load_rewards(engine: Engine, *, slug: str, end: date, seed: int) -> RewardsReport:
    rng = random.Random(seed + 15)
    report = RewardsReport()
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        zone = ZoneInfo(workspace.timezone)
        for item in _catalog(end, zone):
            rewards.create_reward(session, workspace=workspace, data=item, actor="demo")
            report.rewards += 1
        holders = session.execute(
            select(Customer.external_id, Member.points)
            .join(
                Member, (Member.customer_id == Customer.id) & (Member.workspace_id == Customer.workspace_id)
            )
            .where(Member.workspace_id == workspace.id, Member.points >= 40)
            .order_by(Member.points.desc(), Customer.external_id)
            .limit(REDEEMERS)
        ).all()
        catalog = sorted(rewards.list_rewards(session, workspace=workspace), key=lambda r: r.code)
    now = clock.utcnow()
    for i, (customer, points) in enumerate(holders):
        day = end - timedelta(days=27 - (i * 28) // max(len(holders), 1))
        moment = min(datetime.combine(day, time(15), zone), now)
        affordable = [
            r for r in catalog if r.points_cost <= points and (r.valid_from is None or r.valid_from <= moment)
        ]
        if not affordable:
            continue
        reward = rng.choice(affordable)
        fate = rng.random()
        try:
            with clock.frozen(moment), transaction(engine) as session:
                workspace = core_service.get_workspace(session, slug)
                coupon = rewards.redeem_reward(session, workspace=workspace, code=reward.code,
                                               customer_external_id=customer, idempotency_key=f"demo-reward-{customer}")  # fmt: skip
                report.coupons += 1
                if fate < 0.6:
                    coupons.use_coupon(
                        session, workspace=workspace, code=coupon.code, reference=f"POS-{i:04d}"
                    )
                    report.used += 1
                elif fate < 0.7:
                    coupons.cancel_coupon(session, workspace=workspace, code=coupon.code, actor="demo")
                    report.cancelled += 1
        except PatronError:  # out of stock or over a limit: the member picks nothing this time
            continue
    _referrals(engine, slug=slug, end=end, rng=rng, report=report)
    return report


def _referrals(engine: Engine, *, slug: str, end: date, rng: random.Random, report: RewardsReport) -> None:
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        zone = ZoneInfo(workspace.timezone)
        referrals.set_settings(session, workspace=workspace, data=ReferralSettingsUpdate(
            referrer_points=200, referee_points=100, return_days=30, cap=5, min_spend="300"))  # fmt: skip
        first = (
            select(Order.customer_id, func.min(Order.ordered_at).label("first"))
            .where(Order.workspace_id == workspace.id, Order.status.in_(EARNING_STATUSES))
            .group_by(Order.customer_id)
            .subquery()
        )
        since = datetime.combine(end - timedelta(days=120), time(), zone)
        newcomers = session.execute(
            select(Customer.external_id, first.c.first)
            .join(first, first.c.customer_id == Customer.id)
            .where(Customer.workspace_id == workspace.id, first.c.first >= since)
            .order_by(first.c.first, Customer.external_id)
        ).all()
        old = session.scalars(
            select(Customer.external_id)
            .join(first, first.c.customer_id == Customer.id)
            .where(Customer.workspace_id == workspace.id, first.c.first < since)
            .order_by(Customer.external_id)
            .limit(200)
        ).all()
        members = session.scalars(
            select(Customer.external_id)
            .join(
                Member, (Member.customer_id == Customer.id) & (Member.workspace_id == Customer.workspace_id)
            )
            .where(Member.workspace_id == workspace.id, Member.points > 0)
            .order_by(Customer.external_id)
        ).all()
        chosen = set(rng.sample(list(newcomers), min(REFEREES, len(newcomers))))
        newcomers = [n for n in newcomers if n in chosen]
        referrers = [
            c
            for c in rng.sample(list(members), min(REFERRERS, len(members)))
            if c not in {n[0] for n in newcomers}
        ]
        codes = {
            c: referrals.member_code(session, workspace=workspace, customer_external_id=c).code
            for c in referrers
        }
    if not referrers or not newcomers:
        return
    # the first referrer brings 7 (2 over the cap of 5); the others share the rest
    plan = [(referrers[0] if i < 7 else referrers[1 + i % (len(referrers) - 1)] if len(referrers) > 1 else referrers[0],
             customer, as_of - timedelta(days=1)) for i, (customer, as_of) in enumerate(newcomers)]  # fmt: skip
    early = plan[0][2]
    plan += [(r, r, early) for r in referrers[:3]]  # self-referrals
    plan += [(referrers[-1], c, early) for c in rng.sample(list(old), min(2, len(old)))]  # not new customers
    plan.append((referrers[-1], newcomers[-1][0], newcomers[-1][1]))  # the same new customer again
    for referrer, customer, moment in sorted(plan, key=lambda p: (p[2], p[1])):
        with clock.frozen(moment), transaction(engine) as session:
            workspace = core_service.get_workspace(session, slug)
            read = referrals.record(session, workspace=workspace, data=ReferralCreate(code=codes[referrer],
                                                                                       customer_id=customer))  # fmt: skip
        report.referrals += 1
        report.refused += read.status == "refused"
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        # New customers who joined through the referral (not by the program's enrolment import) earn for their
        # orders since then, as the next import or `patron loyalty sync` would give them.
        joined = session.scalars(
            select(Order.id)
            .join(
                Member,
                (Member.customer_id == Order.customer_id) & (Member.workspace_id == Order.workspace_id),
            )
            .where(Order.workspace_id == workspace.id, Member.consent_source == "referral")
        ).all()
        sync_orders(session, workspace=workspace, order_ids=joined)
        report.rewarded = referrals.settle(session, workspace=workspace).rewarded
