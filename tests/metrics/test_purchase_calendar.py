"""Purchase metrics count the workspace's calendar: months, Monday weeks and days in its time zone, daylight
saving included, on SQLite, PostgreSQL, DuckDB and over a Parquet export; the period holding today is
marked partial; CDNOW imported into a Taipei workspace keeps its 18 months."""

from __future__ import annotations

import collections
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from patron.core.clock import frozen
from patron.importers import import_file
from patron.metrics import commerce
from patron.metrics.engine import connect
from patron.metrics.export import export_parquet, open_parquet
from tests.factories import ORDER_HEADER, make_workspace, write_csv, write_jsonl
from tests.metrics.test_engine import _duckdb_copy

TAIPEI, NEW_YORK = "Asia/Taipei", "America/New_York"
#: (order, customer, UTC moment). Taipei is UTC+8 all year. 2025-03-03 and 2025-11-03 are Mondays.
ORDERS = {
    TAIPEI: [
        ("T1", "a", "2025-01-31T15:59"),  # Fri 31 Jan 23:59 in Taipei
        ("T2", "b", "2025-01-31T16:01"),  # Sat 1 Feb 00:01 in Taipei: February's (UTC: January's)
        ("T5", "a", "2025-03-02T10:00"),  # Sun 2 Mar 18:00
        ("T3", "a", "2025-03-02T15:59"),  # Sun 2 Mar 23:59: a's second purchase that day
        ("T4", "b", "2025-03-02T16:01"),  # Mon 3 Mar 00:01: a new week (UTC: still Sunday's week)
    ],
    # New York is UTC−5, and UTC−4 in summer time, which ended on 2025-11-02 at 06:00 UTC.
    NEW_YORK: [
        ("N1", "c", "2025-03-01T04:30"),  # Fri 28 Feb 23:30 EST: February's (UTC: March's)
        ("N2", "c", "2025-11-01T03:30"),  # Fri 31 Oct 23:30 EDT: October's
        ("N3", "d", "2025-11-01T04:30"),  # Sat 1 Nov 00:30 EDT: November's (at UTC−5 it would be October's)
        ("N5", "c", "2025-11-02T05:30"),  # Sun 2 Nov 01:30 EDT, before the clocks went back
        ("N4", "d", "2025-11-03T04:30"),  # Sun 2 Nov 23:30 EST: Sunday's, in the week of 27 Oct (UTC: Monday)
    ],
}


@pytest.fixture
def edges(engine: Engine, tmp_path: Path) -> dict[str, tuple[int, dict[str, Any]]]:
    """One workspace per zone with the orders above (100 each) and an interaction at each order's moment;
    each on the operational database, a DuckDB copy and a Parquet export."""
    worlds = {}
    for zone, orders in ORDERS.items():
        workspace = make_workspace(engine, timezone=zone)
        folder = tmp_path / zone.replace("/", "-")
        folder.mkdir()
        people = sorted({customer for _, customer, _ in orders})
        customers = write_csv(folder / "c.csv", ("external_id", "segment"), [(c, "all") for c in people])
        import_file(engine, workspace_slug=workspace.slug, kind="customers", path=customers)
        lines = [(o, 1, c, f"{at}:00Z", "completed", "web", "", 1, "100", "") for o, c, at in orders]
        path = write_csv(folder / "o.csv", ORDER_HEADER, lines)
        import_file(engine, workspace_slug=workspace.slug, kind="orders", path=path)
        events = [
            {"customer_id": c, "occurred_at": f"{at}:00Z", "type": "visit", "channel": "web"}
            for _, c, at in orders
        ]
        import_file(
            engine,
            workspace_slug=workspace.slug,
            kind="interactions",
            path=write_jsonl(folder / "e.jsonl", events),
        )
        operational = connect(engine.url.render_as_string(hide_password=False))
        export_parquet(operational, workspace.id, folder / "export", zone=zone)
        worlds[zone] = (workspace.id, {
            engine.dialect.name: operational,
            "duckdb": _duckdb_copy(engine, ("orders", "customers", "interactions")),
            "parquet": open_parquet(folder / "export"),
        })  # fmt: skip
    return worlds


def _counts(rows: list[dict[str, Any]]) -> list[tuple[date, int, int]]:
    """(period, active customers, purchases) per period."""
    return [(row["period"], row["customers_end"], row["orders"]) for row in rows]


def _month(text: str) -> date:
    return date.fromisoformat(text + "-01")


