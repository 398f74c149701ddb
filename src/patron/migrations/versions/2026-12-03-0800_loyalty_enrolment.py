"""loyalty enrolment with consent: loyalty_programs.enrolment (auto | consent) and, per member, the recorded
consent (when, where, by whom), the moment from which orders earn and when the member left (docs/loyalty.md).

Revision ID: 0025_loyalty_enrolment
Revises: 0024_customer_erasure
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0025_loyalty_enrolment"
down_revision: str | None = "0024_customer_erasure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_programs") as batch:
        batch.add_column(sa.Column("enrolment", sa.String(length=16), server_default="auto", nullable=False))
    with op.batch_alter_table("loyalty_members") as batch:
        batch.add_column(sa.Column("consent_at", patron.core.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("consent_source", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("consent_by", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("earns_from", patron.core.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("left_at", patron.core.db.UTCDateTime(timezone=True), nullable=True))
    # Members enrolled before this revision joined on their orders.
    op.execute("UPDATE loyalty_members SET consent_source = 'auto'")


def downgrade() -> None:
    with op.batch_alter_table("loyalty_members") as batch:
        for name in ("left_at", "earns_from", "consent_by", "consent_source", "consent_at"):
            batch.drop_column(name)
    with op.batch_alter_table("loyalty_programs") as batch:
        batch.drop_column("enrolment")
