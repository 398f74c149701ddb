"""feedback dismissed terms: keywords an admin said are no topic (a shop's name, noise), which discovery stops
suggesting until the dismissal is undone (docs/feedback.md, "Discovering emerging topics").

Revision ID: 0031_feedback_dismissed_terms
Revises: 0028_loyalty_product_multipliers
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0031_feedback_dismissed_terms"
down_revision: str | None = "0028_loyalty_product_multipliers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback_dismissed_terms",
        sa.Column("id", _ID, nullable=False),
        sa.Column("keyword", sa.String(length=64), nullable=False),
        sa.Column("dismissed_by", sa.String(length=320), nullable=False),
        sa.Column("dismissed_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_feedback_dismissed_terms_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_dismissed_terms")),
        sa.UniqueConstraint(
            "workspace_id", "keyword", name=op.f("uq_feedback_dismissed_terms_workspace_id_keyword")
        ),
    )


def downgrade() -> None:
    op.drop_table("feedback_dismissed_terms")
