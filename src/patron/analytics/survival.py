"""Kaplan–Meier survival over data frames: the share of customers still active t days after their first
purchase, with customers whose story is not over yet (still active at the cut-off) counted as censored.

Pure functions (no database): ``churn_view`` builds the durations from orders, the dashboard draws the curves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def kaplan_meier(durations: Sequence[float] | np.ndarray, events: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """The product-limit estimate: one row per distinct time with at least one event or censoring —
    ``time``, ``at_risk`` (still observed just before it), ``events``, ``censored`` and ``survival`` after it.
    A customer censored at the same time as an event is counted at risk for that event (the usual rule)."""
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=int)
    if d.shape != e.shape:
        raise ValueError("durations and events differ in length")
    if len(d) == 0:
        return pd.DataFrame({"time": [], "at_risk": [], "events": [], "censored": [], "survival": []})
    times, inverse = np.unique(d, return_inverse=True)
    deaths = np.bincount(inverse, weights=e, minlength=len(times)).astype(int)
    total = np.bincount(inverse, minlength=len(times))
    at_risk = len(d) - np.concatenate(([0], np.cumsum(total)[:-1]))
    survival = np.cumprod(1.0 - deaths / at_risk)
    return pd.DataFrame(
        {
            "time": times,
            "at_risk": at_risk,
            "events": deaths,
            "censored": total - deaths,
            "survival": survival,
        }
    )


def survival_at(curve: pd.DataFrame, times: Sequence[float]) -> list[float | None]:
    """The curve's survival at each of ``times`` (a step function: the value after the last time ≤ t; 1 before
    the first event); past the last observed time None (the estimate says nothing there) unless it
    reached 0."""
    if curve.empty:
        return [None for _ in times]
    steps = curve["time"].to_numpy()
    values = curve["survival"].to_numpy()
    last = float(steps[-1])
    out: list[float | None] = []
    for t in times:
        if t > last:
            out.append(0.0 if values[-1] == 0 else None)
            continue
        i = int(np.searchsorted(steps, t, side="right"))
        out.append(1.0 if i == 0 else float(values[i - 1]))
    return out
