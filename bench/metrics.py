"""NPS + CSAT + CES by segment × month over N synthetic answers: Patron's Ibis metrics on DuckDB (and
SQLite) next to the pandas groupby an analyst would otherwise write, in the same run.

    python bench/metrics.py [--duckdb 100000000] [--pandas 10000000] [--sqlite 1000000]

The answers are generated inside each database (a fact table, as an export writes it: one row per answer
with its segment and time), so generation is not timed. pandas gets the same rows as a DataFrame. Peak RSS
of this process is printed after each step (the DuckDB engine streams; pandas holds everything).
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import ibis  # noqa: E402
import pandas as pd  # noqa: E402

from patron.metrics.engine import MetricQuery, metric, overview  # noqa: E402

GENERATE = """
CREATE OR REPLACE TABLE answer_facts AS
SELECT 1::BIGINT AS workspace_id,
       CASE i % 3 WHEN 0 THEN 'nps' WHEN 1 THEN 'csat' ELSE 'ces' END AS question_type,
       (CASE i % 3 WHEN 0 THEN hash(i * 13) % 11 WHEN 1 THEN 1 + hash(i * 17) % 5 ELSE 1 + hash(i * 19) % 7 END)::BIGINT AS score,
       TIMESTAMP '2024-01-01' + to_days((hash(i * 7) % 730)::INTEGER) AS completed_at,
       'post_purchase' AS touchpoint, 'email' AS channel, 'zh-Hant' AS locale,
       ['vip', 'member', 'new', 'lapsed', 'staff'][(1 + hash(i) % 5)::BIGINT] AS segment,
       'city' AS city, 'survey' AS survey
FROM range({n}) t(i)
"""
QUERIES = [MetricQuery(name, by=("segment",), grain="month") for name in ("nps", "csat", "ces")]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_patron(con: ibis.BaseBackend) -> tuple[float, list[list[dict[str, object]]]]:
    """The three metrics in one pass, as the dashboard asks for them."""
    started = time.perf_counter()
    together = overview(con, 1, QUERIES[0])
    return time.perf_counter() - started, [together[q.metric] for q in QUERIES]


def time_separately(con: ibis.BaseBackend) -> float:
    started = time.perf_counter()
    for query in QUERIES:
        metric(con, 1, query)
    return time.perf_counter() - started


def pandas_metrics(frame: pd.DataFrame) -> tuple[float, dict[str, pd.DataFrame]]:
    """What a competent analyst writes: vectorised flags, then one groupby per metric (no Python lambdas)."""
    started = time.perf_counter()
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
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duckdb", type=int, default=100_000_000)
    parser.add_argument("--pandas", type=int, default=10_000_000, help="the size compared with pandas")
    parser.add_argument("--sqlite", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"{'engine':<22}{'answers':>14}{'seconds':>10}{'peak RSS':>11}")
    work = Path(tempfile.mkdtemp(prefix="patron-metrics-bench-"))
    # A database file, as an analytical copy would be: compressed on disk, so memory stays bounded at 100M.
    con = ibis.duckdb.connect(
        str(work / "facts.duckdb"), threads=2
    )  # ibis 12 cannot adopt an outside duckdb 2 connection
    raw = con.con
    raw.execute(GENERATE.format(n=args.duckdb))
    time_patron(con)  # warm the catalog and the definition cache
    seconds, _ = time_patron(con)
    print(f"{'Patron on DuckDB':<22}{args.duckdb:>14,}{seconds:>10.2f}{rss_mb():>8.0f} MB")
    print(f"{'  (three queries)':<22}{args.duckdb:>14,}{time_separately(con):>10.2f}{rss_mb():>8.0f} MB")

    raw.execute(GENERATE.format(n=args.pandas))
    patron_seconds, results = time_patron(con)
    frame = raw.execute("SELECT question_type, score, completed_at, segment FROM answer_facts").df()
    pandas_seconds, expected = pandas_metrics(frame)
    print(f"{'Patron on DuckDB':<22}{args.pandas:>14,}{patron_seconds:>10.2f}{rss_mb():>8.0f} MB")
    print(f"{'pandas groupby':<22}{args.pandas:>14,}{pandas_seconds:>10.2f}{rss_mb():>8.0f} MB"
          f"   Patron is {pandas_seconds / patron_seconds:.1f}× faster")  # fmt: skip
    promoters = sum(int(r["promoters"]) for r in results[0])  # type: ignore[call-overload]
    assert promoters == int(expected["nps"][("promoter", "sum")].sum()), "Patron and pandas disagree"
    print(f"  same promoters counted by both: {promoters:,}")
    del frame, expected

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "facts.db"
        raw.execute(GENERATE.format(n=args.sqlite))
        raw.execute(f"COPY answer_facts TO '{folder}/facts.csv' (HEADER)")
        lite = sqlite3.connect(path)
        pd.read_csv(f"{folder}/facts.csv", parse_dates=["completed_at"]).to_sql(
            "answer_facts", lite, index=False, chunksize=100_000
        )
        lite.close()
        seconds, _ = time_patron(ibis.sqlite.connect(path))
        print(f"{'Patron on SQLite':<22}{args.sqlite:>14,}{seconds:>10.2f}{rss_mb():>8.0f} MB")


if __name__ == "__main__":
    main()
