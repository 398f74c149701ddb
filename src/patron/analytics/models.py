"""Stored CLV fits and scores: each score names the fit (model version) and the day it was computed for."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.db import Base, IdType, MinorUnits, UTCDateTime, WorkspaceScoped, tenant_reference


class ClvModel(WorkspaceScoped, Base):
    """One fit of a purchase model (and the Gamma-Gamma spend model) on a workspace's orders."""

    __tablename__ = "clv_models"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    #: bgnbd, mbgnbd or pareto
    purchase_model: Mapped[str] = mapped_column(String(16))
    #: the last calendar day of orders the fit saw (workspace time zone)
    observation_end: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: {"purchase": {...}, "spend": {...} or null}
    params: Mapped[dict[str, object]] = mapped_column(JSON)
    log_likelihood: Mapped[float] = mapped_column()
    customers: Mapped[int] = mapped_column()
    repeat_buyers: Mapped[int] = mapped_column()

    @property
    def version(self) -> str:
        return f"{self.purchase_model}-{self.id}"


class ClvScore(WorkspaceScoped, Base):
    """A customer's latest score; ``patron clv score`` replaces a workspace's scores in one transaction."""

    __tablename__ = "clv_scores"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        tenant_reference("customer_id", "customers"),
        Index("ix_clv_scores_workspace_id_clv_minor", "workspace_id", "clv_minor"),
    )

    customer_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    model_id: Mapped[int] = mapped_column(IdType, ForeignKey("clv_models.id", ondelete="CASCADE"), index=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    frequency: Mapped[int] = mapped_column()
    recency_days: Mapped[int] = mapped_column()
    age_days: Mapped[int] = mapped_column()
    probability_alive: Mapped[float] = mapped_column()
    horizon_months: Mapped[int] = mapped_column()
    expected_purchases: Mapped[float] = mapped_column()
    expected_spend_minor: Mapped[int] = mapped_column(MinorUnits)
    clv_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))


class ChurnModel(WorkspaceScoped, Base):
    """One churn model: its definition, the cut-off of its scores and its out-of-time evaluation."""

    __tablename__ = "churn_models"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    #: ``inactivity`` (churned = no purchase in ``window_days`` days after the cut-off) or ``cancelled`` (a
    #: subscription cancelled in those days: churn.CANCELLATION_TYPE interactions)
    definition: Mapped[str] = mapped_column(String(16), default="inactivity", server_default="inactivity")
    #: the churn window in days after the cut-off
    window_days: Mapped[int] = mapped_column()
    #: the day the stored scores' features were computed at (workspace time zone)
    cutoff: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: churn.Evaluation.as_dict(): auc, precision_at_k, k, base_rate, cut-offs, calibration deciles
    evaluation: Mapped[dict[str, object]] = mapped_column(JSON)
    customers: Mapped[int] = mapped_column()

    @property
    def version(self) -> str:
        kind = "" if self.definition == "inactivity" else f"{self.definition}-"
        return f"gbm-{kind}{self.window_days}d-{self.id}"


class ChurnScore(WorkspaceScoped, Base):
    """A customer's latest churn risk; ``patron churn score`` replaces a workspace's scores in one transaction."""

    __tablename__ = "churn_scores"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        tenant_reference("customer_id", "customers"),
        Index("ix_churn_scores_workspace_id_value_at_risk_minor", "workspace_id", "value_at_risk_minor"),
    )

    customer_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    model_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("churn_models.id", ondelete="CASCADE"), index=True
    )
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    risk: Mapped[float] = mapped_column()
    #: the customer's stored CLV when scored (None without a CLV score) and risk × CLV (risk alone ranks then)
    clv_minor: Mapped[int | None] = mapped_column(MinorUnits)
    value_at_risk_minor: Mapped[int | None] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    #: [{"feature", "contribution", "params"}], at most three, the strongest first
    reasons: Mapped[list[dict[str, object]]] = mapped_column(JSON)
