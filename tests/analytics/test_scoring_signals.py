"""The churn model's survey, service, loyalty and feedback features at scale: ``patron export parquet`` writes
their sources, and ``scoring.feature_expression`` computes them on DuckDB and Spark equal to the stored path's
``churn.feature_table`` (hand-computed values for one feature of each family)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

from patron.analytics import churn, churn_service, scoring
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.metrics.engine import connect
from patron.metrics.export import SIGNAL_FILES, export_parquet
from tests.analytics.test_churn_service import SIGNALS_CUTOFF, _answer, signal_workspace
from tests.metrics.test_spark import spark_ready

__all__ = ["spark_ready"]
CUTOFF = SIGNALS_CUTOFF
WINDOW = 92


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _workspace(engine: Engine, tmp_path: Path) -> tuple[Workspace, dict[str, int]]:
    """``signal_workspace`` with NPS answers: A a 3 (a detractor) in May; B a 9 in June and a 2 on 1 Jul in
    Taipei (after the cut-off)."""
    workspace, ids = signal_workspace(engine, tmp_path)
    with transaction(engine) as session:
        _answer(session, workspace, ids["A"], _moment("2025-05-01T12:00:00+08:00"), 3)
        _answer(session, workspace, ids["B"], _moment("2025-06-01T12:00:00+08:00"), 9)
        _answer(session, workspace, ids["B"], _moment("2025-06-30T18:00:00+00:00"), 2)
    return workspace, ids


def test_export_writes_the_churn_features_sources(engine: Engine, tmp_path: Path) -> None:
    workspace, ids = _workspace(engine, tmp_path)
    con = connect(engine.url.render_as_string(hide_password=False))
    written = export_parquet(con, workspace.id, tmp_path / "export", zone=workspace.timezone)
    assert set(SIGNAL_FILES) <= set(written)

    def read(name: str) -> Any:
        return pq.read_table(tmp_path / "export" / f"{name}.parquet").to_pandas()

    survey = read("survey_scores")
    assert survey["customer_id"].tolist() == [ids["A"], ids["B"], ids["B"]]
    assert survey["score"].tolist() == [3.0, 9.0, 2.0] and set(survey["scale_max"]) == {10.0}
    interactions = read("interactions")  # the email_open is not one the features count
    assert sorted(interactions["type"]) == [
        "complaint",
        "complaint",
        "subscription_cancelled",
        "support_contact",
    ]
    assert read("handovers")["customer_id"].tolist() == [ids["A"]]
    assert read("loyalty_members")["customer_id"].tolist() == [ids["A"]]
    entries = read("loyalty_entries")
    assert entries["points"].tolist() == [500, -80, -50] and set(entries["customer_id"]) == {ids["A"]}
    assert read("loyalty_tier_moves")["rank"].tolist() == [2.0]  # gold, the third tier
    items = read("feedback_items")  # the item of nobody known is not a customer's
    assert sorted(items["customer_id"]) == sorted([ids["A"], ids["A"], ids["B"]])
    mentions = read("feedback_mentions")  # the price mention of nobody known is left out too
    assert sorted(
        zip(mentions["customer_id"], mentions["theme"], mentions["sentiment"], strict=True)
    ) == sorted(
        [(ids["A"], "delivery", "negative"), (ids["A"], "price", "positive"), (ids["B"], "price", "negative")]
    )
    assert written == {name: len(read(name)) for name in written}


@dataclass(frozen=True)
class Exported:
    workspace: Workspace
    ids: dict[str, int]
    folder: Path
    stored: pd.DataFrame
    labels: pd.Series


@pytest.fixture(scope="module")
def exported(sqlite_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """The workspace on SQLite, exported; the stored path's features at the cut-off and its ``cancelled``
    labels for the window after it."""
    tmp = tmp_path_factory.mktemp("signals")
    workspace, ids = _workspace(sqlite_engine, tmp)
    con = connect(sqlite_engine.url.render_as_string(hide_password=False))
    export_parquet(con, workspace.id, tmp / "export", zone=workspace.timezone)
    with transaction(sqlite_engine) as session:
        orders = churn_service.orders_frame(session, workspace)
        answers = churn_service.answers_frame(session, workspace)
        signals = churn_service.signals_frame(session, workspace)
    stored = churn.feature_table(orders, answers, CUTOFF, signals=signals)
    rule = churn.ChurnDefinition(WINDOW, "cancelled")
    labels = churn.labels(orders, CUTOFF, rule, signals.cancellations())
    return Exported(workspace, ids, tmp / "export", stored, labels)


def _features(exported: Exported, engine: str) -> pd.DataFrame:
    con = scoring.open_orders(exported.folder, engine)
    ws = exported.workspace
    bought = scoring.purchases(con, workspace_id=ws.id, currency=ws.currency)
    tables = scoring.SignalTables.of(con)
    rows = scoring.feature_expression(bought, as_of=CUTOFF, zone=ws.timezone, signals=tables).to_pandas()
    rows = rows.sort_values("customer_id", ignore_index=True)
    return scoring.churn_frame(rows, np.full(len(rows), np.nan))


@pytest.fixture(params=["duckdb", "spark"])
def engine_name(request: pytest.FixtureRequest) -> str:
    """DuckDB, and Spark local mode where it can run (``spark_ready``)."""
    if request.param == "spark":
        request.getfixturevalue("spark_ready")
    return str(request.param)


def test_features_at_scale_are_the_stored_paths(exported: Exported, engine_name: str) -> None:
    engine = engine_name
    found = _features(exported, engine)
    stored = exported.stored
    assert list(found.columns) == [*churn.FEATURES, *churn.SIGNAL_FEATURES] == list(stored.columns)
    assert found.index.tolist() == stored.index.tolist() == sorted(exported.ids.values())
    for name in found.columns:
        if name == "probability_alive":
            continue
        ours, theirs = found[name].to_numpy(dtype=float), stored[name].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), name
        assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-9, equal_nan=True), (name, ours, theirs)
    a, b = found.loc[exported.ids["A"]], found.loc[exported.ids["B"]]
    # survey: A's 3 is a detractor's; B's 9 stands (the 2 is on 1 Jul in Taipei, after the cut-off)
    assert (a["last_score"], a["detractor"], b["last_score"], b["detractor"]) == (3, 1, 9, 0)
    # service: a support contact and a complaint in the last 90 days; an open hand-over
    assert (a["support_contacts_90d"], a["complaints_90d"], a["open_handovers"]) == (2, 1, 1)
    # loyalty: 500 earned, 80 redeemed 60 days before (the 50 on 1 Jul in Taipei is after); gold is rank 2
    assert (a["points_balance"], a["points_redeemed_90d"], a["days_since_redemption"], a["tier_rank"]) == (
        420,
        80,
        60,
        2,
    )
    assert b["member"] == 0 and np.isnan(b["points_balance"])
    # feedback: one negative of two analysed items in the last 180 days
    assert (a["negative_items_180d"], a["negative_share_180d"]) == (1, 0.5)
    assert np.isnan(b["negative_share_180d"])


def test_negative_theme_features_at_scale_are_the_stored_paths(
    exported: Exported, engine_name: str, sqlite_engine: Engine
) -> None:
    """At the cut-off only delivery has a negative mention by a known customer (B's price one is on 1 Jul in
    Taipei, the unknown customer's is nobody's); ten days later delivery and price tie at one each (ties by
    key). A's delivery mention and B's price mention are each counted once; A's price mention is positive."""
    con = scoring.open_orders(exported.folder, engine_name)
    ws, ids = exported.workspace, exported.ids
    tables = scoring.SignalTables.of(con)
    later = CUTOFF + timedelta(days=10)
    assert scoring.top_negative_themes(tables, CUTOFF, zone=ws.timezone) == ("delivery",)
    themes = scoring.top_negative_themes(tables, later, zone=ws.timezone)
    assert themes == ("delivery", "price")
    with transaction(sqlite_engine) as session:
        orders = churn_service.orders_frame(session, ws)
        answers = churn_service.answers_frame(session, ws)
        signals = churn_service.signals_frame(session, ws, themes_at=later)
    assert signals.themes == themes
    stored = churn.feature_table(orders, answers, later, signals=signals)
    bought = scoring.purchases(con, workspace_id=ws.id, currency=ws.currency)
    rows = scoring.feature_expression(
        bought, as_of=later, zone=ws.timezone, signals=dataclasses.replace(tables, themes=themes)
    ).to_pandas()
    found = scoring.churn_frame(
        rows.sort_values("customer_id", ignore_index=True), np.full(len(rows), np.nan)
    )
    columns = ["negative_theme_delivery", "negative_theme_price"]
    assert list(found.columns) == list(stored.columns) == [*churn.FEATURES, *churn.SIGNAL_FEATURES, *columns]
    assert found.index.tolist() == stored.index.tolist()
    assert found[columns].to_dict() == stored[columns].to_dict()
    assert found.loc[ids["A"], columns].tolist() == [1.0, 0.0]
    assert found.loc[ids["B"], columns].tolist() == [0.0, 1.0]


