"""churn models and scores: each churn model (window, cut-off, out-of-time evaluation) and each customer's
latest risk with its top reasons (patron churn score).

Revision ID: 0014_churn
Revises: 0013_login_sessions
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0014_churn"
down_revision: str | None = "0013_login_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "churn_models",
        sa.Column("id", ID, nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("cutoff", sa.Date(), nullable=False),
        sa.Column("computed_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("workspace_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_churn_models_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_churn_models")),
    )
    with op.batch_alter_table("churn_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_churn_models_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "churn_scores",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("model_id", ID, nullable=False),
        sa.Column("computed_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("risk", sa.Double(), nullable=False),
        sa.Column("clv_minor", ID, nullable=True),
        sa.Column("value_at_risk_minor", ID, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("workspace_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["churn_models.id"],
            name=op.f("fk_churn_scores_model_id_churn_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "customer_id"],
            ["customers.workspace_id", "customers.id"],
            name=op.f("fk_churn_scores_workspace_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_churn_scores")),
    )
    with op.batch_alter_table("churn_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_churn_scores_model_id"), ["model_id"], unique=False)
        batch_op.create_index(
            "ix_churn_scores_workspace_id_value_at_risk_minor",
            ["workspace_id", "value_at_risk_minor"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("churn_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_churn_scores_workspace_id_value_at_risk_minor")
        batch_op.drop_index(batch_op.f("ix_churn_scores_model_id"))
    op.drop_table("churn_scores")
    with op.batch_alter_table("churn_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_churn_models_workspace_id"))
    op.drop_table("churn_models")
