"""social: tracked brand names and keywords, the feedback items that mention them, and the reply queue's
handled records (docs/social.md).

Revision ID: 0021_social
Revises: 0020_assistant_entry_history
Create Date: 2026-12-02 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0021_social"
down_revision: str | None = "0020_assistant_entry_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "social_terms",
        sa.Column("id", _ID, nullable=False),
        sa.Column("term", sa.String(length=100), nullable=False),
        sa.Column("normalised", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_social_terms_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_terms")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_social_terms_workspace_id_id")),
        sa.UniqueConstraint(
            "workspace_id", "normalised", name=op.f("uq_social_terms_workspace_id_normalised")
        ),
    )
    op.create_table(
        "social_mentions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("term_id", _ID, nullable=False),
        sa.Column("item_id", _ID, nullable=False),
        sa.Column("occurred_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "term_id"],
            ["social_terms.workspace_id", "social_terms.id"],
            name=op.f("fk_social_mentions_workspace_id_social_terms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "item_id"],
            ["feedback_items.workspace_id", "feedback_items.id"],
            name=op.f("fk_social_mentions_workspace_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_mentions")),
        sa.UniqueConstraint("term_id", "item_id", name=op.f("uq_social_mentions_term_id_item_id")),
    )
    op.create_table(
        "social_replies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("item_id", _ID, nullable=False),
        sa.Column("handled", sa.Boolean(), nullable=False),
        sa.Column("handled_by", sa.String(length=200), nullable=True),
        sa.Column("handled_at", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("reopened_by", sa.String(length=200), nullable=True),
        sa.Column("reopened_at", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "item_id"],
            ["feedback_items.workspace_id", "feedback_items.id"],
            name=op.f("fk_social_replies_workspace_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_replies")),
        sa.UniqueConstraint("workspace_id", "item_id", name=op.f("uq_social_replies_workspace_id_item_id")),
    )
    with op.batch_alter_table("social_mentions", schema=None) as batch_op:
        batch_op.create_index("ix_social_mentions_item_id", ["item_id"], unique=False)
        batch_op.create_index(
            "ix_social_mentions_workspace_id_occurred_at", ["workspace_id", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("social_mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_social_mentions_workspace_id_occurred_at")
        batch_op.drop_index("ix_social_mentions_item_id")
    op.drop_table("social_replies")
    op.drop_table("social_mentions")
    op.drop_table("social_terms")