#: (zone the metrics count in, grain) -> (period, customers, purchases) of each workspace's orders.
EXPECTED = {
    TAIPEI: {
        (TAIPEI, "month"): [(_month("2025-01"), 1, 1), (_month("2025-02"), 1, 1), (_month("2025-03"), 2, 3)],
        ("UTC", "month"): [(_month("2025-01"), 2, 2), (_month("2025-03"), 2, 3)],
        (TAIPEI, "week"): [(date(2025, 1, 27), 2, 2), (date(2025, 2, 24), 1, 2), (date(2025, 3, 3), 1, 1)],
        ("UTC", "week"): [(date(2025, 1, 27), 2, 2), (date(2025, 2, 24), 2, 3)],
        (TAIPEI, "day"): [(date(2025, 1, 31), 1, 1), (date(2025, 2, 1), 1, 1), (date(2025, 3, 2), 1, 2),
                          (date(2025, 3, 3), 1, 1)],
        ("UTC", "day"): [(date(2025, 1, 31), 2, 2), (date(2025, 3, 2), 2, 3)],
    },
    NEW_YORK: {
        (NEW_YORK, "month"): [(_month("2025-02"), 1, 1), (_month("2025-10"), 1, 1), (_month("2025-11"), 2, 3)],
        ("UTC", "month"): [(_month("2025-03"), 1, 1), (_month("2025-11"), 2, 4)],
        (NEW_YORK, "week"): [(date(2025, 2, 24), 1, 1), (date(2025, 10, 27), 2, 4)],
        ("UTC", "week"): [(date(2025, 2, 24), 1, 1), (date(2025, 10, 27), 2, 3), (date(2025, 11, 3), 1, 1)],
        (NEW_YORK, "day"): [(date(2025, 2, 28), 1, 1), (date(2025, 10, 31), 1, 1), (date(2025, 11, 1), 1, 1),
                            (date(2025, 11, 2), 2, 2)],
        ("UTC", "day"): [(date(2025, 3, 1), 1, 1), (date(2025, 11, 1), 2, 2), (date(2025, 11, 2), 1, 1),
                         (date(2025, 11, 3), 1, 1)],
    },
}  # fmt: skip


def test_periods_are_the_workspace_calendar_at_month_week_and_day_edges(
    edges: dict[str, tuple[int, dict[str, Any]]],
) -> None:
    for world, expected in EXPECTED.items():
        workspace_id, cons = edges[world]
        for name, con in cons.items():
            for (zone, grain), periods in expected.items():
                rows = commerce.retention(con, workspace_id, zone=zone, grain=grain)
                assert _counts(rows) == periods, (name, world, zone, grain)


def test_retention_and_gaps_at_the_edges(edges: dict[str, tuple[int, dict[str, Any]]]) -> None:
    for zone in (TAIPEI, NEW_YORK):
        workspace_id, cons = edges[zone]
        for name, con in cons.items():
            rows = commerce.retention(con, workspace_id, zone=zone, grain="month")
            found = [(r["customers_start"], r["new_customers"], r["retained_customers"], r["crr"],
                      r["retention_rate"], r["repeat_purchase_rate"]) for r in rows]  # fmt: skip
            gaps = [r["days_between_purchases"] for r in rows]
            if zone == TAIPEI:
                # Jan {a}; Feb {b}: S 1, N 1, nobody kept; Mar {a, b}: S 1 ({b}), N 0, b kept: CRR (2 − 0)/1.
                # a bought twice on 2 March: repeat rate 1/2.
                assert found == [(None, 1, None, None, None, 0.0), (1, 1, 0, 0.0, 0.0, 0.0),
                                 (1, 0, 1, 200.0, 100.0, 50.0)], name  # fmt: skip
                # March: a 31 Jan 15:59 → 2 Mar 10:00 → 15:59 (30 days in two gaps), b 31 Jan 16:01 → 2 Mar 16:01
                # (30 days): 60 days over 3 purchases
                assert gaps == [None, None, pytest.approx(20.0)], name
                day_gaps = commerce.retention(con, workspace_id, zone=zone, grain="day")
                assert [r["days_between_purchases"] for r in day_gaps] == [
                    None, None, pytest.approx(15.0), pytest.approx(30.0)], name  # fmt: skip
            else:
                # Feb {c}; Oct {c} after a gap (S none: nobody in September); Nov {c, d}: S 1, N 1 (d), c kept
                assert found == [(None, 1, None, None, None, 0.0), (None, 0, None, None, None, 0.0),
                                 (1, 1, 1, 100.0, 100.0, 50.0)], name  # fmt: skip
                # Oct: c 1 Mar 04:30 → 1 Nov 03:30 UTC = 245 days − 1 hour. Nov: c 1 Nov 03:30 → 2 Nov 05:30
                # (1 day 2 h), d 1 Nov 04:30 → 3 Nov 04:30 (2 days)
                assert gaps == [None, pytest.approx(245 - 1 / 24), pytest.approx((1 + 2 / 24 + 2) / 2)], name


