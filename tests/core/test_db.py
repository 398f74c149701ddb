"""The SQLite writer queue when another process holds the database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from patron.core.db import make_engine


def test_a_locked_file_is_named_and_the_queue_is_free_again(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def short_wait(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=100")

    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None)  # another process, as a CLI import beside the server
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="database is locked"), engine.begin():
        pass
    other.execute("ROLLBACK")
    other.close()
    with engine.begin() as connection:  # the writer queue was released once, and is free
        connection.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    engine.dispose()
