"""A period still under way is marked "to date", left out of trends and alerts by default and never compared
with a complete one. The clock is frozen on Tuesday 24 November 2026, 10:00 in Taipei: November 2026 and
the week of Monday 23 November are under way.

The world (tests/metrics/world.py) answered CSAT 5, 4, 3, 2, 5 and, on the CES survey, CSAT 4, 4, 4 today:
6 of 8 satisfied, 75 %. Its NPS answers are from 2025.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from patron.core.clock import frozen, today_in
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.dashboard import alerts, rollup, service
from patron.dashboard.filters import Filters, Period, parse_filters
from patron.importers import import_file
from patron.metrics.service import operational_connection
from patron.surveys import service as surveys
from patron.surveys.models import SurveyResponse
from patron.surveys.schemas import ResponseSubmit
from tests.dashboard.conftest import Dash
from tests.factories import ORDER_HEADER, write_csv
from tests.web.conftest import make_tenant

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Taipei


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with frozen(NOW):
        yield


def _filters(zone: str, **params: str) -> Filters:
    return parse_filters(params, today=today_in(zone))


def _overview(engine: Engine, dash: Dash, filters: Filters) -> service.Overview:
    """From the cached roll-up, checked against the raw answers."""
    with transaction(engine) as session:
        workspace = session.get_one(Workspace, dash.workspace_id)
        views = [
            service.overview(rollup.MetricSource(operational_connection(), session, workspace.id, workspace.timezone,
                                                 cached=cached), workspace, filters, "en")
            for cached in (True, False)
        ]  # fmt: skip
    assert views[0] == views[1]
    return views[0]


def test_the_frozen_clock_puts_today_in_taipei(dash: Dash) -> None:
    assert today_in(dash.zone) == date(2026, 11, 24)
    assert _filters(dash.zone).window.until == date(2026, 11, 23), "the default period ends yesterday"


def test_the_month_under_way_is_left_out_of_the_trend_unless_included(engine: Engine, dash: Dash) -> None:
    complete = _overview(engine, dash, _filters(dash.zone, period="30d"))
    assert complete.kpis["csat"].n == 0, "today's answers are not in the complete days"
    assert complete.trend["csat"] == [], "November 2026 is under way: no point, not a 75 % month"
    assert complete.under_way == date(2026, 11, 1), "and the page says it left it out"
    assert [row[0] for row in complete.tables["trend"].rows] == []

    to_date = _overview(engine, dash, _filters(dash.zone, period="30d", partial="1"))
    [point] = to_date.trend["csat"]
    assert (point.period, point.value, point.n, point.partial) == (date(2026, 11, 1), 75.0, 8, True)
    table = to_date.tables["trend"]
    assert table.columns[-1].label == "To date" and table.rows[0][-1] is True and table.partial_rows == {0}
    weekly = _overview(engine, dash, _filters(dash.zone, period="30d", partial="1", grain="week"))
    assert [(p.period, p.partial) for p in weekly.trend["csat"]] == [(date(2026, 11, 23), True)]


def test_a_period_to_date_is_compared_with_nothing(engine: Engine, dash: Dash) -> None:
    with transaction(engine) as session:
        for score in (10, 9):  # yesterday and the week before hold NPS answers to compare with
            read = surveys.submit_response(session, workspace_id=dash.workspace_id, submission=ResponseSubmit(
                survey="relationship_nps", customer_id="V0", answers={"nps": score}))  # fmt: skip
            day = datetime(2026, 11, 23 if score == 10 else 16, 3, tzinfo=UTC)
            session.execute(
                update(SurveyResponse).where(SurveyResponse.id == read.id).values(completed_at=day)
            )
    complete = _overview(engine, dash, _filters(dash.zone, period="7d"))
    assert complete.kpis["nps"].change == 0.0 and complete.previous_responses == 1, "17–23 vs 10–16 November"
    to_date = _overview(engine, dash, _filters(dash.zone, period="7d", partial="1"))
    assert to_date.kpis["csat"].n == 8 and to_date.kpis["nps"].n == 1
    assert all(k.change is None and k.previous is None for k in to_date.kpis.values())
    assert to_date.previous_responses is None
    with Session(engine) as session:
        source = rollup.MetricSource(
            operational_connection(), session, dash.workspace_id, dash.zone, cached=False
        )
        sliced = service.breakdown_rows(
            source, _filters(dash.zone, period="7d", partial="1"), "nps", "segment"
        )
        assert [(label, k.change) for label, k in sliced] == [("vip", None)]
        assert [(label, k.change) for label, k in service.breakdown_rows(
            source, _filters(dash.zone, period="7d"), "nps", "segment")] == [("vip", 0.0)]  # fmt: skip


def test_alerts_judge_complete_days_only(engine: Engine, dash: Dash) -> None:
    """NPS 10 from five customers on 12 and on 20 November, then five 0s today. To date (18–24 vs 11–17
    November) NPS fell from 100 to 0; but today is not over, and the complete days (17–23 vs 10–16 November)
    held at 100. The rule counts any fall of 5 points, significant or not (ten answers are too few to judge)."""
    with transaction(engine) as session:
        for day, score in [(12, 10), (20, 10), (24, 0)]:
            for customer in ("V0", "V1", "V2", "V3", "V4"):
                read = surveys.submit_response(session, workspace_id=dash.workspace_id, submission=ResponseSubmit(
                    survey="relationship_nps", customer_id=customer, answers={"nps": score}))  # fmt: skip
                moment = datetime(2026, 11, day, 1, tzinfo=UTC)
                session.execute(
                    update(SurveyResponse).where(SurveyResponse.id == read.id).values(completed_at=moment)
                )
    filters = _filters(dash.zone, period="7d", partial="1")
    with Session(engine) as session:
        source = rollup.MetricSource(
            operational_connection(), session, dash.workspace_id, dash.zone, cached=False
        )
        active = {**alerts.rules(session, dash.workspace_id), "nps": alerts.Rule("nps", 5.0, False)}
        assert alerts.compared(filters).window == Period(date(2026, 11, 17), date(2026, 11, 23))
        to_date = service.kpi("nps", *(service.first(source.metric(service.metric_query(filters, "nps", window)))
                                       for window in (filters.window, filters.window.previous())))  # fmt: skip
        assert (to_date.value, to_date.previous, to_date.change) == (0.0, 100.0, -100.0), "the fall is there"
        assert alerts.is_drop(to_date, active["nps"])
        assert alerts.drops(source, filters, active) == [], "but it is today's, and today is not over"


def _orders(engine: Engine, slug: str, folder: Path, rows: list[tuple[str, str, str]]) -> None:
    lines = [(order, 1, customer, at, "completed", "web", "P1", 1, "100", "") for order, customer, at in rows]
    import_file(
        engine, workspace_slug=slug, kind="orders", path=write_csv(folder / "more.csv", ORDER_HEADER, lines)
    )


def test_retention_leaves_the_month_under_way_out_or_marks_it_without_rates(
    engine: Engine, tmp_path: Path
) -> None:
    """C001 and C002 buy in October 2026, C001 and C003 (new) in November, which is under way: 1 of October's
    2 came back so far. Read as a month, that is retention 50 %, churn 50 %: it is neither yet."""
    tenant = make_tenant(engine, tmp_path)
    _orders(engine, tenant.workspace.slug, tmp_path, [
        ("O10", "C001", "2026-10-05T10:00:00+08:00"), ("O11", "C002", "2026-10-06T10:00:00+08:00"),
        ("O12", "C001", "2026-11-20T10:00:00+08:00"), ("O13", "C003", "2026-11-21T10:00:00+08:00"),
    ])  # fmt: skip
    con = operational_connection()
    with transaction(engine) as session:
        workspace = session.get_one(Workspace, tenant.workspace.id)
        complete = service.retention(con, workspace, _filters(workspace.timezone, period="30d"), "en")
        to_date = service.retention(
            con, workspace, _filters(workspace.timezone, period="30d", partial="1"), "en"
        )
    assert [row[0] for row in complete.periods.rows] == [date(2026, 10, 1)] and complete.under_way == date(
        2026, 11, 1
    )
    assert complete.cohorts.rows == [[date(2026, 10, 1), 1, 100.0]], (
        "C002's November cell is not over: left out"
    )
    assert (
        complete.periods.partial_rows == set()
        and [c.label for c in complete.periods.columns][-1] != "To date"
    )

    october, november = to_date.periods.rows
    assert november[:6] == [date(2026, 11, 1), 2, 1, None, None, None], (
        "active, new; no retention, CRR or churn"
    )
    assert november[6] == 0.0 and november[-1] is True and october[-1] is False
    assert to_date.periods.columns[-1].label == "To date" and to_date.periods.partial_rows == {1}
    assert to_date.cohorts.rows == [[date(2026, 10, 1), 1, 100.0, 0.0], [date(2026, 11, 1), 1, 100.0, None]]
    assert to_date.cohorts.partial_cells == {(0, 3), (1, 2)}, "each cohort's November cell is to date"


def test_the_heat_map_leaves_the_month_under_way_out_or_heads_it_to_date(engine: Engine, dash: Dash) -> None:
    with transaction(engine) as session:
        surveys.submit_response(session, workspace_id=dash.workspace_id, submission=ResponseSubmit(
            survey="relationship_nps", customer_id="V0", answers={"nps": 10}))  # fmt: skip
    with Session(engine) as session:
        source = rollup.MetricSource(
            operational_connection(), session, dash.workspace_id, dash.zone, cached=False
        )
        complete = service.heatmap(source, _filters(dash.zone, period="30d"), "en")
        to_date = service.heatmap(source, _filters(dash.zone, period="30d", partial="1"), "en")
    assert [c.label for c in complete.columns] == ["Touchpoint"] and complete.rows == []
    assert [c.label for c in to_date.columns] == ["Touchpoint", "2026-11 (to date)"]
    assert to_date.rows == [["Overall relationship", None]] and to_date.partial_cells == {(0, 1)}, (
        "1 answer: blank"
    )