def test_cohorts_and_engagement_at_the_edges(edges: dict[str, tuple[int, dict[str, Any]]]) -> None:
    done = {"partial": False, "last_share_partial": False}
    for zone, cohorts, engaged in (
        (TAIPEI, [(_month("2025-01"), 1, [100.0, 0.0, 100.0]), (_month("2025-02"), 1, [100.0, 100.0])],
         [(_month("2025-01"), 1, 1), (_month("2025-02"), 1, 1), (_month("2025-03"), 3, 2)]),
        (NEW_YORK, [(_month("2025-02"), 1, [100.0] + [0.0] * 7 + [100.0, 100.0]), (_month("2025-11"), 1, [100.0])],
         [(_month("2025-02"), 1, 1), (_month("2025-10"), 1, 1), (_month("2025-11"), 3, 2)]),
    ):  # fmt: skip
        workspace_id, cons = edges[zone]
        for name, con in cons.items():
            found = commerce.cohorts(con, workspace_id, zone=zone)
            assert found == [{"cohort": c, "size": s, "retention": r, **done} for c, s, r in cohorts], name
            if name == "parquet":
                continue  # the export holds no interactions
            rows = commerce.engagement(con, workspace_id, zone=zone)
            assert [(r["period"], r["interactions"], r["customers"]) for r in rows] == engaged, name
    taipei_id, cons = edges[TAIPEI]
    weeks = commerce.engagement(cons["duckdb"], taipei_id, zone=TAIPEI, grain="week")
    assert [(r["period"], r["interactions"], r["customers"]) for r in weeks] == [
        (date(2025, 1, 27), 2, 2), (date(2025, 2, 24), 2, 1), (date(2025, 3, 3), 1, 1)]  # fmt: skip


def _partial(rows: list[dict[str, Any]], key: str = "period") -> list[date]:
    return [row[key] for row in rows if row["partial"]]


def test_the_period_holding_today_in_the_workspace_zone_is_partial(
    edges: dict[str, tuple[int, dict[str, Any]]],
) -> None:
    workspace_id, cons = edges[TAIPEI]
    con = next(iter(cons.values()))
    # 2 March 16:30 UTC is Monday 3 March 00:30 in Taipei (Sunday in UTC)
    with frozen(datetime(2025, 3, 2, 16, 30, tzinfo=UTC)):
        assert _partial(commerce.retention(con, workspace_id, zone=TAIPEI, grain="week")) == [
            date(2025, 3, 3)
        ]
        assert _partial(commerce.retention(con, workspace_id, zone=TAIPEI, grain="day")) == [date(2025, 3, 3)]
        assert _partial(commerce.retention(con, workspace_id, zone="UTC", grain="week")) == [
            date(2025, 2, 24)
        ]
        assert _partial(commerce.engagement(con, workspace_id, zone=TAIPEI, grain="day")) == [
            date(2025, 3, 3)
        ]
    # 31 January 16:30 UTC is 1 February 00:30 in Taipei: February's cohort is still forming; the latest
    # period with purchases (March) is not today's, so no cohort's last share is partial
    with frozen(datetime(2025, 1, 31, 16, 30, tzinfo=UTC)):
        months = commerce.retention(con, workspace_id, zone=TAIPEI)
        assert _partial(months) == [_month("2025-02")]
        cohorts = commerce.cohorts(con, workspace_id, zone=TAIPEI)
        assert _partial(cohorts, "cohort") == [_month("2025-02")]
        assert not any(row["last_share_partial"] for row in cohorts)
        assert _partial(commerce.engagement(con, workspace_id, zone=TAIPEI)) == [_month("2025-02")]
        assert _partial(commerce.retention(con, workspace_id, zone="UTC")) == [_month("2025-01")]
    with frozen(datetime(2025, 3, 31, 15, 0, tzinfo=UTC)):  # 31 March 23:00 in Taipei: March, the latest
        assert all(row["last_share_partial"] for row in commerce.cohorts(con, workspace_id, zone=TAIPEI))
    new_york_id, cons = edges[NEW_YORK]
    con = next(iter(cons.values()))
    # 2 November 05:30 UTC is 01:30 EDT on Sunday 2 November in New York
    with frozen(datetime(2025, 11, 2, 5, 30, tzinfo=UTC)):
        assert _partial(commerce.retention(con, new_york_id, zone=NEW_YORK, grain="day")) == [
            date(2025, 11, 2)
        ]
        assert _partial(commerce.retention(con, new_york_id, zone=NEW_YORK, grain="week")) == [
            date(2025, 10, 27)
        ]
    # 1 November 03:30 UTC is still 31 October in New York
    with frozen(datetime(2025, 11, 1, 3, 30, tzinfo=UTC)):
        assert _partial(commerce.retention(con, new_york_id, zone=NEW_YORK)) == [_month("2025-10")]


