"""The dashboard's daily roll-up gives exactly the rows and numbers the engine computes from raw answers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from patron.core.errors import PatronError
from patron.metrics.engine import MetricQuery, daily_statistics, from_daily, metric
from patron.metrics.service import operational_connection
from tests.metrics.world import metrics_world

QUERIES = [
    MetricQuery(name, by, grain, since, until, survey, where)
    for name in ("nps", "csat", "ces", "response_rate")
    for by, grain, since, until, survey, where in (
        ((), None, None, None, None, ()),
        (("segment",), "month", None, None, None, ()),
        (("survey",), "week", date(2025, 1, 1), None, None, ()),
        ((), "day", date(2025, 1, 15), date(2025, 2, 10), None, (("segment", "vip"),)),
        (("segment", "survey"), "quarter", None, date(2030, 1, 1), "relationship_nps", ()),
        ((), "year", None, None, "support_ces", (("segment", "member"),)),
    )
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.metric}-{'-'.join(q.by)}-{q.grain}")
def test_the_roll_up_equals_the_engine(engine: Engine, tmp_path: Path, query: MetricQuery) -> None:
    workspace_id = metrics_world(engine, tmp_path)
    con = operational_connection()
    expected = metric(con, workspace_id, query)
    got = from_daily(daily_statistics(con, workspace_id), query)
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            assert mine[key] == (pytest.approx(value) if isinstance(value, float) else value), (
                key,
                mine,
                theirs,
            )


def test_the_roll_up_keeps_only_segment_and_survey(engine: Engine, tmp_path: Path) -> None:
    workspace_id = metrics_world(engine, tmp_path)
    daily = daily_statistics(operational_connection(), workspace_id)
    with pytest.raises(PatronError) as caught:
        from_daily(daily, MetricQuery("nps", by=("city",)))
    assert "city" in caught.value.message("en")
