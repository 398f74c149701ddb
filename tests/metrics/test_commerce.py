"""Retention, churn, repeat purchase, value and cohort metrics against a hand-computed example, on SQLite,
PostgreSQL and DuckDB."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.core.errors import PatronError
from patron.importers import import_file
from patron.metrics import commerce
from patron.metrics.engine import connect
from patron.metrics.export import export_parquet
from tests.factories import ORDER_HEADER, make_workspace, write_csv
from tests.metrics.test_engine import _duckdb_copy

# A: Jan 5 (100), Jan 20 (300), Feb 4 (200), Mar 6 (100)     segment vip
# B: Jan 10 (500), Mar 10 (100)          (away in February, back in March)     vip
# C: Feb 15 (400), Feb 16 (1,000 cancelled: not a purchase)     member
# D: Mar 20 (50)     member
ORDERS = [
    ("A1", "A", "2025-01-05", 100), ("A2", "A", "2025-01-20", 300), ("A3", "A", "2025-02-04", 200),
    ("A4", "A", "2025-03-06", 100), ("B1", "B", "2025-01-10", 500), ("B2", "B", "2025-03-10", 100),
    ("C1", "C", "2025-02-15", 400), ("CX", "C", "2025-02-16", 1000), ("D1", "D", "2025-03-20", 50),
]  # fmt: skip


SEGMENTS = {"A": "vip", "B": "vip", "C": "member", "D": "member"}
#: The shop's workspace zone (the default); its orders are at noon there, far from any day's edge.
ZONE = "Asia/Taipei"


@pytest.fixture
def shop(engine: Engine, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    workspace = make_workspace(engine)
    customers = write_csv(tmp_path / "c.csv", ("external_id", "segment"), [(c, SEGMENTS[c]) for c in "ABCD"])
    import_file(engine, workspace_slug=workspace.slug, kind="customers", path=customers)
    rows = [(o, 1, c, f"{d}T12:00:00+08:00", "cancelled" if o == "CX" else "completed", "web", "", 1, str(v), "")
            for o, c, d, v in ORDERS]  # fmt: skip
    import_file(
        engine,
        workspace_slug=workspace.slug,
        kind="orders",
        path=write_csv(tmp_path / "o.csv", ORDER_HEADER, rows),
    )
    url = engine.url.render_as_string(hide_password=False)
    return workspace.id, {
        engine.dialect.name: connect(url),
        "duckdb": _duckdb_copy(engine, ("orders", "customers")),
    }


def test_monthly_retention_and_value(shop: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = shop
    for name, con in cons.items():
        january, february, march = commerce.retention(con, workspace_id, zone=ZONE, grain="month")
        assert january["period"] == date(2025, 1, 1)
        # January: A and B active, both new; A bought twice: repeat rate 1/2; 3 orders, 900 → AOV 300, 450 a customer.
        assert (january["customers_end"], january["new_customers"], january["crr"]) == (2, 2, None), name
        assert (january["repeat_purchase_rate"], january["purchase_frequency"]) == (50.0, 1.5)
        assert (january["revenue"], january["average_order_value"], january["value_per_customer"]) == (
            Decimal("900.00"),
            Decimal("300.00"),
            Decimal("450.00"),
        )
        assert january["days_between_purchases"] == pytest.approx(15.0), "A: Jan 5 → Jan 20"
        # February: S = 2 (A, B), E = 2 (A, C), N = 1 (C): CRR = (2 − 1)/2 = 50 %; kept A: retention 50 %, churn 50 %.
        assert (february["customers_start"], february["customers_end"], february["new_customers"]) == (
            2,
            2,
            1,
        ), name
        assert (february["crr"], february["retention_rate"], february["churn_rate"]) == (50.0, 50.0, 50.0), (
            name
        )
        assert february["revenue"] == Decimal("600.00"), "the cancelled 1,000 is not revenue"
        assert february["days_between_purchases"] == pytest.approx(15.0), "A: Jan 20 → Feb 4"
        # March: S = 2 (A, C), E = 3 (A, B, D), N = 1 (D): CRR = (3 − 1)/2 = 100 %, but only A stayed from
        # February: strict retention 50 % (B came back after a gap, which CRR counts and retention does not).
        assert (march["crr"], march["retention_rate"], march["churn_rate"]) == (100.0, 50.0, 50.0), name
        assert march["average_order_value"] == Decimal("83.33")
        assert march["days_between_purchases"] == pytest.approx((30 + 59) / 2), (
            "A: Feb 4 → Mar 6; B: Jan 10 → Mar 10"
        )


#: 2025 is long over on the suite's clock (2026-11-24): no period is still running.
DONE = {"partial": False, "last_share_partial": False}


def test_cohort_matrix(shop: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = shop
    for name, con in cons.items():
        # January cohort {A, B}: Feb A only (50 %), Mar A and B (100 %). February {C}: gone in March. March {D}.
        assert commerce.cohorts(con, workspace_id, zone=ZONE, grain="month") == [
            {"cohort": date(2025, 1, 1), "size": 2, "retention": [100.0, 50.0, 100.0], **DONE},
            {"cohort": date(2025, 2, 1), "size": 1, "retention": [100.0, 0.0], **DONE},
            {"cohort": date(2025, 3, 1), "size": 1, "retention": [100.0], **DONE},
        ], name
        [quarter] = commerce.retention(con, workspace_id, zone=ZONE, grain="quarter")
        assert (quarter["period"], quarter["customers_end"], quarter["orders"]) == (date(2025, 1, 1), 4, 8)


def test_period_indexes_round_trip() -> None:
    assert commerce.period_start(2025 * 12 + 1, "month") == date(2025, 2, 1)
    assert commerce.period_start(2025 * 4 + 3, "quarter") == date(2025, 10, 1)
    with pytest.raises(PatronError):
        commerce.retention(None, 1, zone=ZONE, grain="fortnight")  # type: ignore[arg-type]
    for compute in (commerce.retention, commerce.cohorts, commerce.engagement):
        with pytest.raises(PatronError) as raised:
            compute(None, 1, zone="Mars/Olympus_Mons")  # type: ignore[arg-type]
        assert raised.value.code == "metrics.unknown_time_zone"


def test_retention_and_cohorts_over_the_api(
    engine: Engine, tmp_path: Path, shop: tuple[int, dict[str, Any]]
) -> None:
    from fastapi.testclient import TestClient

    from patron.core import service as core_service
    from patron.core.db import transaction
    from patron.web.app import create_app

    workspace_id, _ = shop
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=workspace_id, name="m")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        months = client.get("/api/v1/metrics/retention?grain=month", headers=headers).json()
        assert [(m["period"], m["crr"], m["retention_rate"], m["average_order_value"]) for m in months] == [
            ("2025-01-01", None, None, "300.00"), ("2025-02-01", 50.0, 50.0, "300.00"), ("2025-03-01", 100.0, 50.0, "83.33"),
        ]  # fmt: skip
        cohorts = client.get("/api/v1/metrics/cohorts", headers=headers).json()
        assert cohorts[0] == {"cohort": "2025-01-01", "size": 2, "retention": [100.0, 50.0, 100.0], **DONE}
        assert client.get("/api/v1/metrics/engagement", headers=headers).json() == [], "no interactions yet"
        bad = client.get("/api/v1/metrics/retention?grain=fortnight", headers=headers)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "metrics.unknown_grain"
        # a segment filters: vip is A and B (see test_a_segment_filter_keeps_only_its_customers)
        vip = client.get("/api/v1/metrics/retention?segment=vip", headers=headers).json()
        assert [(m["period"], m["customers_end"], m["crr"], m["retention_rate"], m["revenue"]) for m in vip] == [
            ("2025-01-01", 2, None, None, "900.00"), ("2025-02-01", 1, 50.0, 50.0, "200.00"),
            ("2025-03-01", 2, 200.0, 100.0, "200.00"),
        ]  # fmt: skip
        member = client.get("/api/v1/metrics/cohorts?segment=member", headers=headers).json()
        assert [(c["cohort"], c["size"], c["retention"]) for c in member] == [
            ("2025-02-01", 1, [100.0, 0.0]), ("2025-03-01", 1, [100.0])]  # fmt: skip
        blank = client.get("/api/v1/metrics/retention?segment=%20", headers=headers).json()
        assert blank == months, "a blank segment is no filter"
        # a segment no customer is in is named, in the caller's language, never the whole workspace
        for path in ("retention", "cohorts", "engagement"):
            unknown = client.get(
                f"/api/v1/metrics/{path}?segment=gold", headers={**headers, "Accept-Language": "zh-Hant"}
            )
            assert unknown.status_code == 404, (path, unknown.text)
            error = unknown.json()["error"]
            assert error["code"] == "metrics.unknown_segment"
            assert error["message"] == "沒有任何顧客屬於客群「gold」，現有客群：member、vip。"


def test_a_segment_filter_keeps_only_its_customers(
    engine: Engine, tmp_path: Path, shop: tuple[int, dict[str, Any]]
) -> None:
    from patron.metrics.export import open_parquet

    workspace_id, cons = shop
    export_parquet(cons[engine.dialect.name], workspace_id, tmp_path / "x", zone=ZONE)
    for name, con in {**cons, "parquet": open_parquet(tmp_path / "x")}.items():
        vip = commerce.retention(con, workspace_id, zone=ZONE, segment="vip")
        # vip = A and B. Jan: both new, 3 orders, 900. Feb: S 2, E 1 (A), N 0: CRR (1 − 0)/2 = 50 %, A kept.
        # Mar: S 1 (A), E 2 (A, B back), N 0: CRR (2 − 0)/1 = 200 %, A kept: retention 100 %; 100 + 100.
        assert [(r["customers_start"], r["customers_end"], r["new_customers"], r["crr"], r["retention_rate"],
                 r["churn_rate"], r["orders"], r["revenue"]) for r in vip] == [
            (None, 2, 2, None, None, None, 3, Decimal("900.00")), (2, 1, 0, 50.0, 50.0, 50.0, 1, Decimal("200.00")),
            (1, 2, 0, 200.0, 100.0, 0.0, 2, Decimal("200.00")),
        ], name  # fmt: skip
        # member = C and D: C in February (the cancelled order is no purchase), D new in March, C gone
        member = commerce.retention(con, workspace_id, zone=ZONE, segment="member")
        assert [(r["period"], r["customers_start"], r["new_customers"], r["crr"], r["churn_rate"], r["revenue"])
                for r in member] == [
            (date(2025, 2, 1), None, 1, None, None, Decimal("400.00")),
            (date(2025, 3, 1), 1, 1, 0.0, 100.0, Decimal("50.00")),
        ], name  # fmt: skip
        assert [(c["cohort"], c["size"], c["retention"]) for c in commerce.cohorts(con, workspace_id, zone=ZONE, segment="vip")] == [
            (date(2025, 1, 1), 2, [100.0, 50.0, 100.0])], name  # fmt: skip
        assert commerce.retention(con, workspace_id, zone=ZONE, segment="gold") == [], name
        assert commerce.cohorts(con, workspace_id, zone=ZONE, segment="gold") == [], name
    # an export written before orders carried their segment cannot filter by one, and says so
    import pyarrow.parquet as pq

    old = pq.read_table(tmp_path / "x" / "orders.parquet").drop_columns(["segment"])
    pq.write_table(old, tmp_path / "x" / "orders.parquet")
    with pytest.raises(PatronError) as raised:
        commerce.retention(open_parquet(tmp_path / "x"), workspace_id, zone=ZONE, segment="vip")
    assert raised.value.code == "metrics.no_segment_here" and "export again" in raised.value.message("en")
    assert len(commerce.retention(open_parquet(tmp_path / "x"), workspace_id, zone=ZONE)) == 3


def test_purchase_metrics_over_a_parquet_export(
    engine: Engine, tmp_path: Path, shop: tuple[int, dict[str, Any]]
) -> None:
    from typer.testing import CliRunner

    from patron.cli import app
    from patron.core.db import transaction
    from patron.core.models import Workspace
    from patron.metrics.export import open_parquet

    workspace_id, cons = shop
    with transaction(engine) as session:
        slug = session.get_one(Workspace, workspace_id).slug
    exported = CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "200"}).invoke(
        app, ["export", "parquet", str(tmp_path / "x"), "-w", slug]
    )
    assert exported.exit_code == 0 and "orders.parquet: 9 rows" in exported.output, exported.output
    parquet = open_parquet(tmp_path / "x")
    operational = cons[engine.dialect.name]
    for segment in (None, "vip"):
        for metric in (commerce.retention, commerce.cohorts):
            expected = metric(operational, workspace_id, zone=ZONE, segment=segment)
            assert metric(parquet, workspace_id, zone=ZONE, segment=segment) == expected, (metric, segment)


def test_engagement_per_customer_and_channel(
    engine: Engine, tmp_path: Path, shop: tuple[int, dict[str, Any]]
) -> None:
    from patron.core.db import transaction
    from patron.core.models import Workspace
    from tests.factories import write_jsonl

    # January: A web, web, app; B web → 4 interactions by 2 customers (2.0 each); web alone 3 by 2 (1.5).
    # February: A email → 1 by 1.
    workspace_id, _ = shop
    with transaction(engine) as session:
        slug = session.get_one(Workspace, workspace_id).slug
    # and C (member) once in a store in January: 5 interactions by 3 customers, of which vip 4 by 2
    events = [("A", "2025-01-03", "web"), ("A", "2025-01-04", "web"), ("A", "2025-01-05", "app"),
              ("B", "2025-01-06", "web"), ("A", "2025-02-07", "email"), ("C", "2025-01-08", "store")]  # fmt: skip
    path = write_jsonl(tmp_path / "e.jsonl", [
        {"customer_id": c, "occurred_at": f"{d}T12:00:00+08:00", "type": "page_view", "channel": ch} for c, d, ch in events
    ])  # fmt: skip
    import_file(engine, workspace_slug=slug, kind="interactions", path=path)
    con = connect(engine.url.render_as_string(hide_password=False))
    assert [(r["period"], r["interactions"], r["customers"], r["per_customer"]) for r in commerce.engagement(con, workspace_id, zone=ZONE)] == [
        (date(2025, 1, 1), 5, 3, 5 / 3), (date(2025, 2, 1), 1, 1, 1.0),
    ]  # fmt: skip
    by_channel = {
        (r["period"].month, r["channel"]): r["per_customer"]
        for r in commerce.engagement(con, workspace_id, zone=ZONE, by="channel")
    }
    assert by_channel == {(1, "app"): 1.0, (1, "store"): 1.0, (1, "web"): 1.5, (2, "email"): 1.0}
    vip = commerce.engagement(con, workspace_id, zone=ZONE, segment="vip")
    assert [(r["period"], r["interactions"], r["customers"]) for r in vip] == [
        (date(2025, 1, 1), 4, 2), (date(2025, 2, 1), 1, 1)]  # fmt: skip
    member = commerce.engagement(con, workspace_id, zone=ZONE, segment="member", by="channel")
    assert [(r["period"], r["channel"], r["interactions"]) for r in member] == [
        (date(2025, 1, 1), "store", 1)
    ]
    with pytest.raises(PatronError):
        commerce.engagement(con, workspace_id, zone=ZONE, by="colour")