def test_cancelled_labels_at_scale_are_the_stored_paths(exported: Exported, engine_name: str) -> None:
    """B cancels on 10 Jul: churned in the window after the cut-off; A did not."""
    engine = engine_name
    con = scoring.open_orders(exported.folder, engine)
    ws = exported.workspace
    bought = scoring.purchases(con, workspace_id=ws.id, currency=ws.currency)
    table = scoring.training_expression(
        bought, as_of=CUTOFF + timedelta(days=WINDOW), window_days=WINDOW, zone=ws.timezone,
        signals=scoring.SignalTables.of(con), definition="cancelled",
    )  # fmt: skip
    found = table.select("customer_id", "churned").to_pandas().set_index("customer_id")["churned"]
    assert (
        found.sort_index().to_dict()
        == exported.labels.to_dict()
        == {exported.ids["A"]: 0, exported.ids["B"]: 1}
    )
    with pytest.raises(PatronError) as error:
        scoring.training_expression(bought, as_of=CUTOFF, window_days=WINDOW, definition="cancelled")
    assert error.value.code == "churn.no_cancellations"


def test_a_folder_exported_before_the_signal_files_names_them(exported: Exported, tmp_path: Path) -> None:
    (tmp_path / "orders.parquet").write_bytes((exported.folder / "orders.parquet").read_bytes())
    assert scoring.missing_signal_files(tmp_path) == [f"{name}.parquet" for name in SIGNAL_FILES]
    assert scoring.missing_signal_files(exported.folder) == []
