"""Scoring a Parquet file of comments (docs/feedback.md, "Scoring a Parquet file of comments"): exported from a
workspace (the masked copies), scored in this process and as a Spark job in local mode, each giving exactly what
the in-process pipeline stored — language, sentiment, score, and each theme with its own sentiment."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core.db import set_engine, transaction
from patron.feedback import bulk, service
from patron.feedback.models import FeedbackItem, FeedbackMention
from patron.feedback.schemas import FeedbackCreate
from tests.factories import make_workspace

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})
TEXTS = ["送餐很快但湯是冷的", "送餐很快但汤是冷的", "The staff were friendly but the soup was cold",
         "店員態度很差，請回電 0912-345-678", "價格便宜，CP值很高", "停車很方便", "😀"]  # fmt: skip


def _stored(engine: Engine) -> tuple[str, dict[int, tuple[str, str, float, str]]]:
    workspace = make_workspace(engine)
    items = [FeedbackCreate(channel="review", source="maps", source_id=str(i), text=text,  # type: ignore[arg-type]
                            occurred_at=datetime(2026, 11, 1, 4, i, tzinfo=UTC)) for i, text in enumerate(TEXTS)]  # fmt: skip
    with transaction(engine) as session:
        service.add_items(session, workspace_id=workspace.id, items=items)
        rows = session.execute(select(FeedbackItem.id, FeedbackItem.language, FeedbackItem.sentiment,
                                      FeedbackItem.sentiment_score)
                               .where(FeedbackItem.workspace_id == workspace.id)).all()  # fmt: skip
        mentions = session.execute(select(FeedbackMention.item_id, FeedbackMention.theme, FeedbackMention.sentiment)
                                   .where(FeedbackMention.workspace_id == workspace.id)
                                   .order_by(FeedbackMention.theme)).all()  # fmt: skip
    themes: dict[int, list[str]] = {}
    for item_id, theme, sentiment in mentions:
        themes.setdefault(item_id, []).append(f"{theme}:{sentiment}")
    return workspace.slug, {
        row.id: (row.language, row.sentiment, row.sentiment_score, ";".join(themes.get(row.id, [])))
        for row in rows
    }


def _scored(path: Path) -> dict[int, tuple[str, str, float, str]]:
    table = pq.read_table(path).to_pylist()
    return {r["id"]: (r["language"], r["sentiment"], r["score"], r["themes"]) for r in table}


def _same(
    got: dict[int, tuple[str, str, float, str]], expected: dict[int, tuple[str, str, float, str]]
) -> None:
    assert got.keys() == expected.keys()
    for key, (language, sentiment, score, themes) in expected.items():
        assert got[key][:2] == (language, sentiment) and got[key][3] == themes, key
        assert got[key][2] == pytest.approx(score, abs=1e-9)


@pytest.fixture
def engine(sqlite_engine: Engine) -> Iterator[Engine]:
    """SQLite only: what is compared is the pipeline, and Spark's start is slow enough once."""
    set_engine(sqlite_engine)
    yield sqlite_engine
    set_engine(None)


def test_a_parquet_export_scored_locally_and_on_spark_equals_the_stored_analysis(
    engine: Engine, tmp_path: Path
) -> None:
    slug, expected = _stored(engine)
    # By hand: 送餐很快但湯是冷的 in both scripts, positive overall, delivery positive, food quality negative.
    both = [value for value in expected.values() if "food_quality:negative" in value[3]]
    assert len(both) >= 2 and all("delivery:positive" in value[3] for value in both[:2])
    exported = runner.invoke(app, ["feedback", "export", str(tmp_path / "comments.parquet"), "-w", slug])
    assert exported.exit_code == 0 and "comments.parquet: 7 rows" in exported.output, exported.output
    texts = pq.read_table(tmp_path / "comments.parquet").column("text").to_pylist()
    assert "店員態度很差，請回電 [PHONE]" in texts and not any("0912" in text for text in texts)
    local = runner.invoke(app, ["feedback", "analyze", "-w", slug, "--parquet", str(tmp_path / "comments.parquet"),
                                "--out", str(tmp_path / "local.parquet")])  # fmt: skip
    assert local.exit_code == 0 and "7 comments scored" in local.output, local.output
    _same(_scored(tmp_path / "local.parquet"), expected)
    no_out = runner.invoke(
        app, ["feedback", "analyze", "-w", slug, "--parquet", str(tmp_path / "comments.parquet")]
    )
    assert no_out.exit_code == 2 and "--out" in no_out.output
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("PySpark is not installed (pip install 'patron[spark]')")
    if not shutil.which("java"):
        pytest.skip("no Java runtime (apt-get install openjdk-17-jre-headless)")
    rows = bulk.analyse_parquet(tmp_path / "comments.parquet", tmp_path / "spark.parquet", engine="spark", batch=3,
                                taxonomy_yaml=None)  # fmt: skip
    assert rows == 7
    _same(_scored(tmp_path / "spark.parquet"), expected)


def test_the_bulk_re_analysis_reads_in_batches_whatever_the_number_of_items(engine: Engine) -> None:
    """``service.analyze`` (a taxonomy change applied to history, ``patron feedback analyze``) reads the items by id,
    ``batch`` at a time: 7 items in batches of 3 are 3 reads (3, 3 and 1 rows) and a 4th that finds none —
    memory holds one batch, not the history (bench/text.py --reanalyse measures 1,000,000)."""
    from sqlalchemy import event, update

    _, expected = _stored(engine)
    with transaction(engine) as session:
        session.execute(
            update(FeedbackItem).where(FeedbackItem.id.in_(list(expected))).values(analyzed_with=None)
        )
    reads: list[int] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().startswith("SELECT feedback_items.id, feedback_items.analysis_text"):
            reads.append(0)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with transaction(engine) as session:
            workspace_id = session.get_one(FeedbackItem, next(iter(expected))).workspace_id
            report = service.analyze(session, workspace_id=workspace_id, batch=3, survey_comments=False)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert report.analysed == 7 and len(reads) == 4  # ceil(7 / 3) = 3 batches, then one read that finds none
    with transaction(engine) as session:
        stored = session.execute(select(FeedbackItem.id, FeedbackItem.sentiment)
                                 .where(FeedbackItem.id.in_(list(expected)))).all()  # fmt: skip
    assert {row.id: row.sentiment for row in stored} == {key: value[1] for key, value in expected.items()}
