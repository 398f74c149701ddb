"""The demo's loyalty program: earned through the ledger's service from the demo's orders, consistent, with
every kind of movement, and left as it is when the demo is loaded again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from patron.analytics.models import ChurnScore, ClvScore
from patron.commerce.models import Order
from patron.core import service as core_service
from patron.core.db import transaction
from patron.demo.loader import load_demo
from patron.loyalty import service, tiers
from patron.loyalty.models import Coupon, Entry, Member, Referral

CATALOG_REASONS = ("reward", "coupon_cancelled", "referral_referrer", "referral_referee")


def test_the_demo_has_a_running_program(engine: Engine, tmp_path: Path) -> None:
    said: list[str] = []
    slug = f"demo-loyalty-{engine.dialect.name}-{tmp_path.name[-6:]}".lower().replace("_", "-")
    load_demo(engine, slug=slug, customers=120, seed=3, end=date(2026, 10, 31), admin_password="0123456789ab",
              data_dir=tmp_path, log=said.append, locale="en")  # fmt: skip
    line = next(s for s in said if s.startswith("  loyalty: "))
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        assert service.check(session, workspace_id=workspace.id).differences == []
        assert service.program_read(service.require_program(session, workspace.id)).point_value == "1.2"
        # the points year's own entries (the rewards catalog and referrals come after it, below; customers who
        # joined through a referral were no members during the year)
        kinds = dict(session.execute(select(Entry.kind, func.sum(Entry.points)).where(
            Entry.workspace_id == workspace.id, Entry.reason.not_in(CATALOG_REASONS), Entry.member_id.not_in(
            select(Member.id).where(Member.workspace_id == workspace.id, Member.consent_source == "referral")),
        ).group_by(Entry.kind)).all())  # fmt: skip
        total = session.scalar(select(func.sum(Entry.points)).where(Entry.workspace_id == workspace.id))
        coupons = dict(session.execute(select(Coupon.status, func.count()).where(
            Coupon.workspace_id == workspace.id).group_by(Coupon.status)).all())  # fmt: skip
        referrals = dict(session.execute(select(Referral.status, func.count()).where(
            Referral.workspace_id == workspace.id).group_by(Referral.status)).all())  # fmt: skip
        rewarded_points = session.scalar(select(func.sum(Entry.points)).where(
            Entry.workspace_id == workspace.id, Entry.source == "referral"))  # fmt: skip
        members = session.scalar(
            select(func.count()).select_from(Member).where(Member.workspace_id == workspace.id)
        )
        joined = dict(session.execute(select(Member.consent_source, func.count()).where(
            Member.workspace_id == workspace.id).group_by(Member.consent_source)).all())  # fmt: skip
        left = session.scalar(select(func.count()).select_from(Member).where(
            Member.workspace_id == workspace.id, Member.left_at.is_not(None)))  # fmt: skip
        buyers = session.scalar(select(func.count(func.distinct(Order.customer_id))).where(
            Order.workspace_id == workspace.id, Order.ordered_at >= datetime(2025, 10, 1, tzinfo=UTC)))  # fmt: skip
        program = service.program_read(service.require_program(session, workspace.id))
        first = session.scalar(select(func.min(Entry.created_at)).where(Entry.workspace_id == workspace.id))
        by_tier = [(tier["code"], count) for tier, count in tiers.members_by_tier(session, workspace.id)]
        birthdays = session.scalar(
            select(func.count()).where(Entry.workspace_id == workspace.id, Entry.source == "birthday")
        )
    assert all(count > 0 for _, count in by_tier), by_tier  # members in every tier
    assert sum(count for _, count in by_tier) == members - left and birthdays  # those who left: in no tier
    assert kinds["earn"] > 0 and kinds["redeem"] < 0 and kinds["expire"] < 0
    # The program enrols by consent: at the till or on the web shop at the first purchase since the launch,
    # through the enrolment import; some buyers never joined (their orders earned nothing), a few left at the end.
    assert program.enrolment == "consent" and set(joined) <= {"pos", "web_form", "referral"}
    assert joined.get("pos", 0) + joined.get("web_form", 0) < buyers and left == 3
    assert line == (f"  loyalty: {members - joined.get('referral', 0)} members, {kinds['earn']} points earned, {-kinds['redeem']} redeemed, "
                    f"{-kinds['expire']} expired, {-kinds.get('reverse', 0)} reversed")  # fmt: skip
    rewards_line = next(s for s in said if s.startswith("  Rewards: "))
    assert rewards_line == (
        f"  Rewards: 6 in the catalog, {sum(coupons.values())} coupons ({coupons.get('used', 0)} used at a shop, "
        f"{coupons.get('cancelled', 0)} cancelled); referrals: {sum(referrals.values())} recorded, "
        f"{referrals.get('rewarded', 0)} rewarded, {referrals.get('refused', 0)} refused."
    )
    assert min(coupons.get(s, 0) for s in ("used", "cancelled", "issued")) > 0
    assert min(referrals.get(s, 0) for s in ("rewarded", "refused")) > 0
    assert rewarded_points == referrals["rewarded"] * 300  # 200 to the referrer, 100 to the new customer
    assert first is not None and first.date() >= date(2025, 10, 1)  # launched 12 months before the last month
    # 120 customers are too few for Pareto/NBD, the demo's model (the full demo of 5,000 is scored: docs/clv.md): the load goes on, says
    # why, and leaves no half-made scores; the tabs name the command that fills them
    assert (
        "  customer value and churn risk not scored: Pareto/NBD: the data cannot pin down the parameter beta"
        in " ".join(said)
    )
    with transaction(engine) as session:
        assert not session.scalar(
            select(func.count()).select_from(ClvScore).where(ClvScore.workspace_id == workspace.id)
        )
        assert not session.scalar(
            select(func.count()).select_from(ChurnScore).where(ChurnScore.workspace_id == workspace.id)
        )
    again: list[str] = []
    load_demo(engine, slug=slug, customers=120, seed=3, end=date(2026, 10, 31), admin_password="0123456789ab",
              data_dir=tmp_path, log=again.append, locale="en")  # fmt: skip
    assert "  loyalty: the program already has entries; left as it is" in again
    with transaction(engine) as session:
        assert (
            session.scalar(select(func.sum(Entry.points)).where(Entry.workspace_id == workspace.id)) == total
        )
