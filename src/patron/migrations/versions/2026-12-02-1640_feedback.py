"""feedback: items from every channel (text as written, masked and analysis copies), the themes each mentions
with that mention's sentiment, and workspace versions of the theme taxonomy (docs/feedback.md).

Revision ID: 0019_feedback
Revises: 0018_assistant_records
Create Date: 2026-12-02 16:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0019_feedback"
down_revision: str | None = "0018_assistant_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_taxonomies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_feedback_taxonomies_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_taxonomies")),
        sa.UniqueConstraint(
            "workspace_id", "version", name=op.f("uq_feedback_taxonomies_workspace_id_version")
        ),
    )
    op.create_table(
        "feedback_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=True),
        sa.Column("occurred_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("reply_to", sa.String(length=500), nullable=True),
        sa.Column("survey_answer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("masked_text", sa.Text(), nullable=False),
        sa.Column("analysis_text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=True),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        sa.Column("analyzed_with", sa.String(length=40), nullable=True),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_answer_id"],
            ["survey_answers.id"],
            name=op.f("fk_feedback_items_survey_answer_id_survey_answers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "customer_id"],
            ["customers.workspace_id", "customers.id"],
            name=op.f("fk_feedback_items_workspace_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_feedback_items_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_items")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_feedback_items_workspace_id_id")),
        sa.UniqueConstraint(
            "workspace_id", "source_key", name=op.f("uq_feedback_items_workspace_id_source_key")
        ),
    )
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_items_survey_answer_id"), ["survey_answer_id"], unique=False
        )
        batch_op.create_index(
            "ix_feedback_items_workspace_id_analyzed_with", ["workspace_id", "analyzed_with"], unique=False
        )
        batch_op.create_index(
            "ix_feedback_items_workspace_id_occurred_at", ["workspace_id", "occurred_at"], unique=False
        )

    op.create_table(
        "feedback_mentions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("theme", sa.String(length=48), nullable=False),
        sa.Column("clause", sa.Integer(), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("occurred_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "item_id"],
            ["feedback_items.workspace_id", "feedback_items.id"],
            name=op.f("fk_feedback_mentions_workspace_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_mentions")),
        sa.UniqueConstraint("item_id", "theme", name=op.f("uq_feedback_mentions_item_id_theme")),
    )
    with op.batch_alter_table("feedback_mentions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feedback_mentions_workspace_id_theme_occurred_at",
            ["workspace_id", "theme", "occurred_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback_mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_mentions_workspace_id_theme_occurred_at")

    op.drop_table("feedback_mentions")
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_items_workspace_id_occurred_at")
        batch_op.drop_index("ix_feedback_items_workspace_id_analyzed_with")
        batch_op.drop_index(batch_op.f("ix_feedback_items_survey_answer_id"))

    op.drop_table("feedback_items")
    op.drop_table("feedback_taxonomies")
