"""Scoring comments where one database is not the place: a Parquet file of comments (``export_comments``, the
masked copies) analysed with the same pipeline as ``service`` — language, analysis copy (width folding,
Simplified), PII masking, sentiment per item and per clause, themes with their own sentiment — in batches of
pandas frames, in this process (``local``) or as an Apache Spark job (``spark``, ``mapInPandas``: the same function
on each partition's batches, on a laptop in local mode or on a cluster). Memory is bounded by the batch either way
(docs/feedback.md, "Scoring a Parquet file of comments")."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.feedback import service
from patron.feedback.models import FeedbackItem
from patron.feedback.taxonomy import Taxonomy, parse_taxonomy, shipped_taxonomy

ENGINES = ("local", "spark")
BATCH = 10_000
#: What a scored comment gives: its themes as ``theme:sentiment`` joined by ``;``, by theme key.
OUTPUT = pa.schema([("id", pa.int64()), ("language", pa.string()), ("sentiment", pa.string()),
                    ("score", pa.float64()), ("themes", pa.string())])  # fmt: skip
SPARK_SCHEMA = "id long, language string, sentiment string, score double, themes string"
COMMENTS = pa.schema([("id", pa.int64()), ("occurred_at", pa.timestamp("us", tz="UTC")),
                      ("channel", pa.string()), ("text", pa.string())])  # fmt: skip


def export_comments(session: Session, *, workspace_id: int, path: Path, batch: int = BATCH) -> int:
    """The workspace's comments as Parquet (id, time, channel, and the **masked** copy as ``text``: personal data
    never leaves in an export), streamed in batches; how many rows."""
    rows = 0
    with pq.ParquetWriter(path, COMMENTS, compression="zstd") as writer:
        result = session.execute(
            select(FeedbackItem.id, FeedbackItem.occurred_at, FeedbackItem.channel, FeedbackItem.masked_text)
            .where(FeedbackItem.workspace_id == workspace_id)
            .order_by(FeedbackItem.id)
            .execution_options(yield_per=batch)
        )
        for part in result.partitions():
            columns = list(zip(*part, strict=True))
            writer.write_batch(pa.RecordBatch.from_arrays([pa.array(c) for c in columns], schema=COMMENTS))
            rows += len(part)
        if not rows:
            writer.write_batch(pa.RecordBatch.from_pylist([], schema=COMMENTS))
    return rows


@lru_cache(maxsize=4)
def _taxonomy(raw: str | None) -> Taxonomy:
    return parse_taxonomy(raw) if raw else shipped_taxonomy()


def analyse_frame(frame: pd.DataFrame, taxonomy_yaml: str | None = None) -> pd.DataFrame:
    """One batch of comments (columns ``id`` and ``text``) through the whole pipeline, as ``service`` analyses a
    stored item: the masked and analysis copies, the language, then sentiment and themes."""
    made = [service.copies(str(text)) for text in frame["text"]]
    analyses = service.analyse_texts(_taxonomy(taxonomy_yaml), [copy.analysis for copy in made])
    return pd.DataFrame({
        "id": frame["id"].astype("int64").to_numpy(),
        "language": [copy.language for copy in made],
        "sentiment": [analysis.sentiment for analysis in analyses],
        "score": [float(analysis.score) for analysis in analyses],
        "themes": [";".join(f"{m.theme}:{m.sentiment}" for m in sorted(analysis.mentions, key=lambda m: m.theme))
                   for analysis in analyses],
    })  # fmt: skip


def _batches(frames: Iterator[pd.DataFrame], taxonomy_yaml: str | None) -> Iterator[pd.DataFrame]:
    for frame in frames:
        yield analyse_frame(frame, taxonomy_yaml)


def analyse_parquet(
    source: Path,
    out: Path,
    *,
    engine: str = "local",
    taxonomy_yaml: str | None = None,
    batch: int = BATCH,
    master: str = "local[2]",
) -> int:
    """Score every comment of ``source`` (a Parquet file or folder with ``id`` and ``text``) into the Parquet file
    ``out`` (``OUTPUT``); how many. ``local`` reads and writes batch by batch; ``spark`` runs ``analyse_frame``
    over each partition's Arrow batches (``mapInPandas``) and the result is copied into ``out`` batch by batch."""
    if engine not in ENGINES:
        raise PatronError("feedback.bad_engine", engine=engine, choices=list(ENGINES))
    if not source.exists():
        raise PatronError("feedback.parquet_missing", path=str(source))
    if engine == "local":
        dataset = ds.dataset(source, format="parquet")
        frames = (b.to_pandas() for b in dataset.to_batches(columns=["id", "text"], batch_size=batch))
        return _write(out, (pa.RecordBatch.from_pandas(f, schema=OUTPUT, preserve_index=False)
                            for f in _batches(frames, taxonomy_yaml)))  # fmt: skip
    from patron.metrics import spark

    session = spark.session(master)
    session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch))
    comments = session.read.parquet(str(source)).select("id", "text")
    scored = comments.mapInPandas(lambda frames: _batches(frames, taxonomy_yaml), schema=SPARK_SCHEMA)
    folder = Path(tempfile.mkdtemp(prefix="patron-scored-"))
    try:
        scored.write.mode("overwrite").parquet(str(folder / "scored"))
        written = ds.dataset(folder / "scored", format="parquet")
        return _write(
            out, (b.select(OUTPUT.names).cast(OUTPUT) for b in written.to_batches(batch_size=batch))
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write(out: Path, batches: Iterator[pa.RecordBatch]) -> int:
    rows = 0
    with pq.ParquetWriter(out, OUTPUT, compression="zstd") as writer:
        for part in batches:
            writer.write_batch(part)
            rows += part.num_rows
        if not rows:
            writer.write_batch(pa.RecordBatch.from_pylist([], schema=OUTPUT))
    return rows
