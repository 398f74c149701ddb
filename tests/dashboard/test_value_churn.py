"""The Customer value and Churn risk tabs and the customer page's scores: every figure against hand-computed
values, on stored scores written here (the models themselves are tested in tests/analytics).

The world (Asia/Taipei, TWD: minor units are cents). CLV fit bgnbd, orders to 2026-11-01, 12 months:

| customer | segment | first order | last order | CLV      | P(alive) | purchases | spend   | age days | risk | value at risk |
|---|---|---|---|---|---|---|---|---|---|---|
| A        | vip     | 2026-01-01  | 2026-10-01 | 12,345.00 | 0.90    | 6.00      | 2,000.00 | 304     | 0.10 | 1,234.50 |
| B        | vip     | 2026-01-01  | 2026-03-02 | 500.00    | 0.20    | 0.50      | 1,000.00 | 304     | 0.80 | 400.00   |
| C        | regular | 2026-05-01  | 2026-05-01 | 300.00    | 0.10    | 0.25      | 1,200.00 | 184     | 0.90 | 270.00   |
| D        | regular | 2026-09-01  | 2026-09-15 | 2,000.00  | 0.80    | 2.00      | 1,000.00 | 61      | 0.30 | 600.00   |
| E        | (none)  | 2025-11-01  | 2026-02-01 | 0.00      | 0.05    | 0.10      | 800.00   | 365     | 0.65 | — (no CLV) |

C also has a cancelled order on 2026-10-20 and F only an order after the cut-off: neither counts.

Kaplan–Meier (churn window 90 days, cut-off 2026-11-01; active until 90 days after the last purchase):
A censored at 304 (Jan 1 → Nov 1), B churned at 60 + 90 = 150, C churned at 0 + 90 = 90, D censored at 61,
E churned at 92 + 90 = 182. All: S(61) = 1, S(90) = 3/4, S(150) = 1/2, S(182) = 1/4, then censored at 304:
3 months (90 days) 75 %, 6 months (180) 50 %, 12 months (360) unknown. vip: S(150) = 1/2 → 100 %, 50 %, unknown.
regular: D censored at 61, C churned at 90 → 0 %, and 0 % after.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from patron.analytics import survival
from patron.analytics.models import ChurnModel, ChurnScore, ClvModel, ClvScore
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.dashboard import churn, value
from patron.dashboard.filters import parse_filters
from patron.importers import import_file
from tests.factories import ORDER_HEADER, make_workspace, write_csv
from tests.web.conftest import PASSWORD, log_in

TODAY = date(2026, 11, 24)
CUTOFF = date(2026, 11, 1)
COMPUTED = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
#: customer: (segment, CLV minor, P(alive), purchases, spend minor, age days, risk, reasons)
SCORES = {
    "A": ("vip", 1_234_500, 0.9, 6.0, 200_000, 304, 0.10, []),
    "B": ("vip", 50_000, 0.2, 0.5, 100_000, 304, 0.80,
          [{"feature": "recency_days", "contribution": 0.3, "params": {"value": "243"}}]),
    "C": ("regular", 30_000, 0.1, 0.25, 120_000, 184, 0.90,
          [{"feature": "recency_ratio", "contribution": 0.2, "params": {"value": "2", "days": "184", "ratio": "2.0"}},
           {"feature": "detractor", "contribution": 0.1, "params": {"value": "1"}}]),
    "D": ("regular", 200_000, 0.8, 2.0, 100_000, 61, 0.30, []),
    "E": ("", 0, 0.05, 0.1, 80_000, 365, 0.65, []),
}  # fmt: skip
ORDERS = [
    ("A", "2026-01-01", "completed"), ("A", "2026-10-01", "completed"),
    ("B", "2026-01-01", "completed"), ("B", "2026-03-02", "completed"),
    ("C", "2026-05-01", "completed"), ("C", "2026-10-20", "cancelled"),
    ("D", "2026-09-01", "completed"), ("D", "2026-09-15", "completed"),
    ("E", "2025-11-01", "completed"), ("E", "2026-02-01", "completed"),
    ("F", "2026-11-10", "completed"),
]  # fmt: skip
VALIDATION = {"holdout_days": 180, "actual_total": 7.0, "predicted_total": 6.5, "mean_absolute_error": 0.42,
              "by_frequency": [{"label": "0", "customers": 3, "actual": 1.0, "predicted": 0.9},
                               {"label": "1+", "customers": 2, "actual": 2.0, "predicted": 1.9}]}  # fmt: skip
EVALUATION = {"auc": 0.75, "precision_at_k": 0.5, "k": 2, "base_rate": 0.4, "train_customers": 4,
              "test_customers": 5, "train_cutoff": "2026-05-05", "test_cutoff": "2026-08-03",
              "calibration": [{"decile": 1, "customers": 2, "predicted": 0.1, "observed": 0.0},
                              {"decile": 2, "customers": 3, "predicted": 0.6, "observed": 0.6667}]}  # fmt: skip


@dataclass
class World:
    engine: Engine
    workspace: Workspace
    viewer: str
    clv_version: str
    churn_version: str


_built: dict[str, World] = {}


def _build(engine: Engine, directory: Path) -> World:
    workspace = make_workspace(engine)
    people = write_csv(directory / "c.csv", ("external_id", "name", "segment"),
                       [(c, f"顧客{c}", SCORES[c][0] if c in SCORES else "") for c in "ABCDEF"])  # fmt: skip
    import_file(engine, workspace_slug=workspace.slug, kind="customers", path=people)
    orders = write_csv(directory / "o.csv", ORDER_HEADER,
                       [(f"O{i}", 1, c, f"{day}T12:00:00+08:00", status, "web", "", 1, "100", "")
                        for i, (c, day, status) in enumerate(ORDERS)])  # fmt: skip
    import_file(engine, workspace_slug=workspace.slug, kind="orders", path=orders)
    with transaction(engine) as session:
        ids = dict(session.execute(select(Customer.external_id, Customer.id).where(Customer.workspace_id == workspace.id)).all())  # fmt: skip
        fit = ClvModel(workspace_id=workspace.id, purchase_model="bgnbd", observation_end=CUTOFF, computed_at=COMPUTED,
                       params={"purchase": {}, "spend": {}, "validation": VALIDATION}, log_likelihood=-1.0,
                       customers=5, repeat_buyers=4)  # fmt: skip
        model = ChurnModel(workspace_id=workspace.id, window_days=90, cutoff=CUTOFF, computed_at=COMPUTED,
                           evaluation=EVALUATION, customers=5)  # fmt: skip
        session.add_all([fit, model])
        session.flush()
        for c, (_, clv, alive, purchases, spend, age, risk, reasons) in SCORES.items():
            session.execute(insert(ClvScore), [{
                "workspace_id": workspace.id, "customer_id": ids[c], "model_id": fit.id, "computed_at": COMPUTED,
                "frequency": 1, "recency_days": 0, "age_days": age, "probability_alive": alive, "horizon_months": 12,
                "expected_purchases": purchases, "expected_spend_minor": spend, "clv_minor": clv, "currency": "TWD"}])  # fmt: skip
            known = c != "E"
            session.execute(insert(ChurnScore), [{
                "workspace_id": workspace.id, "customer_id": ids[c], "model_id": model.id, "computed_at": COMPUTED,
                "risk": risk, "clv_minor": clv if known else None,
                "value_at_risk_minor": round(risk * clv) if known else None, "currency": "TWD", "reasons": reasons}])  # fmt: skip
        viewer = f"viewer@{workspace.slug}.example.com"
        core_service.create_user(
            session, workspace_id=workspace.id, email=viewer, password=PASSWORD, role="viewer"
        )
        versions = (fit.version, model.version)
    return World(engine, workspace, viewer, *versions)


@pytest.fixture
def world(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> World:
    """Built once per database for the whole module (the rows are only read)."""
    name = engine.dialect.name
    if name not in _built:
        _built[name] = _build(engine, tmp_path_factory.mktemp(f"value-{name}"))
    return _built[name]


def _filters(**params: str) -> object:
    return parse_filters(params, today=TODAY)


def test_kaplan_meier_against_a_hand_computed_curve() -> None:
    """Durations 1, 2, 2+, 3, 4+, 5 (+ censored): S(1) = 5/6, S(2) = 5/6 × 4/5 = 2/3 (the one censored at 2 is
    at risk at 2), S(3) = 2/3 × 2/3 = 4/9, S(5) = 0."""
    curve = survival.kaplan_meier([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1])
    assert curve["time"].tolist() == [1, 2, 3, 4, 5]
    assert curve["at_risk"].tolist() == [6, 5, 3, 2, 1]
    assert curve["events"].tolist() == [1, 1, 1, 0, 1] and curve["censored"].tolist() == [0, 1, 0, 1, 0]
    assert curve["survival"].tolist() == pytest.approx([5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0])
    assert survival.survival_at(curve, [0, 1, 2.5, 4.9, 6]) == pytest.approx([1.0, 5 / 6, 2 / 3, 4 / 9, 0.0])
    censored_last = survival.kaplan_meier([1, 3], [1, 0])
    assert survival.survival_at(censored_last, [2, 4]) == [0.5, None]
    assert survival.kaplan_meier([], []).empty


def test_value_tab_figures_are_the_hand_computed_ones(world: World) -> None:
    with transaction(world.engine) as session:
        view = value.value(session, world.workspace, _filters(), "en")  # type: ignore[arg-type]
        vip = value.value(session, world.workspace, _filters(segment="vip"), "en")  # type: ignore[arg-type]
    assert view.model_version == world.clv_version and view.observation_end == CUTOFF
    assert view.computed_at == COMPUTED and view.horizon_months == 12 and view.currency == "TWD"
    assert view.customers == 5 and view.total_clv == pytest.approx(15_145.00)
    assert view.mean_clv == pytest.approx(3_029.00) and view.mean_alive == pytest.approx(0.41)
    assert view.expected_purchases == pytest.approx(8.85)
    # 99th percentile of 0, 300, 500, 2,000, 12,345 at position ⌊0.99 × 4⌋ = 3: 2,000 → width 200, 11 closed bins
    # and one open bin from 2,200 for 12,345
    assert [n for _, _, n in view.histogram] == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert view.histogram[0][:2] == (0.0, 200.0) and view.histogram[-1][:2] == (2200.0, None)
    top = view.tables["top"].rows
    assert [row[0] for row in top] == ["A", "D", "B", "C", "E"]
    assert top[0] == ["A", "顧客A", "VIP", pytest.approx(90.0), 6.0, 2000.0, 12345.0]
    segments = {row[0]: row[1:] for row in view.tables["segments"].rows}
    assert list(segments) == ["VIP", "Regular", "(no segment)"]
    assert segments["Regular"] == [
        2,
        2300.0,
        1150.0,
        pytest.approx(100 * 230_000 / 1_514_500),
        pytest.approx(45.0),
    ]
    assert segments["VIP"] == [
        2,
        12845.0,
        6422.5,
        pytest.approx(100 * 1_284_500 / 1_514_500),
        pytest.approx(55.0),
    ]
    assert segments["(no segment)"] == [1, 0.0, 0.0, 0.0, pytest.approx(5.0)]
    cohorts = [[row[0], *row[1:]] for row in view.tables["first_purchase"].rows]
    assert cohorts == [
        [date(2025, 11, 1), 1, 0.0, 0.0, pytest.approx(5.0)],
        [date(2026, 1, 1), 2, 12845.0, 6422.5, pytest.approx(55.0)],
        [date(2026, 5, 1), 1, 300.0, 300.0, pytest.approx(10.0)],
        [date(2026, 9, 1), 1, 2000.0, 2000.0, pytest.approx(80.0)],
    ]
    assert view.tables["calibration"].rows == [["0", 3, 1.0, 0.9], ["1+", 2, 2.0, 1.9]]
    assert vip.customers == 2 and vip.total_clv == pytest.approx(12_845.00)
    assert [row[0] for row in vip.tables["top"].rows] == ["A", "B"]


def test_churn_tab_figures_are_the_hand_computed_ones(world: World) -> None:
    with transaction(world.engine) as session:
        view = churn.churn_risk(session, world.workspace, _filters(), "en")  # type: ignore[arg-type]
        regular = churn.churn_risk(session, world.workspace, _filters(segment="regular"), "zh-Hant")  # type: ignore[arg-type]
        frame = churn.lifetimes(session, world.workspace, CUTOFF, 90)
    ids = dict(zip(frame["customer_id"], zip(frame["duration"], frame["churned"], strict=True), strict=True))
    assert sorted(ids.values()) == [(61, 0), (90, 1), (150, 1), (182, 1), (304, 0)]
    assert view.model_version == world.churn_version and view.cutoff == CUTOFF and view.window_days == 90
    assert view.customers == 5 and view.high_risk == 3
    assert view.mean_risk == pytest.approx(0.55) and view.value_at_risk == pytest.approx(2504.50)
    assert view.trust == "fair" and view.evaluation["auc"] == 0.75
    rows = view.tables["at_risk"].rows
    assert [row[0] for row in rows] == ["A", "D", "B", "C", "E"]
    assert rows[0][3:6] == [pytest.approx(10.0), 12345.0, 1234.5] and rows[-1][4:6] == [None, None]
    assert rows[3][6] == ("No purchase for 184 days, 2.0× the usual gap between purchases; "
                          "Last survey answer was a low score (detractor)")  # fmt: skip
    assert view.tables["segments"].rows == [
        ["(no segment)", 1, pytest.approx(65.0), 1, 0.0],
        ["Regular", 2, pytest.approx(60.0), 1, 870.0],
        ["VIP", 2, pytest.approx(45.0), 1, 1634.5],
    ]
    survival_rows = {row[0]: row[1:] for row in view.tables["survival"].rows}
    assert survival_rows["All"] == [5, pytest.approx(75.0), pytest.approx(50.0), None, None]
    assert survival_rows["VIP"] == [2, pytest.approx(100.0), pytest.approx(50.0), None, None]
    assert view.curves["All"][:4] == [100.0, 100.0, 100.0, 75.0]
    assert view.tables["evaluation"].rows == [
        ["1", 2, pytest.approx(10.0), 0.0],
        ["2", 3, pytest.approx(60.0), pytest.approx(66.67)],
    ]
    assert regular.customers == 2 and [row[0] for row in regular.tables["at_risk"].rows] == ["D", "C"]
    assert "；" in str(regular.tables["at_risk"].rows[1][6])
    assert regular.tables["survival"].rows == [["全部", 2, 0.0, 0.0, 0.0, 0.0]]


@pytest.mark.parametrize("language", ["zh-Hant", "zh-Hans", "en"])
def test_pages_exports_and_customer_page(world: World, client: TestClient, language: str) -> None:
    log_in(client, world.workspace.slug, world.viewer)
    for page in ("value", "churn"):
        answer = client.get(f"/dashboard/{page}?lang={language}")
        assert answer.status_code == 200, answer.text
        assert "data-empty" not in answer.text and "data-chart=" in answer.text
    exported = client.get(f"/dashboard/churn/export?table=at_risk&format=csv&lang={language}")
    assert exported.status_code == 200
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [line[0] for line in lines[1:]] == ["A", "D", "B", "C", "E"] and lines[1][5] == "1234.5"
    assert client.get("/dashboard/churn/export?table=at_risk&format=xlsx").status_code == 200
    customer = client.get(f"/customers/C?lang={language}").text
    assert (
        'data-metric="clv" data-value="300.00"' in customer
        and 'data-metric="risk" data-value="0.9000"' in customer
    )
    assert 'data-feature="recency_ratio"' in customer
    assert "data-no-scores" in client.get(f"/customers/F?lang={language}").text


def test_empty_tabs_say_which_command_fills_them(engine: Engine, client: TestClient) -> None:
    workspace = make_workspace(engine)
    with transaction(engine) as session:
        core_service.create_user(session, workspace_id=workspace.id, email="v@example.com", password=PASSWORD,
                                 role="viewer")  # fmt: skip
    log_in(client, workspace.slug, "v@example.com")
    for page, command in (("value", "patron clv score"), ("churn", "patron churn score")):
        text = client.get(f"/dashboard/{page}?lang=en").text
        assert "data-empty" in text and command in text


CANCELLED_NOTES = {
    "en": ("churned = a subscription cancelled within 90 days", "chance of cancelling the subscription in the next 90 days",
           "Negative comments about Delivery in the last 180 days: 2; Complaints in the last 90 days: 3"),
    "zh-Hant": ("流失定義為 90 天內取消訂閱", "未來 90 天內取消訂閱的機率",
                "近 180 天對「配送」的負面意見：2 則；近 90 天客訴次數：3"),
    "zh-Hans": ("流失定义为 90 天内取消订阅", "未来 90 天内取消订阅的概率",
                "近 180 天对“配送”的负面意见：2 条；近 90 天投诉次数：3"),
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh-Hant", "zh-Hans", "en"])
def test_a_cancelled_model_says_so_and_names_service_and_feedback_reasons(
    engine: Engine, client: TestClient, tmp_path: Path, language: str
) -> None:
    workspace = make_workspace(engine)
    import_file(engine, workspace_slug=workspace.slug, kind="customers",
                path=write_csv(tmp_path / "c.csv", ("external_id",), [("S",)]))  # fmt: skip
    import_file(engine, workspace_slug=workspace.slug, kind="orders", path=write_csv(tmp_path / "o.csv", ORDER_HEADER, [
        ("O1", 1, "S", "2026-10-01T12:00:00+08:00", "completed", "web", "", 1, "100", "")]))  # fmt: skip
    names = {"en": "Delivery", "zh-Hant": "配送", "zh-Hans": "配送"}
    reasons = [
        {"feature": "negative_theme_delivery", "contribution": 0.2, "params": {"value": "2", "theme": "delivery", "names": names}},
        {"feature": "complaints_90d", "contribution": 0.1, "params": {"value": "3"}},
    ]  # fmt: skip
    with transaction(engine) as session:
        customer = session.scalars(select(Customer.id).where(Customer.workspace_id == workspace.id)).one()
        model = ChurnModel(workspace_id=workspace.id, definition="cancelled", window_days=90, cutoff=CUTOFF,
                           computed_at=COMPUTED, evaluation=EVALUATION, customers=1)  # fmt: skip
        session.add(model)
        session.flush()
        session.execute(insert(ChurnScore), [{
            "workspace_id": workspace.id, "customer_id": customer, "model_id": model.id, "computed_at": COMPUTED,
            "risk": 0.7, "clv_minor": None, "value_at_risk_minor": None, "currency": "TWD", "reasons": reasons}])  # fmt: skip
        core_service.create_user(session, workspace_id=workspace.id, email="v@example.com", password=PASSWORD,
                                 role="viewer")  # fmt: skip
        version = model.version
    assert version == f"gbm-cancelled-90d-{model.id}"
    log_in(client, workspace.slug, "v@example.com")
    text = client.get(f"/dashboard/churn?lang={language}").text
    note, within, said = CANCELLED_NOTES[language]
    assert note in text and within in text and said in text and version in text
