"""assistant knowledge base: entries (title question, phrasings, answer, category, language, validity, status),
unique by the shop's own id in each workspace (docs/assistant.md).

Revision ID: 0015_assistant
Revises: 0014_churn
Create Date: 2026-12-02 15:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0015_assistant"
down_revision: str | None = "0014_churn"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistant_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("phrasings", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("valid_from", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_until", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_assistant_entries_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_entries")),
        sa.UniqueConstraint(
            "workspace_id", "external_id", name=op.f("uq_assistant_entries_workspace_id_external_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("assistant_entries")
