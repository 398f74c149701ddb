"""CLV over a workspace's orders: fit, score (stored with the model version and the day computed for), and
holdout validation. The summary is the Ibis expression of ``clv.summary``, run on the operational database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import ibis
import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from patron.analytics.clv import (
    BetaGeoModel,
    GammaGammaModel,
    HoldoutReport,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    TransactionModel,
    customer_lifetime_value,
    holdout_validation,
    workspace_summary,
)
from patron.analytics.models import ClvModel, ClvScore
from patron.analytics.schemas import ClvScorePage, ClvScoreRead
from patron.core.clock import today_in, utcnow
from patron.core.errors import NotFound, PatronError
from patron.core.models import Workspace
from patron.core.money import from_minor, minor_unit_exponent
from patron.core.tenancy import scoped
from patron.customers.models import Customer

PURCHASE_MODELS: dict[str, type[TransactionModel]] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "pareto": ParetoNBDModel,
}


@dataclass(frozen=True)
class WorkspaceFit:
    summary: pd.DataFrame
    purchase: TransactionModel
    spend: GammaGammaModel | None
    observation_end: date
    #: repeat buyers whose repeat purchases were worth 0 (free orders): left out of the spend fit
    free_repeaters: int


def _model(name: str) -> type[TransactionModel]:
    if name not in PURCHASE_MODELS:
        raise PatronError("clv.unknown_model", model=name, choices=list(PURCHASE_MODELS))
    return PURCHASE_MODELS[name]


def fit(
    con: ibis.BaseBackend, workspace: Workspace, *, model: str = "bgnbd", observation_end: date | None = None
) -> WorkspaceFit:
    """Fit the purchase model and Gamma-Gamma on the workspace's purchases up to ``observation_end`` (today
    in the workspace's zone by default); time is counted in days."""
    kind = _model(model)
    end = observation_end or today_in(workspace.timezone)
    summary = workspace_summary(con, workspace.id, observation_end=end, zone=workspace.timezone,
                                currency=workspace.currency)  # fmt: skip
    if summary.empty:
        raise PatronError("clv.no_orders")
    purchase = kind(summary).fit()
    paying = summary[summary["monetary_value"] > 0]
    free = int(((summary["frequency"] > 0) & (summary["monetary_value"] <= 0)).sum())
    spend = GammaGammaModel(paying).fit() if (paying["frequency"] > 0).any() else None
    return WorkspaceFit(summary, purchase, spend, end, free)


def save_model(session: Session, workspace: Workspace, result: WorkspaceFit, model: str) -> ClvModel:
    row = ClvModel(
        workspace_id=workspace.id,
        purchase_model=model,
        observation_end=result.observation_end,
        computed_at=utcnow(),
        params={"purchase": result.purchase.params, "spend": result.spend.params if result.spend else None},
        log_likelihood=result.purchase.log_likelihood,
        customers=len(result.summary),
        repeat_buyers=int((result.summary["frequency"] > 0).sum()),
    )
    session.add(row)
    session.flush()
    return row


def score(
    session: Session,
    con: ibis.BaseBackend,
    workspace: Workspace,
    *,
    model: str = "bgnbd",
    months: int = 12,
    discount_rate: float = 0.01,
    observation_end: date | None = None,
) -> tuple[ClvModel, int]:
    """Fit, then replace the workspace's scores: probability alive, expected purchases and CLV over
    ``months`` (monthly ``discount_rate``), expected spend. Scoring the same workspace twice at once waits for
    the first (a lock on the workspace row), so running it twice or from two schedulers is safe."""
    session.execute(select(Workspace.id).where(Workspace.id == workspace.id).with_for_update())
    result = fit(con, workspace, model=model, observation_end=observation_end)
    if result.spend is None:
        raise PatronError("clv.no_repeat_buyers", model="Gamma-Gamma", customers=len(result.summary))
    summary = result.summary
    alive = result.purchase.expected_probability_alive(summary)["probability_alive"].to_numpy()
    purchases = result.purchase.expected_purchases(summary, future_t=30.0 * months)["expected_purchases"]
    spend = result.spend.expected_customer_spend(summary)
    value = customer_lifetime_value(result.purchase, summary, expected_spend=spend, months=months,
                                    discount_rate=discount_rate, time_unit="D")["clv"].to_numpy()  # fmt: skip
    scale = 10.0 ** minor_unit_exponent(workspace.currency)
    for name, column in (("probability alive", alive), ("CLV", value)):
        if not np.isfinite(column).all():  # a safeguard: the models are tested never to give these
            raise PatronError("clv.not_converged", model=result.purchase.name, reason=f"{name} not finite")
    saved = save_model(session, workspace, result, model)
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "workspace_id": workspace.id,
            "customer_id": int(c),
            "model_id": saved.id,
            "computed_at": now,
            "frequency": int(f),
            "recency_days": round(r),
            "age_days": round(t),
            "probability_alive": float(a),
            "horizon_months": months,
            "expected_purchases": float(e),
            "expected_spend_minor": round(s * scale),
            "clv_minor": round(v * scale),
            "currency": workspace.currency,
        }
        for c, f, r, t, a, e, s, v in zip(
            summary["customer_id"],
            summary["frequency"],
            summary["recency"],
            summary["T"],
            alive,
            purchases,
            spend["expected_spend"],
            value,
            strict=True,
        )
    ]
    session.execute(delete(ClvScore).where(ClvScore.workspace_id == workspace.id))
    for start in range(0, len(rows), 10_000):
        session.execute(insert(ClvScore), rows[start : start + 10_000])
    return saved, len(rows)


