"""API shapes of stored CLV scores."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel


class ClvScoreRead(BaseModel):
    customer_id: str
    model_version: str
    observation_end: date
    computed_at: datetime
    frequency: int
    recency_days: int
    age_days: int
    probability_alive: float
    horizon_months: int
    expected_purchases: float
    expected_spend: Decimal
    clv: Decimal
    currency: str


class ClvScorePage(BaseModel):
    total: int
    items: list[ClvScoreRead]


class ChurnReason(BaseModel):
    feature: str
    #: how much this feature raises the risk (risk minus the risk with the feature at its typical value)
    contribution: float
    text: str


class ChurnCustomerRead(BaseModel):
    customer_id: str
    model_version: str
    cutoff: date
    computed_at: datetime
    risk: float
    clv: Decimal | None
    value_at_risk: Decimal | None
    currency: str
    reasons: list[ChurnReason]


class ChurnPage(BaseModel):
    total: int
    items: list[ChurnCustomerRead]


class ChurnModelRead(BaseModel):
    model_version: str
    #: inactivity (no purchase in window_days) or cancelled (a subscription cancelled in window_days)
    definition: str
    window_days: int
    cutoff: date
    computed_at: datetime
    customers: int
    evaluation: dict[str, object]
