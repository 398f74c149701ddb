"""BG/NBD, Pareto/NBD and Gamma-Gamma fits on N customers resampled from CDNOW, beside the ``lifetimes``
package in the same run.

    python bench/clv.py [--customers 1000000] [--runs 5] [--lifetimes-pareto 100000] [--skip-lifetimes]

The customers are drawn with replacement (seeded) from the 2,357 CDNOW calibration summaries shipped in
tests/analytics/data (weeks), so the maximum-likelihood estimates are close to the published ones. Patron's
times include compressing the frame (customers with the same (frequency, recency, T) share one likelihood
term); lifetimes fits the rows as given, as its users call it. Each of Patron's fits runs once to warm up,
then ``--runs`` times (median). lifetimes runs once per model: BG/NBD and Gamma-Gamma on all N, Pareto/NBD on
the first ``--lifetimes-pareto`` customers (about 400 s at 1M here), compared with Patron's fit of the same
rows. Peak RSS is printed after Patron's fits and again after lifetimes'.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from patron.analytics.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel  # noqa: E402

PUBLISHED = {
    "BG/NBD": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "Pareto/NBD": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
    "Gamma-Gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
}


def cdnow() -> pd.DataFrame:
    raw = pd.read_csv(ROOT / "tests" / "analytics" / "data" / "cdnow_summary.csv")
    x = raw["frequency"].to_numpy()
    return pd.DataFrame({
        "customer_id": raw["customer_id"], "frequency": x, "recency": raw["recency_days"] / 7,
        "T": raw["T_days"] / 7,
        "monetary_value": np.where(x > 0, raw["repeat_spend_cents"] / 100 / np.maximum(x, 1), 0.0),
    })  # fmt: skip


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(call: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median wall time of ``runs`` calls after one to warm up; the CPU time of the same calls is kept in
    ``CPU`` (on a shared machine wall time also counts other processes' turns)."""
    result = call()
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = call()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU.append(statistics.median(cpu))
    return statistics.median(times), result


CPU: list[float] = []


def worst_relative(ours: dict[str, float], theirs: dict[str, float]) -> float:
    return max(abs(ours[k] - theirs[k]) / abs(theirs[k]) for k in ours)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lifetimes-pareto", type=int, default=100_000)
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()

    base = cdnow()
    print("CDNOW (2,357 customers) against the published estimates:")
    for model in (BetaGeoModel, ParetoNBDModel, GammaGammaModel):
        fitted = model(base).fit()
        shown = {k: round(v, 4) for k, v in fitted.params.items()}
        print(f"  {model.name:12} {shown}  published {PUBLISHED[model.name]}")

    rng = np.random.default_rng(2026)
    data = base.iloc[rng.integers(0, len(base), args.customers)].reset_index(drop=True)
    data["customer_id"] = np.arange(args.customers)
    print(
        f"\n{args.customers:,} customers resampled from CDNOW; {len(data.drop_duplicates(['frequency', 'recency', 'T'])):,} distinct (frequency, recency, T)"
    )
    ours: dict[str, tuple[float, dict[str, float]]] = {}
    for model in (BetaGeoModel, ParetoNBDModel, GammaGammaModel):
        seconds, fitted = timed(lambda m=model: m(data).fit(), args.runs)
        ours[model.name] = (seconds, fitted.params)
        shown = {k: round(v, 4) for k, v in fitted.params.items()}
        print(f"  Patron {model.name:12} {seconds:7.3f} s (CPU {CPU[-1]:.3f} s)  {shown}")
    total = sum(s for s, _ in ours.values())
    print(
        f"  Patron, all three fits: {total:.3f} s, CPU {sum(CPU):.3f} s (target ≤ 1 s); peak RSS {peak_mb():,.0f} MB"
    )
    print(f"  load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.skip_lifetimes:
        return

    import lifetimes

    x, t_x, big_t = data["frequency"], data["recency"], data["T"]
    repeat = data[data["frequency"] > 0]
    runs: list[tuple[str, int, Callable[[], Any], float, dict[str, float]]] = [
        ("BG/NBD", len(data), lambda: lifetimes.BetaGeoFitter().fit(x, t_x, big_t), *ours["BG/NBD"]),
        ("Gamma-Gamma", len(repeat), lambda: lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"]),
         *ours["Gamma-Gamma"]),
    ]  # fmt: skip
    small = data.head(args.lifetimes_pareto)
    np.random.seed(0)  # lifetimes' Pareto/NBD starts Nelder-Mead at a random point
    seconds_small, pareto_small = timed(lambda: ParetoNBDModel(small).fit(), args.runs)
    runs.append(("Pareto/NBD", len(small),
                 lambda: lifetimes.ParetoNBDFitter().fit(small["frequency"], small["recency"], small["T"]),
                 seconds_small, pareto_small.params))  # fmt: skip
    print("\nlifetimes 0.11.3 (one run each):")
    for name, rows, call, our_seconds, our_params in runs:
        start = time.perf_counter()
        fitted = call()
        seconds = time.perf_counter() - start
        theirs = {k: float(v) for k, v in fitted.params_.items()}
        print(f"  {name:12} {rows:>9,} rows {seconds:8.2f} s  Patron {our_seconds:.3f} s: {seconds / our_seconds:7.0f}x;"
              f" worst relative parameter difference {worst_relative(our_params, theirs):.1e}")  # fmt: skip
    print(f"  peak RSS after lifetimes {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
