"""The same metric expressions on Apache Spark (PySpark local mode, over a ``patron export parquet``) give
the numbers SQLite, PostgreSQL and DuckDB give."""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.metrics import commerce
from patron.metrics.engine import MetricQuery, metric, overview
from patron.metrics.export import export_parquet, open_parquet
from tests.metrics.test_commerce import shop
from tests.metrics.test_engine import _approx, backends
from tests.metrics.test_purchase_calendar import EXPECTED, _counts, edges

__all__ = ["backends", "edges", "shop"]
QUERIES = [
    MetricQuery("nps", by=("segment",), grain="month"),
    MetricQuery("csat", by=("survey",), grain="week"),
    MetricQuery("ces", by=("segment", "survey"), grain="quarter"),
    MetricQuery("nps", grain="day", where=(("segment", "vip"),)),
]


@pytest.fixture(scope="module")
def spark_ready() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        reason = "PySpark is not installed (pip install 'patron[spark]')"
    else:
        reason = "" if shutil.which("java") else "no Java runtime (apt-get install openjdk-17-jre-headless)"
    if reason:
        if os.environ.get("PATRON_REQUIRE_SPARK"):
            pytest.fail(f"{reason}, but PATRON_REQUIRE_SPARK is set")
        pytest.skip(reason)


def _exported(engine: Engine, world: tuple[int, dict[str, Any]], folder: Path) -> tuple[int, Any, Any]:
    """The world's workspace, its operational connection, and Spark reading its Parquet export."""
    from patron.metrics import spark

    workspace_id, cons = world
    operational = cons[engine.dialect.name]
    export_parquet(operational, workspace_id, folder)
    return workspace_id, operational, spark.open_parquet(folder)


def test_satisfaction_metrics_on_spark_match(
    spark_ready: None, engine: Engine, tmp_path: Path, backends: tuple[int, dict[str, Any]]
) -> None:
    workspace_id, operational, on_spark = _exported(engine, backends, tmp_path / "export")
    on_duckdb = open_parquet(tmp_path / "export")
    for query in QUERIES:
        expected = _approx(metric(operational, workspace_id, query))
        assert expected, query
        assert _approx(metric(on_spark, workspace_id, query)) == expected, query
        assert _approx(metric(on_duckdb, workspace_id, query)) == expected, query
    together = overview(on_spark, workspace_id, MetricQuery("nps", by=("segment",)))
    assert {name: _approx(rows) for name, rows in together.items()} == {
        name: _approx(rows)
        for name, rows in overview(operational, workspace_id, MetricQuery("nps", by=("segment",))).items()
    }


def test_purchase_metrics_on_spark_match(
    spark_ready: None, engine: Engine, tmp_path: Path, shop: tuple[int, dict[str, Any]]
) -> None:
    workspace_id, operational, on_spark = _exported(engine, shop, tmp_path / "export")
    for grain in ("month", "week"):
        for compute in (commerce.retention, commerce.cohorts):
            expected = compute(operational, workspace_id, zone="Asia/Taipei", grain=grain)
            found = compute(on_spark, workspace_id, zone="Asia/Taipei", grain=grain)
            assert found == expected, (compute, grain)


def test_purchase_periods_on_spark_are_the_workspace_calendar(
    spark_ready: None, engine: Engine, tmp_path: Path, edges: dict[str, tuple[int, dict[str, Any]]]
) -> None:
    """The day, Monday-week and month edges of Taipei and New York (daylight saving) in Spark's arithmetic."""
    for zone, (workspace_id, cons) in edges.items():
        _, operational, on_spark = _exported(engine, (workspace_id, cons), tmp_path / zone.replace("/", "-"))
        for grain in ("day", "week", "month"):
            assert (
                _counts(commerce.retention(on_spark, workspace_id, zone=zone, grain=grain))
                == EXPECTED[zone][(zone, grain)]
            ), (zone, grain)
        for compute in (commerce.retention, commerce.cohorts):
            expected = compute(operational, workspace_id, zone=zone, segment="all")
            assert compute(on_spark, workspace_id, zone=zone, segment="all") == expected, (zone, compute)


def test_the_command_line_reads_an_export_with_spark(
    spark_ready: None, engine: Engine, tmp_path: Path, backends: tuple[int, dict[str, Any]]
) -> None:
    from typer.testing import CliRunner

    from patron.cli import app
    from patron.core.db import transaction
    from patron.core.models import Workspace

    workspace_id, cons = backends
    export_parquet(cons[engine.dialect.name], workspace_id, tmp_path / "export")
    with transaction(engine) as session:
        slug = session.get_one(Workspace, workspace_id).slug
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "200"})
    answer = runner.invoke(app, ["metrics", "nps", "--by", "segment", "--parquet", str(tmp_path / "export"),
                                 "--engine", "spark", "--format", "csv", "-w", slug])  # fmt: skip
    assert answer.exit_code == 0, answer.output
    # Tango's score intervals (tests/metrics/world.py): member [−69.19, 48.12]; vip [−34.93, 82.64]
    rows = list(csv.DictReader(io.StringIO(answer.output)))
    got = [(r["segment"], int(r["n"]), float(r["value"]), float(r["ci_low"]), float(r["ci_high"]), r["sufficient"])
           for r in rows]  # fmt: skip
    assert got == [
        ("member", 6, pytest.approx(-16.667, abs=1e-3), pytest.approx(-69.19, abs=0.01), pytest.approx(48.12, abs=0.01), "False"),
        ("vip", 5, pytest.approx(40.0), pytest.approx(-34.93, abs=0.01), pytest.approx(82.64, abs=0.01), "False"),
    ]  # fmt: skip
