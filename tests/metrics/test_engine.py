"""Metric definitions run on SQLite, PostgreSQL and DuckDB and agree with hand-computed values."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from patron.core.errors import PatronError
from patron.metrics.engine import MetricQuery, connect, metric, previous_period
from tests.metrics.world import NPS_CHANGE_BY_HAND, metrics_world

SURVEY_TABLES = ("survey_answers", "survey_responses", "survey_invitations", "customers", "surveys")


def _duckdb_copy(engine: Engine, tables: tuple[str, ...] = SURVEY_TABLES) -> Any:
    """The operational tables copied into an in-memory DuckDB, as an export would."""
    con = ibis.duckdb.connect()
    with engine.connect() as connection:
        for table in tables:
            frame = pd.read_sql(text(f"SELECT * FROM {table}"), connection)
            for column in (
                "completed_at",
                "sent_at",
                "answered_at",
                "ordered_at",
                "occurred_at",
                "created_at",
                "updated_at",
            ):
                if column in frame:
                    frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_localize(None)
            frame = frame.drop(
                columns=[c for c in ("definition", "choices", "seen", "attributes") if c in frame]
            )
            for column in frame.columns[frame.isna().all()]:
                frame[column] = frame[column].astype("string")  # DuckDB needs a type for an all-NULL column
            con.create_table(table, frame)
    return con


@pytest.fixture
def backends(engine: Engine, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    workspace_id = metrics_world(engine, tmp_path)
    return workspace_id, {
        engine.dialect.name: connect(engine.url.render_as_string(hide_password=False)),
        "duckdb": _duckdb_copy(engine),
    }


def _approx(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()} for row in rows]


def test_nps_by_segment_and_month_is_the_same_everywhere(backends: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = backends
    for name, con in cons.items():
        [member, vip] = metric(con, workspace_id, MetricQuery("nps", by=("segment",)))
        assert (vip["segment"], vip["promoters"], vip["passives"], vip["detractors"], vip["value"]) == (
            "vip",
            3,
            1,
            1,
            pytest.approx(40.0),
        ), name
        assert (member["segment"], member["n"], member["value"]) == (
            "member",
            6,
            pytest.approx(-16.6667, abs=1e-4),
        ), name
        assert not vip["sufficient"], "5 answers: flagged"
        [total] = metric(con, workspace_id, MetricQuery("nps"))
        assert total["value"] == pytest.approx(100 * (5 - 4) / 11), name
        months = metric(con, workspace_id, MetricQuery("nps", grain="month"))
        assert [(m["period"], round(m["value"], 2)) for m in months] == [
            (date(2025, 1, 1), 40.0),
            (date(2025, 2, 1), -16.67),
        ], name
        february = metric(
            con, workspace_id, MetricQuery("nps", since=date(2025, 2, 1), until=date(2025, 2, 28))
        )
        assert february[0]["n"] == 6, name
    results = [
        _approx(metric(con, workspace_id, MetricQuery("nps", by=("segment", "city"), grain="month")))
        for con in cons.values()
    ]
    assert all(r == results[0] for r in results), "identical on every backend"


def test_csat_and_ces_with_intervals(backends: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = backends
    for name, con in cons.items():
        [csat] = metric(con, workspace_id, MetricQuery("csat", survey="post_purchase_csat"))
        assert (csat["n"], csat["satisfied"], csat["value"], csat["mean_score_1_5"], csat["n_1_5"]) == (
            5,
            3,
            pytest.approx(60.0),
            pytest.approx(3.8),
            5,
        ), name
        # on 0–100: (5, 4, 3, 2, 5) → 100, 75, 50, 25, 100 → mean 70; no 1–10 answers, so no 1–10 mean
        assert csat["mean_score_0_100"] == pytest.approx(70.0) and "mean_score_1_10" not in csat, name
        assert (csat["ci_low"], csat["ci_high"]) == (
            pytest.approx(23.07, abs=0.01),
            pytest.approx(88.24, abs=0.01),
        ), "Wilson 3/5"
        [ces] = metric(con, workspace_id, MetricQuery("ces"))
        assert (ces["n"], ces["value"]) == (3, pytest.approx(6.0)), name
        assert (ces["ci_low"], ces["ci_high"]) == (
            pytest.approx(3.516, abs=1e-3),
            pytest.approx(8.484, abs=1e-3),
        ), name


def test_nothing_to_measure_is_said_not_shown_as_a_number(backends: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = backends
    for con in cons.values():
        assert metric(con, workspace_id, MetricQuery("nps", since=date(2030, 1, 1))) == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (MetricQuery("happiness"), "metrics.unknown_metric"),
        (MetricQuery("nps", by=("shoe_size",)), "metrics.unknown_dimension"),
        (MetricQuery("nps", grain="fortnight"), "metrics.unknown_grain"),
        (MetricQuery("nps", since=date(2025, 2, 1), until=date(2025, 1, 1)), "metrics.empty_period"),
    ],
)
def test_bad_queries_are_named(query: MetricQuery, code: str) -> None:
    with pytest.raises(PatronError) as caught:
        query.validate()
    assert caught.value.code == code


def test_each_period_is_compared_with_the_one_before(backends: tuple[int, dict[str, Any]]) -> None:
    # January 3 P / 1 Pa / 1 D (NPS +40) → February 2 / 1 / 3 (−16.67): change −56.67 (NPS_CHANGE_BY_HAND).
    workspace_id, cons = backends
    for name, con in cons.items():
        january, february = metric(con, workspace_id, MetricQuery("nps", grain="month"))
        assert january["change"] is None, "nothing before January"
        assert february["change"] == pytest.approx(-56.667, abs=1e-3), name
        assert february["change_p_value"] == pytest.approx(NPS_CHANGE_BY_HAND["p"], abs=1e-4), name
        assert (february["change_ci_low"], february["change_ci_high"]) == (
            pytest.approx(NPS_CHANGE_BY_HAND["low"], abs=1e-2),
            pytest.approx(NPS_CHANGE_BY_HAND["high"], abs=1e-2),
        ), name
        assert february["change_significant"] is None and february["change_reason"] == "small_sample", (
            "5 and 6 answers: no verdict"
        )


@pytest.mark.parametrize(
    ("start", "grain", "before"),
    [
        (date(2025, 3, 1), "day", date(2025, 2, 28)),
        (date(2025, 1, 6), "week", date(2024, 12, 30)),
        (date(2025, 1, 1), "month", date(2024, 12, 1)),
        (date(2025, 3, 1), "month", date(2025, 2, 1)),
        (date(2025, 1, 1), "quarter", date(2024, 10, 1)),
        (date(2025, 10, 1), "quarter", date(2025, 7, 1)),
        (date(2024, 1, 1), "year", date(2023, 1, 1)),
    ],
)
def test_the_period_before_crosses_years(start: date, grain: str, before: date) -> None:
    assert previous_period(start, grain) == before


def test_response_rate_counts_invitations_that_went_out(backends: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = backends
    for name, con in cons.items():
        [total] = metric(con, workspace_id, MetricQuery("response_rate"))
        assert (total["n"], total["answered"], total["value"]) == (10, 5, pytest.approx(50.0)), name
        by_segment = {
            r["segment"]: r["value"]
            for r in metric(con, workspace_id, MetricQuery("response_rate", by=("segment",)))
        }
        assert by_segment == {"vip": pytest.approx(75.0), "member": pytest.approx(100 / 3)}, name


def test_the_one_pass_overview_equals_the_separate_metrics(backends: tuple[int, dict[str, Any]]) -> None:
    from patron.metrics.engine import overview

    workspace_id, cons = backends
    for name, con in cons.items():
        query = MetricQuery("nps", by=("segment",), grain="month")
        together = overview(con, workspace_id, query)
        for metric_name in ("nps", "csat", "ces"):
            alone = metric(con, workspace_id, MetricQuery(metric_name, by=("segment",), grain="month"))
            assert _approx(together[metric_name]) == _approx(alone), (name, metric_name)


def test_metrics_on_duckdb_over_a_parquet_export_match_the_operational_database(
    engine: Engine, tmp_path: Path, backends: tuple[int, dict[str, Any]]
) -> None:
    from patron.metrics.export import export_parquet, open_parquet

    workspace_id, cons = backends
    operational = cons[engine.dialect.name]
    written = export_parquet(operational, workspace_id, tmp_path / "export")
    assert written["answer_facts"] == 11 + 5 + 6, "11 NPS, 5 + 3 CSAT, 3 CES answers"
    parquet = open_parquet(tmp_path / "export")
    for name in ("nps", "csat", "ces"):
        query = MetricQuery(name, by=("segment", "survey"), grain="month")
        assert _approx(metric(parquet, workspace_id, query)) == _approx(
            metric(operational, workspace_id, query)
        ), name
