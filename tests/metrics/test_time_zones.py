"""Days, months and ``since``/``until`` are the workspace's calendar days, on every backend, across
daylight-saving changes; an export keeps the days of the zone it was written in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.metrics.engine import MetricQuery, connect, metric, utc_offsets
from patron.metrics.export import export_parquet, open_parquet
from patron.surveys import service as surveys
from patron.surveys.models import SurveyResponse
from patron.surveys.schemas import ResponseSubmit
from tests.factories import make_workspace

#: (UTC moment, NPS score). Taipei is UTC+8 all year; New York is UTC−4 in summer time (from 2025-03-09
#: 07:00 UTC to 2025-11-02 06:00 UTC) and UTC−5 otherwise.
ANSWERS = [
    ("2025-01-31T15:30", 0),  # Taipei 31 Jan 23:30 — January everywhere
    ("2025-01-31T16:30", 10),  # Taipei 1 Feb 00:30 — February in Taipei, January in UTC
    ("2025-11-02T05:30", 9),  # New York 2 Nov 01:30 EDT (summer time still)
    ("2025-11-03T04:30", 3),  # New York 2 Nov 23:30 EST — 2 Nov there, 3 Nov in UTC
]


@pytest.fixture
def zoned(engine: Engine, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    workspace = make_workspace(engine)
    with transaction(engine) as session:
        surveys.save_survey(
            session, workspace_id=workspace.id, definition=surveys.templates()["relationship_nps"]
        )
        for moment, score in ANSWERS:
            read = surveys.submit_response(session, workspace_id=workspace.id, submission=ResponseSubmit(
                survey="relationship_nps", answers={"nps": score}))  # fmt: skip
            at = datetime.fromisoformat(moment).replace(tzinfo=UTC)
            session.execute(
                update(SurveyResponse).where(SurveyResponse.id == read.id).values(completed_at=at)
            )
    operational = connect(engine.url.render_as_string(hide_password=False))
    cons = {engine.dialect.name: operational}
    for zone in ("UTC", "Asia/Taipei", "America/New_York"):
        export_parquet(operational, workspace.id, tmp_path / zone.replace("/", "-"), zone=zone)
        cons[f"duckdb {zone}"] = open_parquet(tmp_path / zone.replace("/", "-"))
    return workspace.id, cons


def _counts(con: Any, workspace_id: int, zone: str, **query: Any) -> list[tuple[date, int, float]]:
    rows = metric(con, workspace_id, MetricQuery("nps", time_zone=zone, **query))
    return [(row.get("period"), row["n"], row["value"]) for row in rows]


def _backends(cons: dict[str, Any], zone: str) -> dict[str, Any]:
    """The operational database, and the export written in that zone (its stored days are that zone's)."""
    return {name: con for name, con in cons.items() if not name.startswith("duckdb") or name.endswith(zone)}


def test_months_are_the_workspace_calendar_months(zoned: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = zoned
    for name, con in _backends(cons, "UTC").items():
        # UTC: January has 0 and 10 (1 promoter, 1 detractor: NPS 0); November 9 and 3 (0)
        assert _counts(con, workspace_id, "UTC", grain="month") == [
            (date(2025, 1, 1), 2, 0.0), (date(2025, 11, 1), 2, 0.0)], name  # fmt: skip
    for name, con in _backends(cons, "Asia/Taipei").items():
        # Taipei: the 10 given at 00:30 on 1 February is February's (NPS +100); January keeps the 0 (−100)
        assert _counts(con, workspace_id, "Asia/Taipei", grain="month") == [
            (date(2025, 1, 1), 1, -100.0), (date(2025, 2, 1), 1, 100.0), (date(2025, 11, 1), 2, 0.0)], name  # fmt: skip


def test_days_follow_daylight_saving_changes(zoned: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = zoned
    for name, con in _backends(cons, "America/New_York").items():
        # both November answers fall on 2 November in New York: 01:30 EDT and 23:30 EST
        rows = _counts(con, workspace_id, "America/New_York", grain="day", since=date(2025, 11, 1))
        assert rows == [(date(2025, 11, 2), 2, 0.0)], name
    for name, con in _backends(cons, "UTC").items():
        rows = _counts(con, workspace_id, "UTC", grain="day", since=date(2025, 11, 1))
        assert rows == [(date(2025, 11, 2), 1, 100.0), (date(2025, 11, 3), 1, -100.0)], name


def test_since_and_until_are_local_days(zoned: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = zoned
    first_of_february = {"since": date(2025, 2, 1), "until": date(2025, 2, 1)}
    for name, con in cons.items():
        assert _counts(con, workspace_id, "Asia/Taipei", **first_of_february) == [(None, 1, 100.0)], name
        assert _counts(con, workspace_id, "UTC", **first_of_february) == [], name


def test_the_offsets_of_a_zone_are_found_to_the_second() -> None:
    last_change, offset = utc_offsets("Asia/Taipei")[-1]
    assert offset == 8 * 3600 and last_change < datetime(1980, 1, 1, tzinfo=UTC).timestamp(), (
        "no change since 1979"
    )
    new_york = dict(utc_offsets("America/New_York"))
    # summer time began 2025-03-09 07:00 UTC (02:00 EST) and ended 2025-11-02 06:00 UTC (02:00 EDT)
    assert new_york[int(datetime(2025, 3, 9, 7, tzinfo=UTC).timestamp())] == -4 * 3600
    assert new_york[int(datetime(2025, 11, 2, 6, tzinfo=UTC).timestamp())] == -5 * 3600
    assert utc_offsets("UTC") == ((0, 0),)


def test_an_unknown_zone_is_named() -> None:
    with pytest.raises(PatronError) as raised:
        MetricQuery("nps", time_zone="Mars/Olympus_Mons").validate()
    assert raised.value.code == "metrics.unknown_time_zone"
    assert "Mars/Olympus_Mons" in raised.value.message("en")