def test_the_period_arithmetic_is_the_calendar_on_every_backend(engine: Engine) -> None:
    """Every day from 1970 to 2100 (2000 a leap year, 2100 not) gets its calendar month, quarter, year,
    Monday week and day from the SQL arithmetic, on the operational database and DuckDB."""
    first, last = date(1970, 1, 1), date(2100, 12, 31)
    numbers = range((last - first).days + 1)
    days = ibis.memtable({"day": pd.Series(numbers, dtype="int64")})
    cons = {engine.dialect.name: connect(engine.url.render_as_string(hide_password=False)),
            "duckdb": ibis.duckdb.connect()}  # fmt: skip
    for grain in ("day", "week", "month", "quarter", "year"):
        expected = []
        for number in numbers:
            day = first + timedelta(days=number)
            if grain == "week":
                start = day - timedelta(days=day.weekday())
            elif grain == "day":
                start = day
            else:
                first_month = {"month": day.month, "quarter": (day.month - 1) // 3 * 3 + 1, "year": 1}[grain]
                start = date(day.year, first_month, 1)
            expected.append(start)
        for name, con in cons.items():
            found = con.execute(commerce.with_period(days, grain).order_by("day"))
            starts = [commerce.period_start(int(idx), grain) for idx in found["idx"]]
            assert starts == expected, (name, grain)


DATA = Path(__file__).parent / "data" / "cdnow_extract.txt"


def _cdnow_by_hand() -> tuple[list[date], dict[date, list[float]], dict[date, tuple[int, int]]]:
    """From the file with Python's calendar: the months with purchases, each cohort's shares per month after
    its first, and (active customers, purchases) per month. CDNOW dates are calendar days, so a Taipei
    workspace must count them as written."""
    active: dict[date, set[str]] = collections.defaultdict(set)
    purchases: collections.Counter[date] = collections.Counter()
    for line in DATA.read_text().splitlines():
        customer, day = line.split()[:2]
        month = date(int(day[:4]), int(day[4:6]), 1)
        active[month].add(customer)
        purchases[month] += 1
    months = sorted(active)
    first = {}
    for month in months:
        for customer in active[month]:
            first.setdefault(customer, month)
    cohorts = {}
    for start in sorted(set(first.values())):
        members = {c for c, m in first.items() if m == start}
        later = [m for m in months if m >= start]
        cohorts[start] = [100 * len(members & active[m]) / len(members) for m in later]
    return months, cohorts, {m: (len(active[m]), purchases[m]) for m in months}


def test_cdnow_in_a_taipei_workspace_keeps_its_eighteen_months(engine: Engine, tmp_path: Path) -> None:
    workspace = make_workspace(engine, timezone=TAIPEI, currency="USD")
    lines = [line.split() for line in DATA.read_text().splitlines()]
    customers = write_csv(tmp_path / "c.csv", ("external_id",), sorted({(c,) for c, *_ in lines}))
    import_file(engine, workspace_slug=workspace.slug, kind="customers", path=customers)
    # the dates as CDNOW writes them (19970101): a calendar day, so midnight in the workspace's zone
    rows = [
        (f"{c}-{i}", 1, c, day, "completed", "web", "", 1, value, "")
        for i, (c, day, _, value) in enumerate(lines)
    ]
    import_file(
        engine,
        workspace_slug=workspace.slug,
        kind="orders",
        path=write_csv(tmp_path / "o.csv", ORDER_HEADER, rows),
    )
    months, cohorts, activity = _cdnow_by_hand()
    assert len(months) == 18 and months[0] == date(1997, 1, 1) and months[-1] == date(1998, 6, 1)
    operational = connect(engine.url.render_as_string(hide_password=False))
    export_parquet(operational, workspace.id, tmp_path / "export", zone=TAIPEI)
    cons = {engine.dialect.name: operational, "duckdb": _duckdb_copy(engine, ("orders",)),
            "parquet": open_parquet(tmp_path / "export")}  # fmt: skip
    for name, con in cons.items():
        periods = commerce.retention(con, workspace.id, zone=TAIPEI, currency="USD")
        assert [r["period"] for r in periods] == months, name
        assert {r["period"]: (r["customers_end"], r["orders"]) for r in periods} == activity, name
        found = commerce.cohorts(con, workspace.id, zone=TAIPEI)
        assert date(1996, 12, 1) not in [c["cohort"] for c in found], name
        assert {c["cohort"]: c["retention"] for c in found} == {
            start: [round(share, 6) for share in shares] for start, shares in cohorts.items()
        }, name
    # the defect this guards against: the same orders counted in UTC months
    utc = commerce.cohorts(operational, workspace.id, zone="UTC")
    assert len(commerce.retention(operational, workspace.id, zone="UTC")) == 19
    first_of_january = {c for c, day, *_ in lines if day == "19970101"}  # nobody bought before
    assert (utc[0]["cohort"], utc[0]["size"]) == (date(1996, 12, 1), len(first_of_january))
