"""The dashboard's Churn risk tab: the stored churn scores (``patron churn score``) beside the model's own
out-of-time evaluation, so a manager sees both who is at risk and how far to trust the ranking.

* the at-risk list ranked by value at risk (risk × CLV; customers without a CLV after them, by risk), each with
  its top reasons written in the page's language — the same order as the API's ``/churn/at-risk``;
* risk by segment;
* Kaplan–Meier retention curves by segment: a customer is *active* from the first purchase until ``window_days``
  after the last one (the churn model's definition); a customer whose last purchase is fewer than
  ``window_days`` before the model's cut-off is still active, censored at the cut-off;
* the evaluation stored with the model: AUC, precision at the top k against the base rate, and the calibration
  by decile (mean predicted risk against the churn rate observed).

The page's period does not apply (scores are a snapshot at the model's cut-off); the segment filter narrows
everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from patron.analytics import churn as churn_model
from patron.analytics.models import ChurnModel, ChurnScore
from patron.analytics.survival import kaplan_meier, survival_at
from patron.commerce.models import Order
from patron.commerce.service import NON_REVENUE_STATUSES
from patron.core.clock import as_utc
from patron.core.models import Workspace
from patron.core.money import minor_unit_exponent
from patron.customers.models import Customer
from patron.customers.service import code_labels
from patron.dashboard.filters import Filters
from patron.dashboard.service import labels
from patron.dashboard.tables import Column, DataTable

#: How many customers the at-risk list shows on the page (an export lists up to ``EXPORT_ROWS``).
AT_RISK_ROWS = 50
EXPORT_ROWS = 100_000
#: A customer at or above this risk counts as "high risk" in the segment table.
HIGH_RISK = 0.5
#: The retention table's months (30 days each); the curves are drawn month by month up to the last of them.
SURVIVAL_MONTHS = (3, 6, 12, 24)
MONTH_DAYS = 30
#: How an AUC reads: at least 0.8 good, at least 0.7 fair, below that weak.
AUC_GOOD, AUC_FAIR = 0.8, 0.7


Row = TypeVarTuple("Row")


@dataclass
class ChurnView:
    model_version: str | None = None
    computed_at: datetime | None = None
    cutoff: date | None = None
    window_days: int = 0
    currency: str = ""
    customers: int = 0
    mean_risk: float | None = None
    high_risk: int = 0
    value_at_risk: float = 0.0
    evaluation: dict[str, Any] = field(default_factory=dict)
    #: the model's churn definition: inactivity (no purchase in the window) or cancelled (a subscription cancelled)
    definition: str = "inactivity"
    #: good, fair or weak (from the AUC); none without one
    trust: str = "none"
    #: {segment label: [survival at month 0, 1, 2, …]} for the chart
    curves: dict[str, list[float | None]] = field(default_factory=dict)
    tables: dict[str, DataTable] = field(default_factory=dict)


def trust_of(auc: float | None) -> str:
    if auc is None:
        return "none"
    return "good" if auc >= AUC_GOOD else "fair" if auc >= AUC_FAIR else "weak"


def _segment_scope(query: Select[*Row], segment: str | None) -> Select[*Row]:
    query = query.join(Customer, Customer.id == ChurnScore.customer_id)
    return query.where(Customer.segment == segment) if segment else query


def churn_risk(
    session: Session, workspace: Workspace, filters: Filters, locale: str, *, exporting: bool = False
) -> ChurnView:
    t = labels(locale)
    named = code_labels(workspace, locale)
    ws = workspace.id
    model = session.scalar(
        select(ChurnModel).where(ChurnModel.workspace_id == ws).order_by(ChurnModel.id.desc()).limit(1)
    )
    if model is None:
        return ChurnView()
    currency = workspace.currency
    scale = 10.0 ** minor_unit_exponent(currency)
    view = ChurnView(model.version, model.computed_at, model.cutoff, model.window_days, currency)
    view.evaluation = dict(model.evaluation or {})
    view.definition = model.definition
    auc = view.evaluation.get("auc")
    view.trust = trust_of(float(auc) if isinstance(auc, int | float) else None)
    segment = filters.segment
    scope = (ChurnScore.workspace_id == ws, ChurnScore.model_id == model.id)
    count, mean, high, at_risk = session.execute(
        _segment_scope(select(func.count(), func.avg(ChurnScore.risk),
                              func.count().filter(ChurnScore.risk >= HIGH_RISK),
                              func.coalesce(func.sum(ChurnScore.value_at_risk_minor), 0)), segment).where(*scope)
    ).one()  # fmt: skip
    view.customers, view.high_risk = int(count), int(high)
    view.mean_risk = None if mean is None else float(mean)
    view.value_at_risk = int(at_risk) / scale
    money = f"({currency})"

    table = DataTable("at_risk", t("churn_page.at_risk"), [
        Column(t("ui.external_id")), Column(t("ui.name")), Column(t("ui.segment")),
        Column(t("churn_page.risk"), "percent", t("help.churn_risk", days=model.window_days)),
        Column(f"{t('value.clv')} {money}", "money"),
        Column(f"{t('churn_page.value_at_risk')} {money}", "money", t("help.churn_value_at_risk")),
        Column(t("churn_page.reasons")),
    ])  # fmt: skip
    query = (
        _segment_scope(select(Customer.external_id, Customer.name, Customer.segment, ChurnScore.risk,
                              ChurnScore.clv_minor, ChurnScore.value_at_risk_minor, ChurnScore.reasons), segment)
        .where(*scope)
        .order_by(ChurnScore.value_at_risk_minor.is_(None), ChurnScore.value_at_risk_minor.desc(),
                  ChurnScore.risk.desc(), Customer.external_id)
        .limit(EXPORT_ROWS if exporting else AT_RISK_ROWS)
    )  # fmt: skip
    separator = "; " if locale == "en" else "；"
    for ext, name, seg, risk, clv, var, reasons in session.execute(query):
        text = separator.join(churn_model.reason_text(r, locale) for r in reasons or [])
        table.rows.append([ext, name or "", named("segment", seg) if seg else "", 100 * risk,
                           None if clv is None else clv / scale, None if var is None else var / scale, text])  # fmt: skip
    view.tables["at_risk"] = table

    by_segment = DataTable("segments", t("churn_page.by_segment"), [
        Column(t("ui.segment")), Column(t("value.customers"), "int"), Column(t("churn_page.mean_risk"), "percent"),
        Column(t("churn_page.high_risk", share=round(100 * HIGH_RISK)), "int"),
        Column(f"{t('churn_page.value_at_risk')} {money}", "money"),
    ])  # fmt: skip
    grouped = session.execute(
        _segment_scope(select(Customer.segment, func.count(), func.avg(ChurnScore.risk),
                              func.count().filter(ChurnScore.risk >= HIGH_RISK),
                              func.coalesce(func.sum(ChurnScore.value_at_risk_minor), 0)), segment)
        .where(*scope).group_by(Customer.segment)
    ).all()  # fmt: skip
    for seg, n, risk, many, var in sorted(grouped, key=lambda r: (-float(r[2]), r[0] or "")):
        by_segment.rows.append([named("segment", seg) if seg else t("value.no_segment"), int(n), 100 * float(risk),
                                int(many), int(var) / scale])  # fmt: skip
    view.tables["segments"] = by_segment
    view.tables["survival"], view.curves = _survival(session, workspace, model, segment, named, t)
    view.tables["evaluation"] = _calibration(view.evaluation, t)
    return view


def lifetimes(
    session: Session, workspace: Workspace, cutoff: date, window_days: int, segment: str | None = None
) -> pd.DataFrame:
    """Per customer with a purchase on or before ``cutoff`` (workspace days): segment, ``duration`` (days active
    from the first purchase day) and ``churned`` (1 when the last purchase is more than ``window_days`` before
    the cut-off: active until ``window_days`` after it; 0 when still active, observed until the cut-off)."""
    zone = ZoneInfo(workspace.timezone)
    end = as_utc(datetime.combine(cutoff + timedelta(days=1), time(), tzinfo=zone))
    query = (
        select(Order.customer_id, Customer.segment, func.min(Order.ordered_at), func.max(Order.ordered_at))
        .join(Customer, Customer.id == Order.customer_id)
        .where(Order.workspace_id == workspace.id, Order.status.not_in(NON_REVENUE_STATUSES),
               Order.ordered_at < end)
        .group_by(Order.customer_id, Customer.segment)
    )  # fmt: skip
    if segment:
        query = query.where(Customer.segment == segment)
    rows = session.execute(query).all()
    if not rows:
        return pd.DataFrame({"customer_id": [], "segment": [], "duration": [], "churned": []})

    def local_day(moment: Any) -> date:
        return as_utc(moment).astimezone(zone).date()

    first = np.array([(local_day(r[2]) - cutoff).days for r in rows])
    last = np.array([(local_day(r[3]) - cutoff).days for r in rows])
    churned = (-last > window_days).astype(int)
    duration = np.where(churned == 1, last + window_days - first, -first)
    return pd.DataFrame({"customer_id": [r[0] for r in rows], "segment": [r[1] for r in rows],
                         "duration": duration, "churned": churned})  # fmt: skip


def _survival(
    session: Session, workspace: Workspace, model: ChurnModel, segment: str | None, named: Any, t: Any
) -> tuple[DataTable, dict[str, list[float | None]]]:
    frame = lifetimes(session, workspace, model.cutoff, model.window_days, segment)
    table = DataTable("survival", t("churn_page.survival"), [
        Column(t("ui.segment")), Column(t("value.customers"), "int"),
        *(Column(t("churn_page.active_after", months=m), "percent") for m in SURVIVAL_MONTHS),
    ])  # fmt: skip
    months = range(SURVIVAL_MONTHS[-1] + 1)
    curves: dict[str, list[float | None]] = {}
    groups: list[tuple[str, pd.DataFrame]] = [(t("dash.all"), frame)]
    if not segment:
        for code in sorted(frame["segment"].dropna().unique(), key=str):
            groups.append((named("segment", code), frame[frame["segment"] == code]))
    for name, part in groups:
        curve = kaplan_meier(part["duration"].to_numpy(), part["churned"].to_numpy())
        shown = survival_at(curve, [m * MONTH_DAYS for m in SURVIVAL_MONTHS])
        table.rows.append([name, len(part), *(None if s is None else 100 * s for s in shown)])
        curves[name] = [None if s is None else round(100 * s, 1)
                        for s in survival_at(curve, [m * MONTH_DAYS for m in months])]  # fmt: skip
    return table, curves


def _calibration(evaluation: dict[str, Any], t: Any) -> DataTable:
    table = DataTable("evaluation", t("churn_page.calibration"), [
        Column(t("churn_page.decile")), Column(t("value.customers"), "int"),
        Column(t("churn_page.predicted"), "percent"), Column(t("churn_page.observed"), "percent"),
    ])  # fmt: skip
    for row in evaluation.get("calibration", []):
        table.rows.append([str(row["decile"]), int(row["customers"]), 100 * float(row["predicted"]),
                           100 * float(row["observed"])])  # fmt: skip
    return table
