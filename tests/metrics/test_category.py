"""Slicing satisfaction by the product categories of the order a response is about."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.metrics.engine import MetricQuery, metric
from patron.metrics.export import export_parquet, open_parquet
from patron.metrics.service import operational_connection
from patron.surveys import service as surveys
from patron.surveys.schemas import ResponseSubmit
from tests.web.conftest import make_tenant


def test_csat_by_the_categories_of_the_order(engine: Engine, tmp_path: Path) -> None:
    # O1 holds tea (P1) and coffee (P2); O2 holds tea. CSAT 5 about O1, 2 about O2, 4 about no order:
    # tea 1 of 2 satisfied (50 %), coffee 1 of 1, "(none)" 1 of 1; overall still 3 answers, 2 satisfied.
    tenant = make_tenant(engine, tmp_path)
    workspace_id = tenant.workspace.id
    with transaction(engine) as session:
        surveys.save_survey(
            session, workspace_id=workspace_id, definition=surveys.templates()["post_purchase_csat"]
        )
        for order, score in (("O1", 5), ("O2", 2), (None, 4)):
            surveys.submit_response(session, workspace_id=workspace_id, submission=ResponseSubmit(
                survey="post_purchase_csat", customer_id="C001", order_id=order, answers={"csat": score}))  # fmt: skip
    con = operational_connection()
    rows = metric(con, workspace_id, MetricQuery("csat", by=("category",)))
    assert [(r["category"], r["n"], r["value"]) for r in rows] == [
        ("(none)", 1, 100.0), ("coffee", 1, 100.0), ("tea", 2, 50.0),
    ]  # fmt: skip
    [overall] = metric(con, workspace_id, MetricQuery("csat"))
    assert overall["n"] == 3 and overall["value"] == pytest.approx(200 / 3)
    [tea] = metric(con, workspace_id, MetricQuery("csat", where=(("category", "tea"),)))
    assert (tea["n"], tea["value"]) == (2, 50.0)
    with pytest.raises(PatronError) as caught:
        metric(con, workspace_id, MetricQuery("response_rate", by=("category",)))
    assert "category" in caught.value.message("en")
    export_parquet(con, workspace_id, tmp_path / "export")
    with pytest.raises(PatronError) as refused:
        metric(open_parquet(tmp_path / "export"), workspace_id, MetricQuery("csat", by=("category",)))
    assert refused.value.code == "metrics.no_category_here"
