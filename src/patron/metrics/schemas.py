"""Metric answers for the API and CLI."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field


class MetricRow(BaseModel):
    group: dict[str, str] = Field(description="The slice: one value per requested dimension")
    period: date | None = None
    n: int
    value: float | None = Field(description="NPS (−100…100), CSAT (% satisfied) or CES (mean 1–7)")
    se: float | None
    ci_low: float | None = Field(description="95 % interval; none for a mean of one answer")
    ci_high: float | None
    sufficient: bool = Field(description="False below the minimum sample: show a warning, not a verdict")
    counts: dict[str, float] = Field(default_factory=dict)
    change: float | None = Field(None, description="Against the previous period of the same slice")
    change_ci_low: float | None = Field(None, description="95 % interval of the change")
    change_ci_high: float | None = None
    change_p_value: float | None = Field(
        None, description="Two-sided; below 0.05 exactly when the interval leaves out 0"
    )
    change_significant: bool | None = Field(
        None, description="p < 0.05 for the change; none when either period is below the minimum sample"
    )
    change_reason: str | None = Field(
        None,
        description="Why there is no verdict: small_sample (a period below the minimum sample) or no_spread",
    )


class MetricResult(BaseModel):
    metric: str
    higher_is_better: bool = True
    min_sample: int
    rows: list[MetricRow]
    message: str | None = Field(None, description="Why there are no rows, in the caller's language")


class RetentionRow(BaseModel):
    period: date
    customers_start: int | None = Field(description="S: active in the previous period")
    customers_end: int = Field(description="E: active in this period")
    new_customers: int = Field(description="N: first purchase in this period")
    retained_customers: int | None
    crr: float | None = Field(description="(E − N) / S, %")
    retention_rate: float | None = Field(description="active in both periods / S, %")
    churn_rate: float | None
    repeat_purchase_rate: float
    purchase_frequency: float
    orders: int
    revenue: Decimal
    average_order_value: Decimal
    value_per_customer: Decimal
    days_between_purchases: float | None
    partial: bool = Field(description="The period holding today in the workspace's time zone: still running")


class CohortRow(BaseModel):
    cohort: date
    size: int
    retention: list[float] = Field(description="% of the cohort active 0, 1, 2 … periods after its first")
    partial: bool = Field(description="The cohort's period is still running: it can still gain customers")
    last_share_partial: bool = Field(
        description="The last share is of the period still running (the latest period is today's): it can still grow"
    )


class EngagementRow(BaseModel):
    period: date
    group: str | None = Field(None, description="The channel or interaction type, when sliced")
    interactions: int
    customers: int = Field(description="Customers with at least one interaction in the period")
    per_customer: float
    partial: bool = Field(description="The period holding today in the workspace's time zone: still running")


class SliceComparison(BaseModel):
    """Two slices of one metric side by side (two segments, two channels…) and whether they differ."""

    metric: str
    dimension: str
    a: MetricRow
    b: MetricRow
    difference: float | None = Field(description="a − b, in the metric's unit")
    se: float | None
    p_value: float | None = Field(description="Two-sided; below 0.05 exactly when the interval leaves out 0")
    significant: bool | None = Field(
        description="p < 0.05; none when a slice is below the minimum sample or no answers vary"
    )
    ci_low: float | None = Field(None, description="95 % interval of the difference")
    ci_high: float | None = None
    reason: str | None = Field(None, description="Why there is no verdict: small_sample or no_spread")
