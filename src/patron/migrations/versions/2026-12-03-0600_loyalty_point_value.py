"""loyalty point value: what one point is worth, to read outstanding points as money (docs/loyalty.md).

Revision ID: 0023_loyalty_point_value
Revises: 0022_feedback_inbound
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_loyalty_point_value"
down_revision: str | None = "0022_feedback_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_programs") as batch:
        batch.add_column(sa.Column("point_value_ten_thousandths", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loyalty_programs") as batch:
        batch.drop_column("point_value_ten_thousandths")
