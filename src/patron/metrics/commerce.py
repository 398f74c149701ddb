"""Retention, churn, repeat purchase and value metrics, written once as Ibis expressions.

Definitions (docs/metrics.md):
- A purchase is an order that was not cancelled or returned. A customer is *active* in a period when they
  made at least one purchase in it.
- S = customers active in the previous period, E = customers active in this period, N = customers whose
  first purchase ever falls in this period. CRR = (E − N) / S, the textbook formula. Because E − N also
  counts customers who come back after a gap, CRR can exceed the strict retention rate |active before ∩
  active now| / S, which is reported beside it; churn rate = 1 − strict retention.
- Repeat purchase rate = customers with two or more purchases in the period / active customers.
- Purchase frequency = purchases / active customers; average order value = revenue / purchases;
  value per customer = revenue / active customers (historical value, in the workspace currency).
- Time between purchases = mean days from a customer's previous purchase to each purchase in the period.
- Cohort retention: customers grouped by the period of their first purchase; for each later period, the
  share of the cohort active in it.
Periods are the workspace's calendar periods (its time zone, daylight saving included), the same days the
satisfaction metrics count (``engine.local_day_number``): an order at 00:01 on 1 February in Taipei is
February's. Each period is an integer index (year·12 + month − 1, days since 1970-01-01 and so on) worked
out from the local day number by integer arithmetic, so "the previous period" is plain arithmetic that every
backend does the same way. The period holding today (``core.clock``) in that zone is marked ``partial``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.common.exceptions import TableNotFound

from patron.commerce.service import NON_REVENUE_STATUSES
from patron.core.clock import today_in
from patron.core.errors import PatronError
from patron.core.money import from_minor
from patron.metrics.engine import GRAINS, local_day_number

_EPOCH = date(1970, 1, 1)
_EPOCH_MONDAY_SHIFT = 3  # days: 1970-01-01 was a Thursday; weeks start on Monday


def with_period(t: ir.Table, grain: str) -> ir.Table:
    """``t`` with ``idx``, the index of the period of ``grain`` its ``day`` (a local day number) falls in.

    Months come from Howard Hinnant's days-to-civil algorithm (integer divisions only, exact from
    0000-03-01 on; http://howardhinnant.github.io/date_algorithms.html), which SQLite, PostgreSQL, DuckDB
    and Spark all compute alike; no backend-specific date function is involved. ``t`` should be grouped
    (``purchase_days``): SQLite writes ``day`` into each of the ~40 divisions, and over raw rows that would
    work out the local day as many times."""
    if grain == "day":
        return t.mutate(idx=t.day)
    if grain == "week":
        return t.mutate(idx=(t.day + _EPOCH_MONDAY_SHIFT) // 7)
    march_days = t.day + 719_468  # days since 0000-03-01: years start in March, so 29 February ends one
    t = t.mutate(era_=march_days // 146_097)  # 400-year eras of 146,097 days
    t = t.mutate(doe_=t.day + 719_468 - t.era_ * 146_097)  # day of the era, 0 … 146,096
    t = t.mutate(yoe_=(t.doe_ - t.doe_ // 1_460 + t.doe_ // 36_524 - t.doe_ // 146_096) // 365)  # 0 … 399
    day_of_year = t.doe_ - (365 * t.yoe_ + t.yoe_ // 4 - t.yoe_ // 100)  # 0 … 365, from 1 March
    # months since January of year 0: March-based month (5·doy + 2) // 153 is 0 for March … 11 for February
    month = (t.era_ * 400 + t.yoe_) * 12 + (5 * day_of_year + 2) // 153 + 2
    idx = {"month": month, "quarter": month // 3, "year": month // 12}[grain]
    return t.mutate(idx=idx).drop("era_", "doe_", "yoe_")


def period_of(day: date, grain: str) -> int:
    """The index ``with_period`` gives ``day`` (in Python: for today, and to check the SQL against)."""
    number = (day - _EPOCH).days
    if grain == "day":
        return number
    if grain == "week":
        return (number + _EPOCH_MONDAY_SHIFT) // 7
    month = day.year * 12 + day.month - 1
    return {"month": month, "quarter": month // 3, "year": month // 12}[grain]


def period_start(index: int, grain: str) -> date:
    if grain == "year":
        return date(index, 1, 1)
    if grain == "quarter":
        return date(index // 4, (index % 4) * 3 + 1, 1)
    if grain == "month":
        return date(index // 12, index % 12 + 1, 1)
    if grain == "week":
        return (pd.Timestamp(_EPOCH) + pd.Timedelta(days=index * 7 - _EPOCH_MONDAY_SHIFT)).date()
    return (pd.Timestamp(_EPOCH) + pd.Timedelta(days=index)).date()


def _current(zone: str, grain: str) -> int:
    """The index of the period still running: the one holding today in ``zone``."""
    return period_of(today_in(zone), grain)


def of_segment(con: ibis.BaseBackend, t: ir.Table, workspace_id: int, segment: str) -> ir.Table:
    """Rows of ``t`` (with ``customer_id``) whose customer is in ``segment``. An export keeps each order's
    customer segment beside it (``segment``); the operational database asks ``customers``."""
    if "segment" in t.columns:
        return t.filter(t.segment == segment)
    try:
        c = con.table("customers")
    except TableNotFound:  # an export written before orders carried their segment
        raise PatronError("metrics.no_segment_here") from None
    members = c.filter(c.workspace_id == workspace_id, c.segment == segment).select(member_id=c.id)
    return t.semi_join(members, t.customer_id == members.member_id)


def purchase_days(
    con: ibis.BaseBackend, workspace_id: int, *, zone: str, segment: str | None = None
) -> ir.Table:
    """One row per customer and calendar day in ``zone`` with a purchase: how many, the revenue, and the epoch
    seconds of the first and the last; only customers in ``segment`` when one is given.

    Every metric counts from these rows, not from the orders: a grouped result is a barrier no backend inlines,
    so each order's local day is worked out once. Over the orders themselves SQLite wrote the day (a CASE over
    the zone's offset changes, each reading the stored text time) into each of the month arithmetic's
    divisions: retention on CDNOW took 7.3 s for Taipei and minutes for New York (bench/purchase_metrics.py)."""
    o = con.table("orders")
    kept = o.filter(o.workspace_id == workspace_id, o.status.notin(list(NON_REVENUE_STATUSES)))
    if segment is not None:
        kept = of_segment(con, kept, workspace_id, segment)
    days = kept.group_by([kept.customer_id, local_day_number(kept.ordered_at, zone).name("day")]).aggregate(
        orders=kept.count(), revenue=kept.total_minor.cast("float64").sum(), first_at=kept.ordered_at.min(),
        last_at=kept.ordered_at.max(),
    )  # fmt: skip
    return days.select(
        "customer_id", "day", "orders", "revenue", first_second=days.first_at.epoch_seconds(),
        last_second=days.last_at.epoch_seconds(),
    )  # fmt: skip


def _check(grain: str, zone: str) -> None:
    if grain not in GRAINS:
        raise PatronError("metrics.unknown_grain", grain=grain, choices=list(GRAINS))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PatronError("metrics.unknown_time_zone", zone=zone) from None


def retention(
    con: ibis.BaseBackend,
    workspace_id: int,
    *,
    zone: str,
    grain: str = "month",
    currency: str = "TWD",
    segment: str | None = None,
) -> list[dict[str, Any]]:
    """One row per period of the calendar in ``zone`` with S, E, N, CRR, strict retention, churn, repeat rate,
    frequency, AOV, value and days between purchases; ``partial`` marks the period still running.

    One query: each customer's active periods in order (a window) tell whether the period before was active
    (retained) and whether this is the first (new).

    Days between purchases come from the purchase days: a day's gaps add up to (its first purchase − the
    previous day's last) + (its last − its first), over as many gaps as purchases that day (one fewer on a
    customer's first day). The sums are whole seconds, exact on every backend, and their ratio is the mean of
    the purchases' gaps."""
    _check(grain, zone)
    days = with_period(purchase_days(con, workspace_id, zone=zone, segment=segment), grain)
    previous_last = days.last_second.lag().over(group_by=days.customer_id, order_by=days.day)
    located = days.mutate(
        gap_seconds=(days.last_second - days.first_second + (days.first_second - previous_last).fill_null(0)).cast("float64"),
        gaps=(days.orders - 1 + ibis.ifelse(previous_last.isnull(), 0, 1)).cast("float64"),
    )  # fmt: skip
    activity = located.group_by(["customer_id", "idx"]).aggregate(
        orders=located.orders.sum(), revenue=located.revenue.sum(), gap_seconds=located.gap_seconds.sum(),
        gaps=located.gaps.sum(),
    )  # fmt: skip
    previous = activity.idx.lag().over(group_by=activity.customer_id, order_by=activity.idx)
    marked = activity.mutate(
        new=ibis.ifelse(previous.isnull(), 1, 0), kept=ibis.ifelse(previous == activity.idx - 1, 1, 0)
    )
    frame = (
        marked.group_by("idx")
        .aggregate(
            active=marked.count(), orders=marked.orders.cast("float64").sum(), revenue=marked.revenue.sum(),
            repeaters=ibis.ifelse(marked.orders >= 2, 1, 0).sum(), new=marked.new.sum(), retained=marked.kept.sum(),
            gap_seconds=marked.gap_seconds.sum(), gaps=marked.gaps.sum(),
        )
        .order_by("idx")
        .execute()
    )  # fmt: skip
    current = _current(zone, grain)
    by_index = {int(i): int(a) for i, a in zip(frame["idx"], frame["active"], strict=True)}
    rows: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        idx, active, orders = int(record["idx"]), int(record["active"]), int(record["orders"])
        start = by_index.get(idx - 1)
        new_count, kept_count, gap_count = int(record["new"]), int(record["retained"]), int(record["gaps"])
        revenue = from_minor(round(float(record["revenue"])), currency)
        rows.append({
            "period": period_start(idx, grain), "customers_start": start, "customers_end": active, "new_customers": new_count,
            "retained_customers": kept_count if start else None,
            "crr": None if not start else 100 * (active - new_count) / start,
            "retention_rate": None if not start else 100 * kept_count / start,
            "churn_rate": None if not start else 100 * (1 - kept_count / start),
            "repeat_purchase_rate": 100 * int(record["repeaters"]) / active,
            "purchase_frequency": orders / active, "orders": orders, "revenue": revenue,
            "average_order_value": (revenue / orders).quantize(Decimal("0.01")),
            "value_per_customer": (revenue / active).quantize(Decimal("0.01")),
            "days_between_purchases": float(record["gap_seconds"]) / gap_count / 86_400 if gap_count else None,
            "partial": idx == current,
        })  # fmt: skip
    return rows


