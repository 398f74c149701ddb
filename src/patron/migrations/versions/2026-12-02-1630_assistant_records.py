"""assistant records: questions asked (PII-masked text, language, top entry, confidence, answered, channel,
rating), hand-over conversations (status, contact or customer, signed-link nonce) and their messages
(docs/assistant.md).

Revision ID: 0018_assistant_records
Revises: 0017_rewards
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0018_assistant_records"
down_revision: str | None = "0017_rewards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistant_questions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asked_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.String(length=16), nullable=True),
        sa.Column("rated_at", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_assistant_questions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_questions")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_assistant_questions_workspace_id_id")),
    )
    op.create_index(
        "ix_assistant_questions_workspace_id_asked_at",
        "assistant_questions",
        ["workspace_id", "asked_at"],
        unique=False,
    )
    op.create_table(
        "assistant_conversations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("closed_at", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "customer_id"],
            ["customers.workspace_id", "customers.id"],
            name=op.f("fk_assistant_conversations_workspace_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "question_id"],
            ["assistant_questions.workspace_id", "assistant_questions.id"],
            name=op.f("fk_assistant_conversations_workspace_id_assistant_questions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_assistant_conversations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_conversations")),
        sa.UniqueConstraint("nonce", name=op.f("uq_assistant_conversations_nonce")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_assistant_conversations_workspace_id_id")),
    )
    op.create_index(
        "ix_assistant_conversations_workspace_id_status",
        "assistant_conversations",
        ["workspace_id", "status"],
        unique=False,
    )
    op.create_table(
        "assistant_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", patron.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("send_error", sa.String(length=500), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_assistant_messages_user_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "conversation_id"],
            ["assistant_conversations.workspace_id", "assistant_conversations.id"],
            name=op.f("fk_assistant_messages_workspace_id_assistant_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_messages")),
    )
    op.create_index(
        "ix_assistant_messages_conversation_id", "assistant_messages", ["conversation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_assistant_messages_conversation_id", table_name="assistant_messages")
    op.drop_table("assistant_messages")
    op.drop_index("ix_assistant_conversations_workspace_id_status", table_name="assistant_conversations")
    op.drop_table("assistant_conversations")
    op.drop_index("ix_assistant_questions_workspace_id_asked_at", table_name="assistant_questions")
    op.drop_table("assistant_questions")
