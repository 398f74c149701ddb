"""Write the CDNOW test files under tests/analytics/data from the 1/10th sample (../shared/datasets/cdnow).

    python tools/cdnow_test_data.py /work/shared/datasets/cdnow/CDNOW_sample.txt

``cdnow_summary.csv``: one row per customer of the 2,357, calibration 1997-01-01..1997-09-30 (39 weeks) and
holdout 1997-10-01..1998-06-30, purchases on one day counted as one (Fader, Hardie & Lee 2005). Times are
whole days and spend whole cents, so nothing is rounded: ``repeat_spend`` is the calibration spend after the
first purchase day (the published Gamma-Gamma fit uses its mean per repeat purchase, unrounded).
``cdnow_orders_excerpt.csv``: the raw lines of the first 60 customers, to test the summary itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "tests" / "analytics" / "data"
CALIBRATION_END = pd.Timestamp("1997-09-30")
HOLDOUT_END = pd.Timestamp("1998-06-30")


def main(sample: str) -> None:
    raw = pd.read_csv(sample, sep=r"\s+", header=None, names=["master_id", "customer_id", "date", "cds", "dollars"],
                      dtype={"date": str})  # fmt: skip
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    raw["cents"] = (raw["dollars"] * 100).round().astype("int64")
    days = raw.groupby(["customer_id", "date"], as_index=False)["cents"].sum()
    calibration = days[days["date"] <= CALIBRATION_END]
    holdout = days[(days["date"] > CALIBRATION_END) & (days["date"] <= HOLDOUT_END)]
    by = calibration.groupby("customer_id")
    first, last = by["date"].min(), by["date"].max()
    first_spend = calibration.sort_values("date").groupby("customer_id")["cents"].first()
    summary = pd.DataFrame({
        "frequency": by.size() - 1,
        "recency_days": (last - first).dt.days,
        "T_days": (CALIBRATION_END - first).dt.days,
        "repeat_spend_cents": by["cents"].sum() - first_spend,
        "frequency_holdout": holdout.groupby("customer_id").size(),
    }).fillna({"frequency_holdout": 0}).astype("int64")  # fmt: skip
    summary.index.name = "customer_id"
    summary.to_csv(OUT / "cdnow_summary.csv")
    excerpt = raw[raw["customer_id"] <= 60]
    excerpt.assign(date=excerpt["date"].dt.strftime("%Y-%m-%d"))[["customer_id", "date", "dollars"]].to_csv(
        OUT / "cdnow_orders_excerpt.csv", index=False
    )


if __name__ == "__main__":
    main(sys.argv[1])
