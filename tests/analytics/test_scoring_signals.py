"""The churn model's survey, service, loyalty and feedback features at scale: ``patron export parquet`` writes
their sources, and ``scoring.feature_expression`` computes them on DuckDB and Spark equal to the stored path's
``churn.feature_table`` (hand-computed values for one feature of each family)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.models import Workspace
from patron.metrics.engine import connect
from patron.metrics.export import SIGNAL_FILES, export_parquet
from tests.analytics.test_churn_service import SIGNALS_CUTOFF, _answer, signal_workspace

CUTOFF = SIGNALS_CUTOFF


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
    assert written == {name: len(read(name)) for name in written}
