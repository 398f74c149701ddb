"""money in 64-bit minor units: 30,000,000.00 TWD (3e9 minor units) overflowed PostgreSQL's 32-bit integer
columns (found by tests/imports; SQLite integers are already 64-bit, so nothing changes there)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 07:03:39.560213
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = (
    ("order_lines", "unit_price_minor", False),
    ("order_lines", "discount_minor", False),
    ("order_lines", "amount_minor", False),
    ("orders", "total_minor", False),
    ("products", "price_minor", True),
)


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())


def _retype(old: sa.types.TypeEngine[int], new: sa.types.TypeEngine[int]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column, nullable in MONEY_COLUMNS:
        op.alter_column(table, column, existing_type=old, type_=new, existing_nullable=nullable)
