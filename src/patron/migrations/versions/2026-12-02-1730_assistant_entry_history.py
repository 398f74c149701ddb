"""assistant entry history: one row per change of a knowledge-base entry (who, when, before/after per field),
and on each recorded question whether an admin covered its knowledge gap (the entry and when) (docs/assistant.md).

Revision ID: 0020_assistant_entry_history
Revises: 0019_feedback
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0020_assistant_entry_history"
down_revision: str | None = "0019_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "assistant_entry_changes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("changed_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["assistant_entries.id"],
            name=op.f("fk_assistant_entry_changes_entry_id_assistant_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_assistant_entry_changes_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_assistant_entry_changes_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_entry_changes")),
    )
    op.create_index(
        "ix_assistant_entry_changes_entry_id", "assistant_entry_changes", ["entry_id"], unique=False
    )
    op.add_column("assistant_questions", sa.Column("covered_by", sa.String(length=128), nullable=True))
    op.add_column(
        "assistant_questions",
        sa.Column("covered_at", patron.core.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("assistant_questions") as batch:
        batch.drop_column("covered_at")
        batch.drop_column("covered_by")
    op.drop_index("ix_assistant_entry_changes_entry_id", table_name="assistant_entry_changes")
    op.drop_table("assistant_entry_changes")
