"""The schema comes from Alembic on both databases, and the migrations match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from patron.core import migrate
from patron.tables import metadata


def test_database_is_at_head(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision(engine)


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_upgrade_is_safe_to_rerun(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
