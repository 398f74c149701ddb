"""Alert rules: how far a metric may fall from one period to the next before the dashboard raises it."""

from __future__ import annotations

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, IdType, Timestamped, WorkspaceScoped


class AlertRule(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("workspace_id", "metric"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    metric: Mapped[str] = mapped_column(String(24))
    #: In the metric's own unit: NPS points, percentage points of CSAT or response rate, CES scale points.
    max_drop: Mapped[float] = mapped_column()
    #: Raise only when the fall is also statistically significant (p < 0.05), not sampling noise.
    significant_only: Mapped[bool] = mapped_column(default=True)
