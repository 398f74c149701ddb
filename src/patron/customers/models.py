"""Customer profiles, identified by the integrator's ``external_id``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, IdType, Timestamped, WorkspaceScoped


class Customer(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "customers"
    workspace_indexed = False
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        UniqueConstraint("workspace_id", "id"),  # the target of tenant_reference
        # the dashboard's data-version stamp reads the newest change through this index
        Index("ix_customers_workspace_id_updated_at", "workspace_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    birthday: Mapped[date | None] = mapped_column()
    gender: Mapped[str | None] = mapped_column(String(16))
    locale: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(100))
    segment: Mapped[str | None] = mapped_column(String(64))
    signup_at: Mapped[datetime | None] = mapped_column()
    consent_email: Mapped[bool] = mapped_column(default=False)
    consent_sms: Mapped[bool] = mapped_column(default=False)
    consent_surveys: Mapped[bool] = mapped_column(default=False)
    #: Set by the unsubscribe link; wins over any later import that says yes, until the customer opts in again.
    surveys_unsubscribed_at: Mapped[datetime | None] = mapped_column()
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Set when the customer was erased (``customers.erasure``): the row is then a tombstone that keeps the
    #: orders and the loyalty ledger counted, with every personal column empty and ``external_id`` replaced by
    #: a random ``erased-…`` id.
    erased_at: Mapped[datetime | None] = mapped_column(default=None)


class CustomerErasure(WorkspaceScoped, Base):
    """One erasure: who asked for it, when, and how many rows of each kind went (``counts``); no personal data.
    ``customer_id`` is the tombstone's id (not a person once erased)."""

    __tablename__ = "customer_erasures"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(IdType, default=None)
    actor: Mapped[str] = mapped_column(String(320))
    erased_at: Mapped[datetime] = mapped_column()
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