def cohorts(
    con: ibis.BaseBackend, workspace_id: int, *, zone: str, grain: str = "month", segment: str | None = None
) -> list[dict[str, Any]]:
    """Cohort retention matrix: for each first-purchase period (in ``zone``), its size and the share active k
    periods on. ``partial``: the cohort's own period is still running (it can still gain customers);
    ``last_share_partial``: its last share is of the running period (it can still grow)."""
    _check(grain, zone)
    days = with_period(purchase_days(con, workspace_id, zone=zone, segment=segment), grain)
    current = _current(zone, grain)
    activity = days.select("customer_id", "idx").distinct()
    # A window, not a join of the purchases with their own per-customer minimum: SQLite evaluated that
    # join without an index, 5.2 s on the demo workspace against 0.09 s for the window.
    joined = activity.mutate(first_idx=activity.idx.min().over(group_by=activity.customer_id))
    counts = (
        joined.group_by([joined.first_idx, (joined.idx - joined.first_idx).name("offset")])
        .aggregate(active=joined.count())
        .order_by(["first_idx", "offset"])
        .execute()
    )
    rows: list[dict[str, Any]] = []
    latest = int((counts["first_idx"] + counts["offset"]).max()) if len(counts) else 0
    for cohort, group in counts.groupby("first_idx", sort=True):
        size = int(group.loc[group["offset"] == 0, "active"].iloc[0])
        shares = {int(o): 100 * int(a) / size for o, a in zip(group["offset"], group["active"], strict=True)}
        last = latest - int(cohort)  # every cohort runs to the latest period, with 0 % where nobody came back
        rows.append({"cohort": period_start(int(cohort), grain), "size": size,
                     "retention": [round(shares.get(k, 0.0), 6) for k in range(last + 1)],
                     "partial": int(cohort) == current, "last_share_partial": latest == current})  # fmt: skip
    return rows


