"""The Loyalty tab's tier tables: members by tier now, and tier movements per month of the trend window.

Members by tier count every member in scope (the segment filter applies) under the tier-set version in force,
members without a tier row in the lowest tier, so the counts add up to the tab's member count. Movements are
``loyalty_tier_moves`` rows by the month (workspace's zone) they were recorded in: upgrades (at once or at a
review), downgrades at the yearly review, and members kept at a review (by spend, or by the grace rule).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.clock import as_utc
from patron.core.models import Workspace
from patron.dashboard.filters import Filters
from patron.dashboard.service import labels
from patron.dashboard.tables import Column, DataTable
from patron.loyalty import tiers
from patron.loyalty.models import MemberTier, TierMove

#: Movement columns: the message code of the column and the move reasons it counts.
MOVE_COLUMNS = (
    ("loy.tier_upgrades", ("upgrade", "review_upgrade")),
    ("loy.tier_downgrades", ("review_downgrade",)),
    ("loy.tier_kept", ("review_kept",)),
    ("loy.tier_grace", ("review_grace",)),
)


def _month_after(month: date) -> date:
    index = month.year * 12 + month.month
    return date(index // 12, index % 12 + 1, 1)


def tier_tables(
    session: Session,
    workspace: Workspace,
    filters: Filters,
    members: Any,
    member_count: int,
    locale: str,
    current: Any | None = None,
) -> dict[str, DataTable]:
    """{"tiers", "tier_moves"} for the tab; {} when the program has no tiers. ``members``: the tab's subquery of
    member ids in scope (the movements); ``current``: those of them still in the program (the counts by tier)."""
    tier_set = tiers.current_set(session, workspace.id)
    if tier_set is None:
        return {}
    t = labels(locale)
    in_scope = MemberTier.member_id.in_(select((members if current is None else current).c.id))
    counts = [0] * len(tier_set.tiers)
    for code, count in session.execute(
        select(MemberTier.tier, func.count())
        .where(MemberTier.workspace_id == workspace.id, in_scope)
        .group_by(MemberTier.tier)
    ):
        counts[tiers.tier_index(tier_set, code)] += int(count)
    counts[0] += member_count - sum(counts)
    by_tier = DataTable("tiers", t("loy.by_tier"), [
        Column(t("loyalty.col_tier")), Column(t("loy.tier_threshold", currency=tier_set.currency, months=tier_set.window_months), "money"),
        Column(t("loy.members"), "int"), Column(t("loy.share"), "percent"),
    ])  # fmt: skip
    for tier, count in zip(tier_set.tiers, counts, strict=True):
        read = tiers.tier_read(tier, tier_set.currency, locale)
        share = 100.0 * count / member_count if member_count else None
        by_tier.rows.append([read.name, float(read.threshold), count, share])

    monthly = replace(filters, grain="month")
    zone = ZoneInfo(workspace.timezone)
    months = filters.trend_months()
    moves = DataTable("tier_moves", t("loy.tier_moves"),
                      [Column(t("dash.period"), "month")] + [Column(t(code), "int") for code, _ in MOVE_COLUMNS])  # fmt: skip
    if not months:
        return {"tiers": by_tier, "tier_moves": moves}
    start = as_utc(datetime(months[0].year, months[0].month, 1, tzinfo=zone))
    last = _month_after(months[-1])
    end = as_utc(datetime(last.year, last.month, 1, tzinfo=zone))
    sums: dict[tuple[date, str], int] = {}
    for created_at, reason in session.execute(
        select(TierMove.created_at, TierMove.reason).where(
            TierMove.workspace_id == workspace.id,
            TierMove.member_id.in_(select(members.c.id)),
            TierMove.created_at >= start,
            TierMove.created_at < end,
        )
    ):
        local = as_utc(created_at).astimezone(zone)
        key = (date(local.year, local.month, 1), reason)
        sums[key] = sums.get(key, 0) + 1
    for month in months:
        if monthly.period_is_partial(month):
            moves.partial_rows.add(len(moves.rows))
        moves.rows.append(
            [month, *(sum(sums.get((month, r), 0) for r in reasons) for _, reasons in MOVE_COLUMNS)]
        )
    return {"tiers": by_tier, "tier_moves": moves}
