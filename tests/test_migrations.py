"""The schema comes from Alembic on both databases, and the migrations match the models exactly."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from patron.core import migrate
from patron.core.db import make_engine
from patron.tables import metadata
from tests.conftest import BACKENDS


def test_database_is_at_head(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision(engine)


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_upgrade_is_safe_to_rerun(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own, for tests that move the schema up and down."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    server = make_url(request.getfixturevalue("postgres_url"))
    name = f"patron_migrations_{secrets.token_hex(4)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE {name}")
    admin.dispose()


def _commerce_rows(connection: Connection) -> None:
    """Two workspaces with a customer, an order with two lines and an interaction each (the 0005 schema)."""
    now = "2026-01-01 00:00:00"
    for ws in (1, 2):
        connection.execute(
            text(
                "INSERT INTO workspaces (id, slug, name, timezone, currency, default_locale, created_at, updated_at)"
                " VALUES (:ws, :slug, 'w', 'Asia/Taipei', 'TWD', 'zh-Hant', :now, :now)"
            ),
            {"ws": ws, "slug": f"w{ws}", "now": now},
        )
        values = {"ws": ws, "id": ws * 10, "now": now}
        connection.execute(
            text(
                "INSERT INTO customers (id, workspace_id, external_id, consent_email, consent_sms, consent_surveys,"
                " created_at, updated_at) VALUES (:id, :ws, 'C1', false, false, false, :now, :now)"
            ),
            values,
        )
        connection.execute(
            text(
                "INSERT INTO orders (id, workspace_id, external_id, customer_id, ordered_at, status, channel,"
                " currency, total_minor, created_at, updated_at)"
                " VALUES (:id, :ws, 'O1', :id, :now, 'completed', 'web', 'TWD', 300, :now, :now)"
            ),
            values,
        )
        for line in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO order_lines (workspace_id, order_id, line_no, quantity, unit_price_minor,"
                    " discount_minor, amount_minor) VALUES (:ws, :id, :line, 1, 150, 0, 150)"
                ),
                {**values, "line": line},
            )
        connection.execute(
            text(
                "INSERT INTO interactions (workspace_id, external_id, customer_id, occurred_at, type, channel,"
                " created_at, updated_at) VALUES (:ws, 'E1', :id, :now, 'visit', 'web', :now, :now)"
            ),
            values,
        )


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("workspaces", "customers", "orders", "order_lines", "interactions")
        }


def test_tenant_references_keep_every_row_and_refuse_another_workspaces_parent(
    empty_database: Engine,
) -> None:
    """0006 rebuilds SQLite tables by copy, drop and rename: with foreign keys enforced, dropping customers
    would have deleted every order. Afterwards a line cannot belong to another workspace's order."""
    migrate.upgrade(empty_database, "0005")
    with empty_database.begin() as connection:
        _commerce_rows(connection)
    before = _counts(empty_database)
    assert before == {"workspaces": 2, "customers": 2, "orders": 2, "order_lines": 4, "interactions": 2}

    migrate.upgrade(empty_database)
    assert _counts(empty_database) == before
    cross_tenant = (  # each in workspace 2, naming the order or customer (id 10) of workspace 1
        "INSERT INTO order_lines (workspace_id, order_id, line_no, quantity, unit_price_minor, discount_minor,"
        " amount_minor) VALUES (2, 10, 3, 1, 150, 0, 150)",
        "INSERT INTO orders (workspace_id, external_id, customer_id, ordered_at, status, channel, currency,"
        " total_minor, created_at, updated_at) VALUES (2, 'O2', 10, :now, 'completed', 'web', 'TWD', 0, :now, :now)",
        "INSERT INTO interactions (workspace_id, external_id, customer_id, occurred_at, type, channel, created_at,"
        " updated_at) VALUES (2, 'E2', 10, :now, 'visit', 'web', :now, :now)",
    )
    for statement in cross_tenant:
        with pytest.raises(IntegrityError), empty_database.begin() as connection:
            connection.execute(text(statement), {"now": "2026-01-01 00:00:00"})
    with empty_database.begin() as connection:
        connection.execute(text("DELETE FROM workspaces WHERE id = 1"))
    assert _counts(empty_database) == {
        "workspaces": 1, "customers": 1, "orders": 1, "order_lines": 2, "interactions": 1,
    }, "deleting a workspace still deletes its customers, orders, lines and interactions"  # fmt: skip

    after_delete = _counts(empty_database)
    migrate.downgrade(empty_database, "0005")
    assert _counts(empty_database) == after_delete
    migrate.upgrade(empty_database)
    assert _counts(empty_database) == after_delete


