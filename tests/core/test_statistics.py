"""PostgreSQL statistics kept up to date by the writers themselves (``core.db.keep_statistics``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session

from patron.core import migrate
from patron.core.clock import utcnow
from patron.core.db import StatisticsWatch, keep_statistics, make_engine, transaction
from patron.core.models import Workspace
from patron.feedback.service import _store_comment_items, analyse_texts, copies, shipped_taxonomy


def _known(connection: Connection, table: str) -> float:
    return float(
        connection.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}
        ).scalar_one()
    )


def _add(connection: Connection, first: int, last: int) -> None:
    connection.exec_driver_sql(
        f"INSERT INTO stat_rows SELECT i, 1 FROM generate_series({first}, {last}) AS i"
    )


def test_statistics_are_taken_again_after_a_large_write_or_when_the_table_doubles(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        with engine.connect() as connection:
            assert keep_statistics(connection, ["customers"], written=10**6) == [], "SQLite keeps none"
        return
    with engine.connect() as connection, connection.begin() as transaction:
        connection.exec_driver_sql("CREATE TABLE stat_rows (id bigint PRIMARY KEY, workspace_id int)")
        _add(connection, 1, 100)
        assert keep_statistics(connection, ["stat_rows"]) == [], "one page: below the 16 worth analysing"
        _add(connection, 101, 5_000)  # 22 pages of 226 rows
        assert keep_statistics(connection, ["stat_rows"]) == ["stat_rows"]
        assert _known(connection, "stat_rows") == 5_000
        _add(connection, 5_001, 6_000)
        assert keep_statistics(connection, ["stat_rows"]) == [], (
            "a fifth more pages: the statistics still hold"
        )
        assert keep_statistics(connection, ["stat_rows"], written=400) == [], "400 rows of 5,000 known"
        assert keep_statistics(connection, ["stat_rows"], written=500) == ["stat_rows"], "a tenth"
        assert _known(connection, "stat_rows") == 6_000
        _add(connection, 6_001, 12_500)
        assert keep_statistics(connection, ["stat_rows"]) == ["stat_rows"], "twice the pages"
        assert _known(connection, "stat_rows") == 12_500
        transaction.rollback()


def test_a_watch_looks_at_the_statistics_once_every_so_many_rows(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL statistics")
    watch = StatisticsWatch(["stat_rows"], every=1_000)
    with engine.connect() as connection, connection.begin() as transaction:
        connection.exec_driver_sql("CREATE TABLE stat_rows (id bigint PRIMARY KEY, workspace_id int)")
        _add(connection, 1, 5_000)
        assert watch.wrote(connection, 999) == [], "not looked at before 1,000 rows"
        assert watch.wrote(connection, 1) == ["stat_rows"]
        assert _known(connection, "stat_rows") == 5_000
        _add(connection, 5_001, 12_500)
        assert watch.wrote(connection, 600) == [] and _known(connection, "stat_rows") == 5_000
        assert watch.wrote(connection, 400) == ["stat_rows"]
        assert _known(connection, "stat_rows") == 12_500
        transaction.rollback()


def test_a_fresh_watch_looks_at_its_first_write_and_analyses_small_tables_never_analysed(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL statistics")
    watch = StatisticsWatch(["stat_rows", "stat_empty"], every=1_000, fresh=True)
    with engine.connect() as connection, connection.begin() as transaction:
        connection.exec_driver_sql("CREATE TABLE stat_rows (id bigint PRIMARY KEY, workspace_id int)")
        connection.exec_driver_sql("CREATE TABLE stat_empty (id bigint PRIMARY KEY)")
        _add(connection, 1, 100)  # one page
        assert _known(connection, "stat_rows") == -1, "never analysed"
        assert watch.wrote(connection, 1) == ["stat_rows"], "the first write looks; the empty table waits"
        assert _known(connection, "stat_rows") == 100
        _add(connection, 101, 200)
        assert watch.wrote(connection, 1) == [], "then once every 1,000 rows, as before"
        assert watch.wrote(connection, 999) == [], "100 rows known, one page: below the 16 worth analysing"
        transaction.rollback()


@pytest.fixture
def fresh_postgresql(engine: Engine) -> Iterator[Engine]:
    """A database of its own, just migrated: its tables were never analysed, as on a new install."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL plans")
    name = "patron_fresh_plans"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    fresh = make_engine(make_url(engine.url).set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(fresh)
    try:
        yield fresh
    finally:
        fresh.dispose()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")


def _comment_items(workspace_id: int, batch: int, size: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    taxonomy, now = shipped_taxonomy(), utcnow()
    made = [copies(f"送餐很快但湯是冷的 {batch}-{i}") for i in range(size)]
    values: list[dict[str, Any]] = []
    analyses: dict[str, Any] = {}
    for i, (copy, analysis) in enumerate(
        zip(made, analyse_texts(taxonomy, [m.analysis for m in made]), strict=True)
    ):
        key = f"plan:{batch}:{i}"
        values.append({"workspace_id": workspace_id, "source_key": key, "channel": "survey", "source": "csat",
                       "source_id": key, "occurred_at": now, "author": None, "customer_id": None, "rating": None,
                       "reply_to": None, "survey_answer_id": None, "text": key, "masked_text": copy.masked,
                       "analysis_text": copy.analysis, "language": copy.language, "sentiment": analysis.sentiment,
                       "sentiment_score": analysis.score, "analyzed_with": taxonomy.tag, "created_at": now,
                       "updated_at": now})  # fmt: skip
        analyses[key] = analysis
    return values, analyses


def test_survey_comments_theme_mentions_find_their_item_by_its_key_on_a_new_database(
    fresh_postgresql: Engine,
) -> None:
    """Each mention's foreign key check looks its item up. Planned on the young table and kept by the
    connection, the check read every item of the workspace through the occurred_at index (0.2 ms a row at
    1,000 items, 1.2 ms at 6,000); the writer now analyses the table as it grows, and the check is planned
    again on its real size."""
    with transaction(fresh_postgresql) as session:
        workspace = Workspace(slug="plans", name="plans")
        session.add(workspace)
        session.flush()
        workspace_id = workspace.id
    with fresh_postgresql.connect() as connection:  # the pool's one connection: the writer's plans are kept
        connection.exec_driver_sql("LOAD 'auto_explain'")
        connection.exec_driver_sql(
            "SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; "
            "SET auto_explain.log_level = notice"
        )
        connection.commit()
        notices: list[str] = []
        connection.connection.dbapi_connection.add_notice_handler(  # type: ignore[union-attr]
            lambda notice: notices.append(notice.message_primary or "")
        )
        for batch in range(4):
            notices.clear()
            with Session(bind=connection) as session:
                assert _store_comment_items(session, *_comment_items(workspace_id, batch, 1000)) == 1000
                session.commit()
    checks = [line for notice in notices if "feedback_items x" in notice for line in notice.splitlines()]
    scans = {line.split(" using ")[1].split(" on ")[0] for line in checks if " using " in line}
    assert scans and scans <= {"uq_feedback_items_workspace_id_id", "feedback_items_pkey"}, checks
