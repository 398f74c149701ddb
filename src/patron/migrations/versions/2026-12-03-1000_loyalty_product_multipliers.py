"""loyalty product multipliers: an earn-rule version may set a multiplier per product, which takes precedence
over the product's category multiplier (docs/loyalty.md, "Earn rules"); and an index on the lot an entry
filled, which earning for a big import looks up per chunk (bench/loyalty_earn.py).

Revision ID: 0028_loyalty_product_multipliers
Revises: 0027_feedback_discovery
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_loyalty_product_multipliers"
down_revision: str | None = "0027_feedback_discovery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_earn_rules") as batch:
        batch.add_column(sa.Column("product_multipliers", sa.JSON(), server_default="{}", nullable=False))
    op.create_index("ix_loyalty_lots_entry_id", "loyalty_lots", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_loyalty_lots_entry_id", table_name="loyalty_lots")
    with op.batch_alter_table("loyalty_earn_rules") as batch:
        batch.drop_column("product_multipliers")
