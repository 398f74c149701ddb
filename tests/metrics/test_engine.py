"""Metric definitions run on SQLite, PostgreSQL and DuckDB and agree with hand-computed values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.customers.models import Customer
from patron.importers import import_file
from patron.metrics.engine import MetricQuery, connect, metric
from patron.surveys import service as surveys
from patron.surveys.models import SurveyInvitation, SurveyResponse
from patron.surveys.schemas import ResponseSubmit
from tests.factories import make_workspace, write_csv

# vip answers NPS 10, 10, 9, 8, 6 in January 2025: 3 promoters, 1 passive, 1 detractor → NPS +40.
# member answers 9, 7, 5, 3, 0, 10 in February 2025: 2 promoters, 1 passive, 3 detractors → NPS −16.67.
# All 11: 5 promoters, 2 passives, 4 detractors → NPS +9.09.
NPS_ANSWERS = [("V", s, "2025-01-15") for s in (10, 10, 9, 8, 6)] + [
    ("M", s, "2025-02-10") for s in (9, 7, 5, 3, 0, 10)
]
# CSAT 5, 4, 3, 2, 5: 3 of 5 satisfied (60 %), mean 3.8. CES 7, 6, 5: mean 6, sd 1, t(.975, 2) = 4.3027 → [3.516, 8.484].
CSAT_ANSWERS = [5, 4, 3, 2, 5]
CES_ANSWERS = [7, 6, 5]


def _world(engine: Engine, tmp_path: Path) -> int:
    workspace = make_workspace(engine)
    rows = [(f"V{i}", "vip", "臺北市") for i in range(5)] + [(f"M{i}", "member", "高雄市") for i in range(6)]
    import_file(
        engine,
        workspace_slug=workspace.slug,
        kind="customers",
        path=write_csv(tmp_path / "c.csv", ("external_id", "segment", "city"), rows),
    )
    with transaction(engine) as session:
        for key in ("relationship_nps", "post_purchase_csat", "support_ces"):
            surveys.save_survey(session, workspace_id=workspace.id, definition=surveys.templates()[key])
        counters = {"V": 0, "M": 0}
        for group, score, day in NPS_ANSWERS:
            customer = f"{group}{counters[group]}"
            counters[group] += 1
            read = surveys.submit_response(
                session,
                workspace_id=workspace.id,
                submission=ResponseSubmit(
                    survey="relationship_nps", customer_id=customer, answers={"nps": score}
                ),
            )
            moment = datetime.fromisoformat(day).replace(tzinfo=UTC)
            session.execute(
                update(SurveyResponse).where(SurveyResponse.id == read.id).values(completed_at=moment)
            )
        for score in CSAT_ANSWERS:
            surveys.submit_response(
                session,
                workspace_id=workspace.id,
                submission=ResponseSubmit(survey="post_purchase_csat", answers={"csat": score}),
            )
        for score in CES_ANSWERS:
            surveys.submit_response(
                session,
                workspace_id=workspace.id,
                submission=ResponseSubmit(survey="support_ces", answers={"ces": score, "csat": 4}),
            )
        _invitations(session, workspace.id)
    return workspace.id


def _invitations(session: Any, workspace_id: int) -> None:
    """vip: 3 of 4 answered; member: 2 of 6; so 5 of 10 in all. One more never went out and is not counted."""
    survey_id = surveys.get_survey(session, workspace_id=workspace_id, key="relationship_nps").id
    ids = dict(
        session.execute(
            select(Customer.external_id, Customer.id).where(Customer.workspace_id == workspace_id)
        ).all()
    )
    sent = datetime(2025, 1, 5, tzinfo=UTC)
    plan = (
        [(f"V{i}", i < 3, True) for i in range(4)]
        + [(f"M{i}", i < 2, True) for i in range(6)]
        + [("V4", False, False)]
    )
    for index, (customer, answered, went_out) in enumerate(plan):
        session.add(
            SurveyInvitation(
                workspace_id=workspace_id, survey_id=survey_id, customer_id=ids[customer], subject=f"t{index}",
                touchpoint="relationship", nonce=f"n{workspace_id}-{index}", locale="zh-Hant", send_after=sent,
                expires_at=sent, sent_at=sent if went_out else None, answered_at=sent if answered else None,
            )
        )  # fmt: skip


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
    workspace_id = _world(engine, tmp_path)
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
        assert (csat["n"], csat["satisfied"], csat["value"], csat["mean_score"]) == (
            5,
            3,
            pytest.approx(60.0),
            pytest.approx(3.8),
        ), name
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
        (MetricQuery("csat", csat_scale=7), "metrics.bad_scale"),
    ],
)
def test_bad_queries_are_named(query: MetricQuery, code: str) -> None:
    with pytest.raises(PatronError) as caught:
        query.validate()
    assert caught.value.code == code


def test_each_period_is_compared_with_the_one_before(backends: tuple[int, dict[str, Any]]) -> None:
    # January NPS +40 (n 5, SE 35.78) → February −16.67 (n 6, SE 36.64): change −56.67,
    # SE √(35.78² + 36.64²) = 51.21, z = −1.107, p = 0.268: not significant with so few answers.
    workspace_id, cons = backends
    for name, con in cons.items():
        january, february = metric(con, workspace_id, MetricQuery("nps", grain="month"))
        assert january["change"] is None, "nothing before January"
        assert february["change"] == pytest.approx(-56.667, abs=1e-3), name
        assert february["change_p_value"] == pytest.approx(0.268, abs=1e-3), name
        assert february["change_significant"] is False


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
