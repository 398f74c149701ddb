"""Alembic environment: the engine comes from ``patron.core.migrate`` (or the configured database)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from patron.core.db import get_engine
from patron.tables import metadata

config = context.config
engine = config.attributes.get("engine") or get_engine()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")
    connection.commit()


with engine.connect() as connection:
    if connection.dialect.name != "sqlite":
        _run(connection)
    else:
        # Batch migrations rebuild a SQLite table by copy, drop and rename; with foreign keys enforced, dropping
        # a parent would delete its children (ON DELETE CASCADE). SQLite's documented procedure: enforcement off
        # outside the transaction, every key checked before the commit (above), enforcement back on.
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            _run(connection)
        finally:
            connection.rollback()  # nothing after a commit; otherwise the PRAGMA would be ignored in a transaction
            raw.execute("PRAGMA foreign_keys=ON")
