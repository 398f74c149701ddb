"""``patron export parquet``: every answer once, in the order the analytical engines read fastest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from patron.metrics.export import EXPORT_ORDER, export_parquet
from tests.metrics.test_engine import backends

__all__ = ["backends"]


def test_answers_are_exported_once_each_in_type_segment_time_order(
    engine: Engine, tmp_path: Path, backends: tuple[int, dict[str, Any]]
) -> None:
    workspace_id, cons = backends
    con = cons[engine.dialect.name]
    written = export_parquet(con, workspace_id, tmp_path)
    facts = pq.read_table(tmp_path / "answer_facts.parquet").to_pandas()
    answers = con.table("survey_answers")
    scored = answers.filter(
        answers.workspace_id == workspace_id,
        answers.question_type.isin(("nps", "csat", "ces", "rating")),
        answers.score.notnull(),
    )
    assert written["answer_facts"] == len(facts) == scored.count().execute() > 0
    keys = [tuple(row) for row in facts[list(EXPORT_ORDER)].fillna({"segment": ""}).itertuples(index=False)]
    assert keys == sorted(keys)
    assert facts["question_type"].nunique() > 1 and facts["segment"].nunique() > 1
    assert set(facts["workspace_id"]) == {workspace_id}
    # the stored day is the UTC calendar day of the completion time
    completed_days = pd.to_datetime(facts["completed_at"], utc=True).dt.date
    assert (pd.to_datetime(facts["day"]).dt.date == completed_days).all()
