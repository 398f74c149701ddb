"""NPS + CSAT + CES by segment × month over N synthetic answers: Patron's Ibis metrics on DuckDB (a database
file, and the Parquet files ``patron export parquet`` writes) and on SQLite, next to the pandas groupby an
analyst would otherwise write, in the same run.

    python bench/metrics.py [--duckdb 100000000] [--pandas 10000000 30000000] [--sqlite 10000000] [--runs 5]

The answers are generated inside each database (a fact table, as an export writes it: one row per answer
with its segment and time), so generation is not timed. pandas gets the same rows as a DataFrame. Each
contender runs once to warm up, then ``--runs`` times; the median is printed. Peak RSS of this process is
printed after each step (the DuckDB engine streams; pandas holds everything).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import ibis  # noqa: E402
import pandas as pd  # noqa: E402

from patron.metrics.engine import MetricQuery, metric, overview  # noqa: E402
from patron.metrics.export import open_parquet  # noqa: E402

#: Answers in the order ``patron export parquet`` writes them (type, segment, time: see metrics/export.py).
GENERATE = """
SET threads = 2;
SET enable_progress_bar = false;
CREATE OR REPLACE TABLE answer_facts AS
SELECT *, completed_at::DATE AS day FROM (
SELECT 1::BIGINT AS workspace_id,
       CASE i % 3 WHEN 0 THEN 'nps' WHEN 1 THEN 'csat' ELSE 'ces' END AS question_type,
       (CASE i % 3 WHEN 0 THEN hash(i * 13) % 11 WHEN 1 THEN 1 + hash(i * 17) % 5 ELSE 1 + hash(i * 19) % 7 END)::BIGINT AS score,
       (CASE i % 3 WHEN 0 THEN 0 ELSE 1 END)::BIGINT AS scale_min,
       (CASE i % 3 WHEN 0 THEN 10 WHEN 1 THEN 5 ELSE 7 END)::BIGINT AS scale_max,
       TIMESTAMP '2024-01-01' + to_days((hash(i * 7) % 730)::INTEGER) + to_seconds((hash(i * 11) % 86400)::BIGINT) AS completed_at,
       'post_purchase' AS touchpoint, 'email' AS channel, 'zh-Hant' AS locale,
       ['vip', 'member', 'new', 'lapsed', 'staff'][(1 + hash(i) % 5)::BIGINT] AS segment,
       'city' AS city, 'survey' AS survey
FROM range({n}) t(i)
) ORDER BY question_type, segment, completed_at;
COPY answer_facts TO '{parquet}' (FORMAT parquet, COMPRESSION zstd);
-- an export folder also holds the orders (none here: these metrics read only the answers)
COPY (SELECT 1::BIGINT AS workspace_id, 1::BIGINT AS customer_id WHERE false) TO '{orders}' (FORMAT parquet);
"""
#: The same answers in SQLite (no hash(): a multiplicative hash of the row number instead).
GENERATE_SQLITE = """
CREATE TABLE answer_facts (workspace_id INTEGER, question_type TEXT, score INTEGER, scale_min INTEGER,
                           scale_max INTEGER, completed_at TIMESTAMP,
                           touchpoint TEXT, channel TEXT, locale TEXT, segment TEXT, city TEXT, survey TEXT);
INSERT INTO answer_facts
WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < {last})
SELECT 1 AS workspace_id,
       CASE i % 3 WHEN 0 THEN 'nps' WHEN 1 THEN 'csat' ELSE 'ces' END AS question_type,
       CASE i % 3 WHEN 0 THEN (i * 2654435761) % 11 WHEN 1 THEN 1 + (i * 2246822519) % 5
                  ELSE 1 + (i * 3266489917) % 7 END AS score,
       CASE i % 3 WHEN 0 THEN 0 ELSE 1 END AS scale_min, CASE i % 3 WHEN 0 THEN 10 WHEN 1 THEN 5 ELSE 7 END AS scale_max,
       datetime('2024-01-01', '+' || ((i * 668265263) % 730) || ' days') AS completed_at,
       'post_purchase' AS touchpoint, 'email' AS channel, 'zh-Hant' AS locale,
       CASE (i * 374761393) % 5 WHEN 0 THEN 'vip' WHEN 1 THEN 'member' WHEN 2 THEN 'new' WHEN 3 THEN 'lapsed'
                                ELSE 'staff' END AS segment,
       'city' AS city, 'survey' AS survey
