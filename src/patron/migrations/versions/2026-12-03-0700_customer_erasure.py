"""customer erasure and retention of feedback originals: customers.erased_at (the tombstone), the erasure log
and workspaces.feedback_original_days (docs/privacy.md).

Revision ID: 0024_customer_erasure
Revises: 0023_loyalty_point_value
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0024_customer_erasure"
down_revision: str | None = "0023_loyalty_point_value"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("erased_at", patron.core.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("feedback_original_days", sa.Integer(), nullable=True))
    op.create_table(
        "customer_erasures",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("erased_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_customer_erasures_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_erasures")),
    )
    op.create_index(
        op.f("ix_customer_erasures_workspace_id"), "customer_erasures", ["workspace_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_erasures_workspace_id"), table_name="customer_erasures")
    op.drop_table("customer_erasures")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("feedback_original_days")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("erased_at")
