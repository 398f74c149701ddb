"""Test setup: every database test runs on SQLite and on a real PostgreSQL server.

Isolation is by tenancy: each test makes its own workspace, which is also what the product guarantees, so a
test that sees another test's rows has found a tenancy bug.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

_VAR = Path(tempfile.mkdtemp(prefix="patron-test-var-"))
os.environ["PATRON_VAR_DIR"] = str(_VAR)
os.environ["PATRON_SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ["PATRON_WEBHOOK_INTERVAL_SECONDS"] = "0"  # tests deliver webhooks explicitly
os.environ["PATRON_DASHBOARD_WARM_UP"] = "0"  # tests count roll-ups when they ask for them
os.environ["PATRON_FEEDBACK_CATCH_UP"] = "0"  # tests catch up when they ask for it
# The encoder reads English comments where a test asks for it (tests/text/test_second_look.py).
os.environ["PATRON_SENTIMENT_SECOND_LOOK"] = "0"
os.environ["PATRON_ASSISTANT_SEMANTIC"] = "0"  # the e5 vectors are built where a test asks for them
os.environ.pop("PATRON_DATABASE_URL", None)
# pytest-xdist's workers start with COLUMNS=80 and LINES=24, which Rich would fix as the CLI's table size when
# patron.cli is imported; the tests' CliRunner sets the width it wants per call.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
# No test depends on the day it runs: the whole suite (and every process it starts) sees a clock that starts
# at this instant and runs at the real pace. `faketime '+400 days' make test` must pass as well.
TEST_START = "2026-11-24T02:00:00+00:00"
os.environ["PATRON_NOW"] = TEST_START

import pytest  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from patron.core import clock, migrate  # noqa: E402
from patron.core.db import make_engine, set_engine  # noqa: E402
from tests.pg import throwaway_cluster  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
clock.set_clock(clock.StartedAt(datetime.fromisoformat(TEST_START)))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = os.environ.get("PATRON_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    with throwaway_cluster() as started:
        if started is None:
            if os.environ.get("PATRON_REQUIRE_POSTGRES"):
                pytest.fail("PostgreSQL server binaries are missing but PATRON_REQUIRE_POSTGRES is set")
            pytest.skip("no PostgreSQL server installed (apt-get install postgresql)")
        yield started


@pytest.fixture(scope="session")
def sqlite_engine() -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{_VAR / 'test.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The database under test, also installed as the process engine so the CLI and web app use it."""
    chosen: Engine = request.getfixturevalue(f"{request.param}_engine")
    set_engine(chosen)
    yield chosen
    set_engine(None)
