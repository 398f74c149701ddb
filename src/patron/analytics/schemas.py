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
