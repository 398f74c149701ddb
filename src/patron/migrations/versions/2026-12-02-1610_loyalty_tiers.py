"""loyalty tiers: versioned tier sets (thresholds of qualifying spend, names in three languages, benefits), each
member's tier and its history with reasons, birthday rewards once per member and year, and the tier multiplier an
order line earned by (docs/loyalty.md).

Revision ID: 0016_loyalty_tiers
Revises: 0015_assistant
Create Date: 2026-12-02 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0016_loyalty_tiers"
down_revision: str | None = "0015_assistant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loyalty_tier_sets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("window_months", sa.Integer(), nullable=False),
        sa.Column("review_month", sa.Integer(), nullable=False),
        sa.Column("grace_months", sa.Integer(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=True),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_loyalty_tier_sets_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_tier_sets")),
        sa.UniqueConstraint(
            "workspace_id", "version", name=op.f("uq_loyalty_tier_sets_workspace_id_version")
        ),
    )
    op.create_table(
        "loyalty_birthday_rewards",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("given_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "member_id"],
            ["loyalty_members.workspace_id", "loyalty_members.id"],
            name=op.f("fk_loyalty_birthday_rewards_workspace_id_loyalty_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_birthday_rewards")),
        sa.UniqueConstraint(
            "workspace_id",
            "member_id",
            "year",
            name=op.f("uq_loyalty_birthday_rewards_workspace_id_member_id_year"),
        ),
    )
    op.create_table(
        "loyalty_member_tiers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("since", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewed_year", sa.Integer(), nullable=True),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "member_id"],
            ["loyalty_members.workspace_id", "loyalty_members.id"],
            name=op.f("fk_loyalty_member_tiers_workspace_id_loyalty_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_member_tiers")),
        sa.UniqueConstraint(
            "workspace_id", "member_id", name=op.f("uq_loyalty_member_tiers_workspace_id_member_id")
        ),
    )
    op.create_table(
        "loyalty_tier_moves",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_tier", sa.String(length=32), nullable=False),
        sa.Column("to_tier", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("qualifying_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tier_set_version", sa.Integer(), nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "member_id"],
            ["loyalty_members.workspace_id", "loyalty_members.id"],
            name=op.f("fk_loyalty_tier_moves_workspace_id_loyalty_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_tier_moves")),
    )
    with op.batch_alter_table("loyalty_tier_moves", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_tier_moves_workspace_id_created_at", ["workspace_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_loyalty_tier_moves_workspace_id_member_id_id",
            ["workspace_id", "member_id", "id"],
            unique=False,
        )

    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tier_percent", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.drop_column("tier_percent")

    with op.batch_alter_table("loyalty_tier_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_tier_moves_workspace_id_member_id_id")
        batch_op.drop_index("ix_loyalty_tier_moves_workspace_id_created_at")

    op.drop_table("loyalty_tier_moves")
    op.drop_table("loyalty_member_tiers")
    op.drop_table("loyalty_birthday_rewards")
    op.drop_table("loyalty_tier_sets")