ENGAGEMENT_DIMENSIONS = ("channel", "type")


def engagement(
    con: ibis.BaseBackend,
    workspace_id: int,
    *,
    zone: str,
    grain: str = "month",
    by: str | None = None,
    segment: str | None = None,
) -> list[dict[str, Any]]:
    """Interactions per customer per period of the calendar in ``zone``: all interactions over the customers
    with at least one, overall or by channel or interaction type; of customers in ``segment`` when given.
    Counted per customer and local day first, like purchases (``purchase_days``)."""
    _check(grain, zone)
    if by is not None and by not in ENGAGEMENT_DIMENSIONS:
        raise PatronError("metrics.unknown_dimension", dimension=by, choices=list(ENGAGEMENT_DIMENSIONS))
    i = con.table("interactions")
    events = i.filter(i.workspace_id == workspace_id)
    if segment is not None:
        events = of_segment(con, events, workspace_id, segment)
    slices = [events[by]] if by else []
    daily = events.group_by(
        [events.customer_id, local_day_number(events.occurred_at, zone).name("day"), *slices]
    ).aggregate(interactions=events.count())
    t = with_period(daily, grain)
    keys = ["idx", *([by] if by else [])]
    frame = (
        t.group_by(keys)
        .aggregate(interactions=t.interactions.cast("float64").sum(), customers=t.customer_id.nunique())
        .order_by(keys)
        .execute()
    )
    current = _current(zone, grain)
    return [
        {
            "period": period_start(int(record["idx"]), grain),
            **({by: record[by]} if by else {}),
            "interactions": int(record["interactions"]),
            "customers": int(record["customers"]),
            "per_customer": int(record["interactions"]) / int(record["customers"]),
            "partial": int(record["idx"]) == current,
        }
        for record in frame.to_dict("records")
    ]