def _lines(engine: Engine) -> list[tuple[int, int, int, int]]:
    with engine.connect() as connection:
        query = (
            "SELECT workspace_id, order_id, line_no, amount_minor FROM order_lines ORDER BY order_id, line_no"
        )
        return [tuple(row) for row in connection.execute(text(query))]


def test_order_lines_keyed_by_order_and_line_keep_every_line_both_ways(empty_database: Engine) -> None:
    """0007 drops the lines' own id: every line keeps its values; its order and number are its key (a second
    line 1 of an order is refused); going back numbers each line with an id again."""
    migrate.upgrade(empty_database, "0006")
    with empty_database.begin() as connection:
        _commerce_rows(connection)
    before = _lines(empty_database)
    assert len(before) == 4

    migrate.upgrade(empty_database)
    assert _lines(empty_database) == before
    with empty_database.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("order_lines")}
        key = inspect(connection).get_pk_constraint("order_lines")["constrained_columns"]
    assert "id" not in columns and key == ["order_id", "line_no"]
    with pytest.raises(IntegrityError), empty_database.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO order_lines (workspace_id, order_id, line_no, quantity, unit_price_minor,"
                " discount_minor, amount_minor) VALUES (1, 10, 1, 1, 150, 0, 150)"
            )
        )

    migrate.downgrade(empty_database, "0006")
    assert _lines(empty_database) == before
    with empty_database.connect() as connection:
        ids = connection.execute(text("SELECT id FROM order_lines")).scalars().all()
    assert len(set(ids)) == 4 and None not in ids
    with empty_database.begin() as connection:  # and the next line gets an id of its own
        connection.execute(
            text(
                "INSERT INTO order_lines (workspace_id, order_id, line_no, quantity, unit_price_minor,"
                " discount_minor, amount_minor) VALUES (1, 10, 3, 1, 150, 0, 150)"
            )
        )
        assert connection.execute(text("SELECT count(DISTINCT id) FROM order_lines")).scalar_one() == 5
    migrate.upgrade(empty_database)
    assert len(_lines(empty_database)) == 5


