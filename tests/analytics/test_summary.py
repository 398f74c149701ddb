"""The RFM summary: hand-computed on a small shop, equal to the published CDNOW summary, and the same on
SQLite, PostgreSQL, DuckDB and Spark."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from patron.analytics.clv import rfm_summary, rfm_train_test_split, workspace_summary
from patron.core.clock import frozen
from patron.core.errors import PatronError
from tests.analytics.conftest import DATA
from tests.metrics.test_commerce import shop
from tests.metrics.test_spark import spark_ready

__all__ = ["shop", "spark_ready"]


def test_cdnow_excerpt_summarises_to_the_published_rows() -> None:
    orders = pd.read_csv(DATA / "cdnow_orders_excerpt.csv")
    split = rfm_train_test_split(orders, monetary_value_col="dollars", calibration_end="1997-09-30",
                                 observation_end="1998-06-30")  # fmt: skip
    published = pd.read_csv(DATA / "cdnow_summary.csv").set_index("customer_id").loc[split["customer_id"]]
    assert split["frequency"].tolist() == published["frequency"].tolist()
    assert split["recency"].tolist() == published["recency_days"].tolist()
    assert split["T"].tolist() == published["T_days"].tolist()
    assert split["frequency_holdout"].tolist() == published["frequency_holdout"].tolist()
    spend = (split["monetary_value"] * split["frequency"]).round(2)
    assert spend.tolist() == (published["repeat_spend_cents"] / 100).tolist()
    assert set(split["duration_holdout"]) == {273.0}
    weeks = rfm_summary(orders, monetary_value_col="dollars", observation_end="1997-09-30", time_unit="W")
    assert weeks.loc[0, "recency"] == pytest.approx(213 / 7) and weeks.loc[0, "T"] == pytest.approx(272 / 7)


def test_small_frame_by_hand() -> None:
    # A: Jan 1 (10 + 5 on the same day: one purchase), Jan 11 (30), Jan 21 (50); B: Jan 6 (20)
    frame = pd.DataFrame({
        "customer": ["A", "A", "A", "A", "B", "A"],
        "at": ["2025-01-01", "2025-01-01", "2025-01-11", "2025-01-21", "2025-01-06", "2025-02-15"],
        "amount": [10.0, 5.0, 30.0, 50.0, 20.0, 99.0],
    })  # fmt: skip
    summary = rfm_summary(frame, customer_id_col="customer", datetime_col="at", monetary_value_col="amount",
                          observation_end=date(2025, 1, 31))  # fmt: skip
    assert summary.to_dict("records") == [
        {"customer_id": "A", "frequency": 2, "recency": 20.0, "T": 30.0, "monetary_value": 40.0},
        {"customer_id": "B", "frequency": 0, "recency": 0.0, "T": 25.0, "monetary_value": 0.0},
    ]
    with pytest.raises(PatronError) as bad:
        rfm_summary(frame.assign(at=["2025-01-01", "yesterday", *frame["at"][2:]]), customer_id_col="customer",
                    datetime_col="at")  # fmt: skip
    assert (bad.value.code, bad.value.params["row"]) == ("clv.bad_date", 2)
    with pytest.raises(PatronError) as split:
        rfm_summary(frame, customer_id_col="customer", datetime_col="at", calibration_end="2025-02-01",
                    observation_end="2025-01-31")  # fmt: skip
    assert split.value.code == "clv.bad_split"


def _expected_shop() -> list[dict[str, Any]]:
    # tests/metrics/test_commerce.py ORDERS, in days, up to 2025-03-31 (Asia/Taipei noon: same calendar day):
    # A: Jan 5, Jan 20, Feb 4, Mar 6 (100, 300, 200, 100) → x 3, t_x 60, T 85, repeat mean 200
    # B: Jan 10, Mar 10 (500, 100) → 1, 59, 80, 100; C: Feb 15 (the Feb 16 order was cancelled); D: Mar 20
    return [
        {"frequency": 3, "recency": 60.0, "T": 85.0, "monetary_value": 200.0},
        {"frequency": 1, "recency": 59.0, "T": 80.0, "monetary_value": 100.0},
        {"frequency": 0, "recency": 0.0, "T": 44.0, "monetary_value": 0.0},
        {"frequency": 0, "recency": 0.0, "T": 11.0, "monetary_value": 0.0},
    ]


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.drop(columns=["customer_id"]).to_dict("records")


def test_workspace_summary_on_every_backend(shop: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = shop
    for name, con in cons.items():
        summary = workspace_summary(con, workspace_id, observation_end=date(2025, 3, 31), zone="Asia/Taipei")
        assert _rows(summary) == _expected_shop(), name
        split = workspace_summary(con, workspace_id, observation_end=date(2025, 3, 31),
                                  calibration_end=date(2025, 2, 28), zone="Asia/Taipei")  # fmt: skip
        # to Feb 28: A Jan 5, Jan 20, Feb 4 → 2 repeats, then Mar 6 in the holdout; B Jan 10 then Mar 10; C Feb 15
        assert split["frequency"].tolist() == [2, 0, 0], name
        assert split["frequency_holdout"].tolist() == [1, 1, 0], name
        assert split["monetary_value_holdout"].tolist() == [100.0, 100.0, 0.0], name
        assert set(split["duration_holdout"]) == {31.0}, name


def test_orders_in_the_future_are_refused(shop: tuple[int, dict[str, Any]]) -> None:
    workspace_id, cons = shop
    con = next(iter(cons.values()))
    with frozen(datetime(2025, 3, 15, tzinfo=UTC)), pytest.raises(PatronError) as caught:
        workspace_summary(con, workspace_id, observation_end=date(2025, 3, 15))
    assert caught.value.code == "clv.future_orders" and caught.value.params["count"] == 1  # D's Mar 20


def test_workspace_summary_on_spark_matches(
    spark_ready: None, engine: Engine, tmp_path: Path, shop: tuple[int, dict[str, Any]]
) -> None:
    from patron.metrics import spark
    from patron.metrics.export import export_parquet

    workspace_id, cons = shop
    export_parquet(cons[engine.dialect.name], workspace_id, tmp_path / "export")
    on_spark = spark.open_parquet(tmp_path / "export")
    summary = workspace_summary(on_spark, workspace_id, observation_end=date(2025, 3, 31), zone="Asia/Taipei")
    assert _rows(summary) == _expected_shop()
