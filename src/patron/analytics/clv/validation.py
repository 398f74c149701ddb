"""Holdout validation: fit on a calibration window, predict each customer's purchases in the holdout window
that follows, and compare with what they did (Fader, Hardie & Lee 2005, section 4).

- per customer: calibration frequency, actual and predicted holdout purchases;
- in aggregate: totals, the mean absolute error per customer, and the calibration-plot data: customers
  grouped by their number of calibration repeat purchases (the last group "n or more"), with the mean actual
  and predicted holdout purchases of each group. A model that fits lies on the diagonal; one that
  over-predicts for heavy buyers bends away at the right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from patron.analytics.clv.base import TRANSACTION_COLUMNS, TransactionModel, require_columns
from patron.core.errors import PatronError

HOLDOUT_COLUMNS = (*TRANSACTION_COLUMNS, "frequency_holdout", "duration_holdout")


@dataclass(frozen=True)
class HoldoutReport:
    per_customer: pd.DataFrame
    by_frequency: pd.DataFrame
    actual_total: float
    predicted_total: float
    mean_absolute_error: float

    @property
    def total_error(self) -> float:
        """(predicted − actual) / actual over all customers."""
        return (
            (self.predicted_total - self.actual_total) / self.actual_total
            if self.actual_total
            else float("nan")
        )


def holdout_validation(
    model: TransactionModel, data: pd.DataFrame, *, max_frequency: int = 7
) -> HoldoutReport:
    """Compare ``model`` (fitted on the calibration columns of ``data``, e.g. ``rfm_train_test_split``) with
    the holdout purchases; groups of the calibration plot are 0, 1, …, ``max_frequency`` or more."""
    require_columns(data, HOLDOUT_COLUMNS, model.name)
    durations = data["duration_holdout"].to_numpy(dtype=np.float64)
    duration = float(durations[0]) if len(durations) else 0.0
    predicted = model.expected_purchases(data, future_t=duration)["expected_purchases"].to_numpy()
    unusable = int(np.count_nonzero(~np.isfinite(predicted)))
    if unusable:  # parameters at the edge of their range: say so rather than report a NaN error
        raise PatronError("clv.prediction_not_finite", model=model.name, customers=unusable)
    actual = data["frequency_holdout"].to_numpy(dtype=np.float64)
    frequency = data["frequency"].to_numpy()
    per_customer = pd.DataFrame({"customer_id": data["customer_id"].to_numpy(), "frequency": frequency,
                                 "actual": actual, "predicted": predicted})  # fmt: skip
    group = np.minimum(frequency, max_frequency)
    by = per_customer.assign(group=group).groupby("group", sort=True)
    by_frequency = pd.DataFrame({
        "frequency": by.size().index.astype(int), "customers": by.size().to_numpy(),
        "actual": by["actual"].mean().to_numpy(), "predicted": by["predicted"].mean().to_numpy(),
    })  # fmt: skip
    by_frequency["label"] = [f"{g}+" if g == max_frequency else str(g) for g in by_frequency["frequency"]]
    return HoldoutReport(
        per_customer=per_customer,
        by_frequency=by_frequency,
        actual_total=float(actual.sum()),
        predicted_total=float(predicted.sum()),
        mean_absolute_error=float(np.mean(np.abs(actual - predicted))) if len(actual) else float("nan"),
    )
