"""Metric answers for the API and CLI."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class MetricRow(BaseModel):
    group: dict[str, str] = Field(description="The slice: one value per requested dimension")
    period: date | None = None
    n: int
    value: float | None = Field(description="NPS (−100…100), CSAT (% satisfied) or CES (mean 1–7)")
    se: float | None
    ci_low: float | None
    ci_high: float | None
    sufficient: bool = Field(description="False below the minimum sample: show a warning, not a verdict")
    counts: dict[str, float] = Field(default_factory=dict)
    change: float | None = Field(None, description="Against the previous period of the same slice")
    change_p_value: float | None = None
    change_significant: bool | None = Field(None, description="p < 0.05 for the change")


class MetricResult(BaseModel):
    metric: str
    higher_is_better: bool = True
    min_sample: int
    rows: list[MetricRow]
    message: str | None = Field(None, description="Why there are no rows, in the caller's language")
