"""churn definitions: churn_models.definition, ``inactivity`` (no purchase in the window) or ``cancelled`` (a
subscription cancelled in the window; docs/churn.md).

Revision ID: 0026_churn_features
Revises: 0025_loyalty_enrolment
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_churn_features"
down_revision: str | None = "0025_loyalty_enrolment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("churn_models") as batch:
        batch.add_column(
            sa.Column("definition", sa.String(length=16), server_default="inactivity", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("churn_models") as batch:
        batch.drop_column("definition")
