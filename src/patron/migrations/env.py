"""Alembic environment: the engine comes from ``patron.core.migrate`` (or the configured database)."""

from __future__ import annotations

from alembic import context

from patron.core.db import get_engine
from patron.tables import metadata

config = context.config
engine = config.attributes.get("engine") or get_engine()

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
