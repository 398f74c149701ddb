"""order lines keyed by (order_id, line_no): the surrogate id, which nothing referenced, goes, and the unique
constraint on (order_id, line_no) becomes the primary key. One index and one sequence fewer to write for every line:
importing 1M order lines on PostgreSQL 23.0 s -> 22.4-22.7 s (fresh databases, in-process timings).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_lines") as batch_op:  # SQLite rebuilds the table; PostgreSQL alters it
        batch_op.drop_constraint("uq_order_lines_order_id_line_no", type_="unique")
        batch_op.drop_column("id")  # with its primary key (and on PostgreSQL its sequence)
        batch_op.create_primary_key("pk_order_lines", ["order_id", "line_no"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_order_lines", "order_lines", type_="primary")
        # as 0001 made it; adding it numbers every existing line
        op.execute("ALTER TABLE order_lines ADD COLUMN id BIGSERIAL NOT NULL")
        op.create_primary_key("pk_order_lines", "order_lines", ["id"])
        op.create_unique_constraint("uq_order_lines_order_id_line_no", "order_lines", ["order_id", "line_no"])
        return
    with op.batch_alter_table("order_lines", recreate="always") as batch_op:
        batch_op.drop_constraint("pk_order_lines", type_="primary")
        batch_op.add_column(sa.Column("id", sa.Integer(), primary_key=True))
        batch_op.create_unique_constraint("uq_order_lines_order_id_line_no", ["order_id", "line_no"])
