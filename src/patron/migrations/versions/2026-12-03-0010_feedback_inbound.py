"""feedback inbound: signed inbound webhook sources per workspace (docs/feedback.md).

Revision ID: 0022_feedback_inbound
Revises: 0021_social
Create Date: 2026-12-03 00:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0022_feedback_inbound"
down_revision: str | None = "0021_social"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback_inbound_sources",
        sa.Column("id", _ID, nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("rotated_at", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_feedback_inbound_sources_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_inbound_sources")),
        sa.UniqueConstraint("public_id", name=op.f("uq_feedback_inbound_sources_public_id")),
        sa.UniqueConstraint(
            "workspace_id", "name", name=op.f("uq_feedback_inbound_sources_workspace_id_name")
        ),
    )


def downgrade() -> None:
    op.drop_table("feedback_inbound_sources")
