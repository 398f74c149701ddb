"""The dashboard's Customer value tab: the stored CLV scores (``patron clv score``) as a manager reads them.

Everything is read from ``clv_scores`` and the fit they came from (``clv_models``), so the page shows exactly
what the API and ``patron clv score`` show, with the model version and when it was computed. The page's period
does not apply (the scores are a snapshot as of the fit's last day of orders); the segment filter narrows every
figure to that segment's customers. Sums and groups run in the database (bounded memory whatever the number of
customers):

* the CLV distribution: bins of a round width from 0 to the 99th percentile, the last bin open ("≥ x");
* top customers by CLV;
* value by segment and by first-purchase cohort (the month of a customer's first purchase is the fit's last day
  minus the customer's age in days, ``T``);
* the holdout calibration plot, stored on the fit by ``patron clv validate``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from patron.analytics.models import ClvModel, ClvScore
from patron.core.models import Workspace
from patron.core.money import minor_unit_exponent
from patron.customers.service import code_labels
from patron.dashboard.filters import Filters
from patron.dashboard.service import labels
from patron.dashboard.tables import Column, DataTable

#: How many customers the top table lists on the page (an export lists up to ``EXPORT_ROWS``).
TOP_CUSTOMERS = 20
EXPORT_ROWS = 100_000
#: About this many bins up to the 99th percentile.
BINS = 10
#: Bin widths are these times a power of ten (major units).
ROUND_WIDTHS = (1, 2, 2.5, 5, 10)


Row = TypeVarTuple("Row")


@dataclass
class ValueView:
    model_version: str | None = None
    computed_at: datetime | None = None
    observation_end: date | None = None
    horizon_months: int = 0
    currency: str = ""
    customers: int = 0
    total_clv: float = 0.0
    mean_clv: float | None = None
    mean_alive: float | None = None
    expected_purchases: float = 0.0
    #: (low, high or None for the last open bin, customers), in major units
    histogram: list[tuple[float, float | None, int]] = field(default_factory=list)
    #: {"holdout_days", "actual_total", "predicted_total", "mean_absolute_error", "by_frequency": [...]}
    validation: dict[str, Any] | None = None
    tables: dict[str, DataTable] = field(default_factory=dict)


def round_width(span: float, bins: int = BINS) -> float:
    """The smallest round width (1, 2, 2.5, 5 × 10^k) that covers ``span`` in at most ``bins`` bins."""
    if span <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(span / bins))
    for m in ROUND_WIDTHS:
        if m * power * bins >= span - 1e-9:
            return m * power
    return 10 * power  # pragma: no cover  (10 × power always covers)


def _scope(query: Select[*Row], workspace_id: int, segment: str | None) -> Select[*Row]:
    from patron.customers.models import Customer

    query = query.where(ClvScore.workspace_id == workspace_id)
    if segment:
        query = query.join(Customer, Customer.id == ClvScore.customer_id).where(Customer.segment == segment)
    return query


def value(
    session: Session, workspace: Workspace, filters: Filters, locale: str, *, exporting: bool = False
) -> ValueView:
    from patron.customers.models import Customer

    t = labels(locale)
    named = code_labels(workspace, locale)
    ws = workspace.id
    first = session.scalar(select(ClvScore).where(ClvScore.workspace_id == ws).limit(1))
    if first is None:
        return ValueView()
    model = session.get_one(ClvModel, first.model_id)
    scale = 10.0 ** minor_unit_exponent(first.currency)
    view = ValueView(model.version, model.computed_at, model.observation_end, first.horizon_months,
                     first.currency)  # fmt: skip
    params = model.params or {}
    validation = params.get("validation") if isinstance(params, dict) else None
    view.validation = validation if isinstance(validation, dict) else None
    segment = filters.segment
    count, total, alive, purchases = session.execute(
        _scope(select(func.count(), func.coalesce(func.sum(ClvScore.clv_minor), 0),
                      func.avg(ClvScore.probability_alive),
                      func.coalesce(func.sum(ClvScore.expected_purchases), 0.0)), ws, segment)
    ).one()  # fmt: skip
    view.customers = int(count)
    view.total_clv = int(total) / scale
    view.mean_clv = view.total_clv / view.customers if view.customers else None
    view.mean_alive = None if alive is None else float(alive)
    view.expected_purchases = float(purchases)
    money = f"{t('value.clv')} ({first.currency})"
    view.histogram = _histogram(session, ws, segment, view.customers, scale)
    view.tables["distribution"] = _distribution_table(view, t)

    top = DataTable("top", t("value.top"), [
        Column(t("ui.external_id")), Column(t("ui.name")), Column(t("ui.segment")),
        Column(t("value.alive"), "percent", t("help.value_alive")),
        Column(t("value.purchases", months=view.horizon_months), "mean", t("help.value_purchases")),
        Column(f"{t('value.spend')} ({first.currency})", "money", t("help.value_spend")),
        Column(money, "money", t("help.value_clv", months=view.horizon_months)),
    ])  # fmt: skip
    query = _scope(
        select(Customer.external_id, Customer.name, Customer.segment, ClvScore.probability_alive,
               ClvScore.expected_purchases, ClvScore.expected_spend_minor, ClvScore.clv_minor), ws, None,
    ).join(Customer, Customer.id == ClvScore.customer_id)  # fmt: skip
    if segment:
        query = query.where(Customer.segment == segment)
    query = query.order_by(ClvScore.clv_minor.desc(), Customer.external_id)
    for ext, name, seg, p, e, s, v in session.execute(
        query.limit(EXPORT_ROWS if exporting else TOP_CUSTOMERS)
    ):
        top.rows.append(
            [ext, name or "", named("segment", seg) if seg else "", 100 * p, e, s / scale, v / scale]
        )
    view.tables["top"] = top

    by_segment = DataTable("segments", t("value.by_segment"), [
        Column(t("ui.segment")), Column(t("value.customers"), "int"), Column(money, "money"),
        Column(t("value.mean_clv", currency=first.currency), "money"),
        Column(t("value.share"), "percent"), Column(t("value.alive"), "percent"),
    ])  # fmt: skip
    grouped = session.execute(
        _scope(select(Customer.segment, func.count(), func.sum(ClvScore.clv_minor), func.avg(ClvScore.probability_alive)),
               ws, None)
        .join(Customer, Customer.id == ClvScore.customer_id)
        .where(Customer.segment == segment if segment else Customer.id.is_not(None))
        .group_by(Customer.segment)
    ).all()  # fmt: skip
    grand = sum(int(row[2]) for row in grouped)
    for seg, n, clv, p in sorted(grouped, key=lambda r: (-int(r[2]), r[0] or "")):
        by_segment.rows.append([named("segment", seg) if seg else t("value.no_segment"), int(n), int(clv) / scale,
                                int(clv) / scale / int(n), 100 * int(clv) / grand if grand else None,
                                100 * float(p)])  # fmt: skip
    view.tables["segments"] = by_segment
    view.tables["first_purchase"] = _cohorts(
        session, ws, segment, model.observation_end, scale, money, first.currency, t
    )
    if view.validation:
        view.tables["calibration"] = _calibration_table(view.validation, t)
    return view


def _histogram(
    session: Session, ws: int, segment: str | None, customers: int, scale: float
) -> list[tuple[float, float | None, int]]:
    """Bins of one round width from 0; the last is open and holds everything above the 99th percentile."""
    if not customers:
        return []
    position = min(customers - 1, math.floor(0.99 * (customers - 1)))
    cap = session.scalar(
        _scope(select(ClvScore.clv_minor), ws, segment).order_by(ClvScore.clv_minor).offset(position).limit(1)
    )
    top = session.scalar(_scope(select(func.max(ClvScore.clv_minor)), ws, segment))
    width_minor = max(1, round(round_width(int(cap or 0) / scale) * scale))
    bins = int(cap or 0) // width_minor + 1
    bucket = ClvScore.clv_minor // width_minor
    counts: dict[int, int] = defaultdict(int)
    for index, n in session.execute(_scope(select(bucket, func.count()), ws, segment).group_by(bucket)):
        counts[min(int(index), bins)] += int(n)
    last_open = int(top or 0) >= bins * width_minor
    out: list[tuple[float, float | None, int]] = []
    for i in range(bins + (1 if last_open else 0)):
        high = None if i == bins else (i + 1) * width_minor / scale
        out.append((i * width_minor / scale, high, counts.get(i, 0)))
    return out


def _distribution_table(view: ValueView, t: Any) -> DataTable:
    table = DataTable("distribution", t("value.distribution"), [
        Column(t("value.from", currency=view.currency), "money"),
        Column(t("value.below", currency=view.currency), "money"), Column(t("value.customers"), "int"),
    ])  # fmt: skip
    table.rows = [[low, high, n] for low, high, n in view.histogram]
    return table


def _cohorts(
    session: Session, ws: int, segment: str | None, end: date, scale: float, money: str, currency: str, t: Any
) -> DataTable:
    """Customers by the month of their first purchase (the fit's last day − their age in days)."""
    table = DataTable("first_purchase", t("value.by_cohort"), [
        Column(t("value.first_purchase"), "month"), Column(t("value.customers"), "int"), Column(money, "money"),
        Column(t("value.mean_clv", currency=currency), "money"), Column(t("value.alive"), "percent"),
    ])  # fmt: skip
    rows = session.execute(
        _scope(select(ClvScore.age_days, func.count(), func.sum(ClvScore.clv_minor),
                      func.sum(ClvScore.probability_alive)), ws, segment).group_by(ClvScore.age_days)
    ).all()  # fmt: skip
    months: dict[date, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for age, n, clv, alive in rows:
        day = end - timedelta(days=int(age))
        sums = months[date(day.year, day.month, 1)]
        sums[0] += int(n)
        sums[1] += int(clv)
        sums[2] += float(alive)
    for month in sorted(months):
        count, value_minor, alive_sum = months[month]
        table.rows.append([month, int(count), value_minor / scale, value_minor / scale / count,
                           100 * alive_sum / count])  # fmt: skip
    return table


def _calibration_table(validation: dict[str, Any], t: Any) -> DataTable:
    table = DataTable("calibration", t("value.calibration"), [
        Column(t("value.repeat_before")), Column(t("value.customers"), "int"),
        Column(t("value.actual"), "mean"), Column(t("value.predicted"), "mean"),
    ])  # fmt: skip
    for row in validation.get("by_frequency", []):
        table.rows.append(
            [str(row["label"]), int(row["customers"]), float(row["actual"]), float(row["predicted"])]
        )
    return table
