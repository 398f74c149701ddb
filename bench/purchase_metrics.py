"""Monthly retention and the cohort matrix in a workspace's calendar, over CDNOW (69,659 purchases by 23,570
customers, 1997-98): Patron's Ibis expressions on SQLite and DuckDB next to the pandas an analyst would
otherwise write (convert to the zone, ``to_period("M")``, group), in the same run.

    python bench/purchase_metrics.py [--file CDNOW_master.txt] [--copies 1] [--zones Asia/Taipei UTC] [--runs 3]

The dates are calendar days, stored as the UTC instant of midnight in the zone (what an import of the file
into a workspace of that zone stores). ``--copies k`` repeats every customer k times under new ids. Each
contender runs once to warm up, then ``--runs`` times; the median is printed. pandas' numbers must equal
Patron's (active customers per month and every cohort's size).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import ibis  # noqa: E402
import pandas as pd  # noqa: E402

from patron.metrics import commerce  # noqa: E402

DEFAULT_FILE = Path("/work/shared/datasets/cdnow/CDNOW_master.txt")


def orders(path: Path, zone: str, copies: int) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": "int64", "date": "string"})
    local = pd.to_datetime(raw["date"], format="%Y%m%d")
    frame = pd.DataFrame({
        "workspace_id": 1, "customer_id": raw["customer_id"],
        "ordered_at": local.dt.tz_localize(zone).dt.tz_convert("UTC").dt.tz_localize(None),
        "status": "completed", "total_minor": (raw["dollar_value"] * 100).round().astype("int64"),
    })  # fmt: skip
    step = int(frame["customer_id"].max()) + 1
    return pd.concat([frame.assign(customer_id=frame["customer_id"] + k * step) for k in range(copies)])


def by_pandas(frame: pd.DataFrame, zone: str) -> tuple[dict[Any, int], dict[Any, int]]:
    """Active customers per local month, and the cohort sizes (the matrix needs both and little more)."""
    month = (
        frame["ordered_at"].dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None).dt.to_period("M")
    )
    active = pd.DataFrame({"customer_id": frame["customer_id"], "month": month}).drop_duplicates()
    first = active.groupby("customer_id")["month"].transform("min")
    matrix = (
        active.assign(offset=(active["month"] - first).apply(lambda o: o.n)).groupby([first, "offset"]).size()
    )
    per_month = active.groupby("month").size()
    return ({p.start_time.date(): int(n) for p, n in per_month.items()},
            {p.start_time.date(): int(n) for (p, offset), n in matrix.items() if offset == 0})  # fmt: skip


def timed(action: Callable[[], Any], runs: int) -> tuple[float, Any]:
    result = action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--zones", nargs="+", default=["Asia/Taipei", "America/New_York", "UTC"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="patron-bench-"))
    for zone in args.zones:
        frame = orders(args.file, zone, args.copies)
        print(f"{zone}: {len(frame):,} purchases, {frame['customer_id'].nunique():,} customers")
        reference, (active, sizes) = timed(lambda: by_pandas(frame, zone), args.runs)  # noqa: B023
        print(f"  pandas                 {reference:6.2f} s  ({len(active)} months)")
        for name, con in (
            ("sqlite", ibis.sqlite.connect(folder / "orders.db")),
            ("duckdb", ibis.duckdb.connect()),
        ):
            con.create_table("orders", frame, overwrite=True)
            for metric in (commerce.retention, commerce.cohorts):
                seconds, rows = timed(lambda: metric(con, 1, zone=zone), args.runs)  # noqa: B023
                if metric is commerce.retention:
                    assert {r["period"]: r["customers_end"] for r in rows} == active, "pandas disagrees"
                else:
                    assert {r["cohort"]: r["size"] for r in rows} == sizes, "pandas disagrees"
                print(
                    f"  {name:7} {metric.__name__:10} {seconds:6.2f} s  ({seconds / reference:.2f}x pandas)"
                )


if __name__ == "__main__":
    main()