def validate(
    con: ibis.BaseBackend,
    workspace: Workspace,
    *,
    model: str = "bgnbd",
    holdout_days: int = 180,
    observation_end: date | None = None,
) -> HoldoutReport:
    """Fit on everything before the last ``holdout_days`` days, predict those days, compare."""
    kind = _model(model)
    if holdout_days < 1:
        raise PatronError("clv.bad_horizon", horizon=str(holdout_days))
    end = observation_end or today_in(workspace.timezone)
    split = workspace_summary(
        con, workspace.id, observation_end=end, calibration_end=end - timedelta(days=holdout_days),
        zone=workspace.timezone, currency=workspace.currency,
    )  # fmt: skip
    if split.empty:
        raise PatronError("clv.no_orders")
    return holdout_validation(kind(split).fit(), split)


def save_validation(
    session: Session, workspace: Workspace, report: HoldoutReport, *, model: str, holdout_days: int
) -> ClvModel | None:
    """Keep a holdout validation's calibration-plot data on the workspace's latest stored fit of the same
    purchase model (what the Customer value tab draws); None when there is no such fit."""
    row = session.scalar(
        select(ClvModel)
        .where(ClvModel.workspace_id == workspace.id, ClvModel.purchase_model == model)
        .order_by(ClvModel.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    row.params = {
        **row.params,
        "validation": {
            "holdout_days": holdout_days,
            "actual_total": report.actual_total,
            "predicted_total": report.predicted_total,
            "mean_absolute_error": report.mean_absolute_error,
            "by_frequency": [
                {"label": str(label), "customers": int(n), "actual": float(actual), "predicted": float(predicted)}
                for label, n, actual, predicted in zip(
                    report.by_frequency["label"], report.by_frequency["customers"], report.by_frequency["actual"],
                    report.by_frequency["predicted"], strict=True,
                )
            ],
        },
    }  # fmt: skip
    session.flush()
    return row


def _read(score_row: ClvScore, external_id: str, model: ClvModel) -> ClvScoreRead:
    return ClvScoreRead(
        customer_id=external_id, model_version=model.version, observation_end=model.observation_end,
        computed_at=score_row.computed_at, frequency=score_row.frequency, recency_days=score_row.recency_days,
        age_days=score_row.age_days, probability_alive=score_row.probability_alive,
        horizon_months=score_row.horizon_months, expected_purchases=score_row.expected_purchases,
        expected_spend=from_minor(score_row.expected_spend_minor, score_row.currency),
        clv=from_minor(score_row.clv_minor, score_row.currency), currency=score_row.currency,
    )  # fmt: skip


def customer_score(session: Session, *, workspace_id: int, external_id: str) -> ClvScoreRead:
    customer = session.scalar(scoped(Customer, workspace_id, Customer.external_id == external_id))
    if customer is None:
        raise NotFound("customer.not_found", external_id=external_id)
    row = session.scalar(scoped(ClvScore, workspace_id, ClvScore.customer_id == customer.id))
    if row is None:
        raise NotFound("clv.not_scored", external_id=external_id)
    model = session.get_one(ClvModel, row.model_id)
    return _read(row, external_id, model)


def score_page(session: Session, *, workspace_id: int, limit: int = 50, offset: int = 0) -> ClvScorePage:
    """Scores by CLV, highest first (ties by customer id)."""
    total = session.scalar(
        select(func.count()).select_from(ClvScore).where(ClvScore.workspace_id == workspace_id)
    )
    query = (
        select(ClvScore, Customer.external_id, ClvModel)
        .join(Customer, Customer.id == ClvScore.customer_id)
        .join(ClvModel, ClvModel.id == ClvScore.model_id)
        .where(ClvScore.workspace_id == workspace_id)
        .order_by(ClvScore.clv_minor.desc(), Customer.external_id)
        .limit(limit)
        .offset(offset)
    )
    items = [_read(row, external, model) for row, external, model in session.execute(query).all()]
    return ClvScorePage(total=int(total or 0), items=items)


def money(amount: float, currency: str) -> Decimal:
    """A model's float amount as money in the currency's minor units (for display)."""
    return from_minor(round(amount * 10 ** minor_unit_exponent(currency)), currency)