def _survey_rows(connection: Connection) -> None:
    """The 0009 schema: a 1–5 and a 1–10 CSAT survey (the second also asks NPS), a survey whose CSAT question
    has since been removed, answers to each; and invitations: a link minted without an order, one minted for
    an order and answered, one e-mailed, one waiting to be e-mailed and one minted for an order, unopened."""
    now = "2026-01-01 00:00:00"
    connection.execute(text(
        "INSERT INTO workspaces (id, slug, name, timezone, currency, default_locale, created_at, updated_at)"
        " VALUES (1, 'w1', 'w', 'Asia/Taipei', 'TWD', 'zh-Hant', :now, :now)"), {"now": now})  # fmt: skip
    connection.execute(text(
        "INSERT INTO customers (id, workspace_id, external_id, consent_email, consent_sms, consent_surveys,"
        " created_at, updated_at) VALUES (10, 1, 'C1', false, false, true, :now, :now)"), {"now": now})  # fmt: skip
    definitions = {
        1: {"key": "five", "questions": [{"key": "csat", "type": "csat", "scale": 5, "label": "x"}]},
        2: {"key": "ten", "questions": [{"key": "sat", "type": "csat", "scale": 10, "label": "x"},
                                        {"key": "nps", "type": "nps", "label": "y"}]},
        3: {"key": "gone", "questions": [{"key": "comment", "type": "text", "label": "x"}]},
    }  # fmt: skip
    for survey_id, definition in definitions.items():
        connection.execute(text(
            "INSERT INTO surveys (id, workspace_id, key, version, status, kind, touchpoint, channel, definition,"
            " created_at, updated_at) VALUES (:id, 1, :key, 1, 'active', 'csat', 'post_purchase', 'email',"
            " :definition, :now, :now)"),
            {"id": survey_id, "key": definition["key"], "definition": json.dumps(definition), "now": now})  # fmt: skip
    answers = [(1, 1, "csat", "csat", 4), (2, 2, "sat", "csat", 9), (3, 2, "nps", "nps", 7),
               (4, 3, "old", "csat", 9), (5, 3, "old", "csat", 2), (6, 3, "older", "csat", 3)]  # fmt: skip
    for answer_id, survey_id, key, kind, score in answers:
        connection.execute(text(
            "INSERT INTO survey_responses (id, workspace_id, survey_id, survey_version, touchpoint, channel,"
            " locale, status, publish_consent, started_at, completed_at, created_at, updated_at) VALUES"
            " (:id, 1, :survey, 1, 'post_purchase', 'email', 'zh-Hant', 'completed', false, :now, :now, :now, :now)"),
            {"id": answer_id, "survey": survey_id, "now": now})  # fmt: skip
        connection.execute(text(
            "INSERT INTO survey_answers (id, workspace_id, response_id, survey_id, question_key, question_type,"
            " item_key, score) VALUES (:id, 1, :id, :survey, :key, :kind, '', :score)"),
            {"id": answer_id, "survey": survey_id, "key": key, "kind": kind, "score": score})  # fmt: skip
    invitations = [  # subject, status, sent_at, opened_at, answered_at
        ("link:2026-01-01", "pending", None, None, None),
        ("order:O1", "answered", None, "2026-01-02 00:00:00", "2026-01-02 00:05:00"),
        ("order:O2", "sent", "2026-01-01 08:00:00", None, None),
        ("order:O3", "pending", None, None, None),
    ]
    for index, (subject, status, sent, opened, answered) in enumerate(invitations):
        connection.execute(text(
            "INSERT INTO survey_invitations (id, workspace_id, survey_id, customer_id, subject, touchpoint, nonce,"
            " locale, status, send_after, expires_at, sent_at, opened_at, answered_at, created_at, updated_at)"
            " VALUES (:id, 1, 1, 10, :subject, 'post_purchase', :nonce, 'zh-Hant', :status, :now, :now, :sent,"
            " :opened, :answered, :now, :now)"),
            {"id": index + 1, "subject": subject, "nonce": f"n{index}", "status": status, "sent": sent,
             "opened": opened, "answered": answered, "now": now})  # fmt: skip


def test_answer_scales_and_minted_links_are_backfilled(empty_database: Engine) -> None:
    """0010 fills each answer's scale from its survey's definition (a CSAT question no longer defined: 1–10
    when any of its answers is above 5); 0011 counts links minted before as sent when they were minted."""
    migrate.upgrade(empty_database, "0009")
    with empty_database.begin() as connection:
        _survey_rows(connection)
    migrate.upgrade(empty_database)
    with empty_database.connect() as connection:
        scales = connection.execute(
            text("SELECT id, scale_min, scale_max FROM survey_answers ORDER BY id")
        ).all()
        invitations = connection.execute(
            text("SELECT subject, status, sent_at FROM survey_invitations ORDER BY id")
        ).all()
    assert [tuple(row) for row in scales] == [
        (1, 1, 5),
        (2, 1, 10),
        (3, 0, 10),
        (4, 1, 10),
        (5, 1, 10),
        (6, 1, 5),
    ]
    minted = "2026-01-01 00:00:00"
    assert [(s, status, str(sent)[:19] if sent else None) for s, status, sent in invitations] == [
        ("link:2026-01-01", "linked", minted),  # minted without an order: sent when minted
        ("order:O1", "answered", minted),  # answered without being e-mailed: it was handed over
        ("order:O2", "sent", "2026-01-01 08:00:00"),  # e-mailed: as it was
        ("order:O3", "pending", None),  # waiting to be e-mailed (or a link never opened): cannot tell, kept
    ]
    migrate.downgrade(empty_database, "0009")
    with empty_database.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("survey_answers")}
        statuses = (
            connection.execute(text("SELECT status FROM survey_invitations ORDER BY id")).scalars().all()
        )
    assert "scale_max" not in columns and statuses == ["sent", "answered", "sent", "pending"]
    migrate.upgrade(empty_database)