FROM r
"""
QUERIES = [MetricQuery(name, by=("segment",), grain="month") for name in ("nps", "csat", "ces")]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_seconds(run: Callable[[], object], runs: int) -> tuple[float, object]:
    """One warm-up (catalog, definition cache, file cache), then the median of ``runs`` timed calls."""
    result = run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def together(con: ibis.BaseBackend) -> list[list[dict[str, object]]]:
    """The three metrics in one pass, as the dashboard asks for them."""
    results = overview(con, 1, QUERIES[0])
    return [results[q.metric] for q in QUERIES]


def separately(con: ibis.BaseBackend) -> None:
    for query in QUERIES:
        metric(con, 1, query)


def report(label: str, answers: int, seconds: float, note: str = "") -> None:
    print(f"{label:<34}{answers:>14,}{seconds:>10.2f}{rss_mb():>8.0f} MB  {note}", flush=True)


def pandas_metrics(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """What a competent analyst writes: vectorised flags, then one groupby per metric (no Python lambdas)."""
    month = frame["completed_at"].dt.to_period("M")
    score = frame["score"]
    flags = frame[["question_type", "segment"]].assign(
        month=month,
        score=score,
        promoter=score >= 9,
        detractor=score <= 6,
        satisfied=score >= 4,
        square=score * score,
    )
    out = {}
    keys = ["segment", "month"]
    out["nps"] = (
        flags[flags["question_type"] == "nps"].groupby(keys)[["promoter", "detractor"]].agg(["sum", "count"])
    )
    out["csat"] = flags[flags["question_type"] == "csat"].groupby(keys)["satisfied"].agg(["sum", "count"])
    out["ces"] = (
        flags[flags["question_type"] == "ces"].groupby(keys)[["score", "square"]].agg(["sum", "count"])
    )
    return out


def generate(folder: Path, answers: int) -> Path:
    """``folder/facts.duckdb`` and ``folder/export/answer_facts.parquet`` with the same answers, written by a
    child process, so that the memory generation takes is not counted as the engines' peak."""
    (folder / "export").mkdir(parents=True)
    script = GENERATE.format(
        n=answers,
        parquet=folder / "export" / "answer_facts.parquet",
        orders=folder / "export" / "orders.parquet",
    )
    code = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute(sys.argv[2])"
    subprocess.run([sys.executable, "-c", code, str(folder / "facts.duckdb"), script], check=True)
    return folder


def compare_with_pandas(folder: Path, answers: int, runs: int) -> None:
    """Patron and the pandas groupby on the same answers; both must count the same promoters."""
    con = ibis.duckdb.connect(str(folder / "facts.duckdb"), threads=2, read_only=True)
    patron_seconds, patron_result = median_seconds(lambda: together(con), runs)
    results: list[list[dict[str, object]]] = patron_result  # type: ignore[assignment]
    report("Patron on DuckDB", answers, patron_seconds)
    frame = con.con.execute("SELECT question_type, score, completed_at, segment FROM answer_facts").df()
    pandas_seconds, pandas_result = median_seconds(lambda: pandas_metrics(frame), runs)
    expected: dict[str, pd.DataFrame] = pandas_result  # type: ignore[assignment]
    report(
        "pandas groupby", answers, pandas_seconds, f"Patron is {pandas_seconds / patron_seconds:.2f}× faster"
    )
    promoters = sum(int(row["promoters"]) for row in results[0])  # type: ignore[call-overload]
    assert promoters == int(expected["nps"][("promoter", "sum")].sum()), "Patron and pandas disagree"
    print(f"  same promoters counted by both: {promoters:,}")
    shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duckdb", type=int, default=100_000_000)
    parser.add_argument(
        "--pandas",
        type=int,
        nargs="+",
        default=[10_000_000, 30_000_000],
        help="the sizes compared with pandas",
    )
    parser.add_argument("--sqlite", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="patron-metrics-bench-"))
    big = generate(work / "big", args.duckdb)
    print(f"{'engine':<34}{'answers':>14}{'seconds':>10}{'peak RSS':>11}")
    # A database file, as an analytical copy would be: compressed on disk, so memory stays bounded at 100M.
    con = ibis.duckdb.connect(str(big / "facts.duckdb"), threads=2, read_only=True)
    report("Patron on DuckDB (one pass)", args.duckdb, median_seconds(lambda: together(con), args.runs)[0])
    report(
        "Patron on DuckDB (three queries)", args.duckdb, median_seconds(lambda: separately(con), args.runs)[0]
    )
    parquet = open_parquet(big / "export")
    parquet.raw_sql("SET threads = 2")
    report(
        "Patron on DuckDB over Parquet", args.duckdb, median_seconds(lambda: together(parquet), args.runs)[0]
    )
    shutil.rmtree(big)

    for size in args.pandas:
        compare_with_pandas(generate(work / f"pandas-{size}", size), size, args.runs)

    path = work / "facts.db"
    lite = sqlite3.connect(path)
    lite.executescript(GENERATE_SQLITE.format(last=args.sqlite - 1))
    lite.commit()
    lite.close()
    seconds = median_seconds(lambda: together(ibis.sqlite.connect(path)), args.runs)[0]
    report("Patron on SQLite", args.sqlite, seconds)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
