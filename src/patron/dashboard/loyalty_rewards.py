"""The Loyalty tab's rewards and referrals: per reward its stock and coupons (issued, used, not used yet,
cancelled) and the points they took; referrals recorded, pending, rewarded and refused by reason; the catalog's
latest changes with who made them. Snapshot figures as of now (a coupon past its expiry and never used counts
as "expired"); the segment filter narrows coupons to members, and referrals to referrers, in that segment."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from patron.core.clock import as_utc, utcnow
from patron.core.models import Workspace
from patron.dashboard.filters import Filters
from patron.dashboard.loyalty import _members
from patron.dashboard.service import labels
from patron.dashboard.tables import Column, DataTable
from patron.loyalty.models import (
    CatalogChange,
    Coupon,
    CouponStatus,
    Program,
    Referral,
    ReferralReason,
    ReferralStatus,
    Reward,
)
from patron.loyalty.rewards import reward_name

#: How many catalog changes the tab lists.
CHANGES_SHOWN = 10


def rewards_tables(
    session: Session, workspace: Workspace, filters: Filters, locale: str
) -> dict[str, DataTable]:
    """The tab's ``rewards``, ``referrals`` and ``catalog_changes`` tables (none without a program)."""
    if session.scalar(select(Program.id).where(Program.workspace_id == workspace.id)) is None:
        return {}
    t = labels(locale)
    members = _members(workspace.id, filters.segment).subquery()
    return {
        "rewards": _rewards(session, workspace.id, members, t, locale),
        "referrals": _referrals(session, workspace.id, members, t),
        "catalog_changes": _changes(session, workspace, t),
    }


def _rewards(session: Session, workspace_id: int, members: Any, t: Any, locale: str) -> DataTable:
    now = utcnow()
    issued = Coupon.status == CouponStatus.ISSUED.value
    counts = (
        select(
            Coupon.reward_id.label("reward_id"),
            func.count().label("all"),
            func.count().filter(Coupon.status == CouponStatus.USED.value).label("used"),
            func.count().filter(issued, Coupon.expires_at > now).label("open"),
            func.count().filter(issued, Coupon.expires_at <= now).label("expired"),
            func.count().filter(Coupon.status == CouponStatus.CANCELLED.value).label("cancelled"),
            func.sum(case((Coupon.status != CouponStatus.CANCELLED.value, Coupon.points), else_=0)).label(
                "points"
            ),
        )
        .where(Coupon.workspace_id == workspace_id, Coupon.member_id.in_(select(members.c.id)))
        .group_by(Coupon.reward_id)
        .subquery()
    )
    table = DataTable("rewards", t("loy.rewards"), [
        Column(t("loyalty.col_reward")), Column(t("loyalty.col_name")), Column(t("loyalty.col_kind")),
        Column(t("loyalty.col_cost"), "int"), Column(t("loy.stock"), "int", t("help.loy_stock")),
        Column(t("loyalty.col_left"), "int"), Column(t("loy.coupons_issued"), "int", t("help.loy_coupons_issued")),
        Column(t("loy.coupons_used"), "int"), Column(t("loy.coupons_open"), "int"),
        Column(t("loy.coupons_expired"), "int"), Column(t("loy.coupons_cancelled"), "int"),
        Column(t("loy.points_spent"), "int", t("help.loy_points_spent")), Column(t("loyalty.col_active"), "flag"),
    ])  # fmt: skip
    for reward, *cells in session.execute(
        select(
            Reward,
            func.coalesce(counts.c.all, 0),
            func.coalesce(counts.c.used, 0),
            func.coalesce(counts.c.open, 0),
            func.coalesce(counts.c.expired, 0),
            func.coalesce(counts.c.cancelled, 0),
            func.coalesce(counts.c.points, 0),
        )
        .outerjoin(counts, counts.c.reward_id == Reward.id)
        .where(Reward.workspace_id == workspace_id)
        .order_by(Reward.points_cost, Reward.code)
    ):
        left = None if reward.stock is None else reward.stock - reward.issued
        table.rows.append([reward.code, reward_name(reward, locale), t(f"loy.kind.{reward.kind}"), reward.points_cost,
                           reward.stock, left, *(int(c) for c in cells), reward.active])  # fmt: skip
    return table


def _referrals(session: Session, workspace_id: int, members: Any, t: Any) -> DataTable:
    """Referrals recorded, then by status, then the refused ones by reason (every reason listed, zeros too)."""
    rows = session.execute(
        select(Referral.status, Referral.reason, func.count())
        .where(Referral.workspace_id == workspace_id, Referral.referrer_id.in_(select(members.c.id)))
        .group_by(Referral.status, Referral.reason)
    ).all()
    by_status: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for status, reason, count in rows:
        by_status[status] = by_status.get(status, 0) + int(count)
        if reason:
            by_reason[reason] = by_reason.get(reason, 0) + int(count)
    table = DataTable(
        "referrals", t("loy.referrals"), [Column(t("loy.figure")), Column(t("loy.referrals_n"), "int")]
    )
    table.rows.append([t("loy.referrals_sent"), sum(by_status.values())])
    for status in (ReferralStatus.PENDING, ReferralStatus.REWARDED, ReferralStatus.REFUSED):
        table.rows.append([t(f"loy.referral.{status.value}"), by_status.get(status.value, 0)])
    for reason in ReferralReason:
        table.rows.append(["— " + t(f"loy.refused.{reason.value}"), by_reason.get(reason.value, 0)])
    return table


def _changes(session: Session, workspace: Workspace, t: Any) -> DataTable:
    zone = ZoneInfo(workspace.timezone)
    table = DataTable("catalog_changes", t("loy.catalog_changes"), [
        Column(t("loyalty.col_time")), Column(t("loyalty.col_reward")), Column(t("loyalty.col_by")),
        Column(t("loyalty.col_changes")),
    ])  # fmt: skip
    for change in session.scalars(
        select(CatalogChange)
        .where(CatalogChange.workspace_id == workspace.id)
        .order_by(CatalogChange.id.desc())
        .limit(CHANGES_SHOWN)
    ):
        when: datetime = as_utc(change.created_at).astimezone(zone)
        if change.action == "create":
            what = "; ".join(
                f"{field}: {_cell(new)}" for field, (_, new) in change.changes.items() if new is not None
            )
        else:
            what = "; ".join(
                f"{field}: {_cell(old)} → {_cell(new)}" for field, (old, new) in change.changes.items()
            )
        table.rows.append([when.strftime("%Y-%m-%d %H:%M"), change.reward_code, change.actor, what])
    return table


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)
