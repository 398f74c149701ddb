"""feedback discovery and testimonials: how a consenting respondent may be named (survey_responses.publish_as)
and the admin's decision on each testimonial (feedback_testimonials). Discovery itself needs no table: an
accepted topic is a new taxonomy version (docs/feedback.md).

Revision ID: 0027_feedback_discovery
Revises: 0026_churn_features
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0027_feedback_discovery"
down_revision: str | None = "0026_churn_features"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("survey_responses") as batch:
        batch.add_column(
            sa.Column("publish_as", sa.String(length=16), server_default="anonymous", nullable=False)
        )
    op.create_table(
        "feedback_testimonials",
        sa.Column("id", _ID, nullable=False),
        sa.Column("item_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=320), nullable=False),
        sa.Column("decided_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "item_id"],
            ["feedback_items.workspace_id", "feedback_items.id"],
            name=op.f("fk_feedback_testimonials_workspace_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_testimonials")),
        sa.UniqueConstraint(
            "workspace_id", "item_id", name=op.f("uq_feedback_testimonials_workspace_id_item_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("feedback_testimonials")
    with op.batch_alter_table("survey_responses") as batch:
        batch.drop_column("publish_as")
