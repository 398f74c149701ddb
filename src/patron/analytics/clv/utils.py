"""Customer lifetime value from a purchase model and expected spend: discounted expected cash flow.

The formula is the one of lifetimes' ``customer_lifetime_value`` (so results can be compared): the horizon is
cut into months; each month's expected purchases are the model's cumulative expectation at its end minus
that at its start, times the customer's expected spend, discounted at ``discount_rate`` per month:

    CLV = Σ_{k=1}^{months} spend · (E[X(k·f)] − E[X((k−1)·f)]) / (1 + d)^k

where f is the number of model time units in a month (30 days, 4.345 weeks, 1 month).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from patron.analytics.clv.base import TransactionModel, require_columns
from patron.core.errors import PatronError

#: model time units per month, as lifetimes counts them
UNITS_PER_MONTH = {"D": 30.0, "W": 4.345, "M": 1.0}


def customer_lifetime_value(
    transaction_model: TransactionModel,
    data: pd.DataFrame,
    *,
    expected_spend: pd.DataFrame,
    months: int = 12,
    discount_rate: float = 0.01,
    time_unit: str = "D",
) -> pd.DataFrame:
    """CLV per customer over ``months`` (whole months, at least 1); ``expected_spend`` has ``customer_id``
    and ``expected_spend`` (``GammaGammaModel.expected_customer_spend``), in the same order as ``data``."""
    if time_unit not in UNITS_PER_MONTH:
        raise PatronError("clv.unknown_time_unit", unit=time_unit, choices=list(UNITS_PER_MONTH))
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise PatronError("clv.bad_horizon", horizon=str(months))
    if not (np.isfinite(discount_rate) and discount_rate > -1):
        raise PatronError("clv.bad_discount_rate", rate=str(discount_rate))
    require_columns(expected_spend, ("customer_id", "expected_spend"), "CLV")
    if len(expected_spend) != len(data) or not np.array_equal(
        expected_spend["customer_id"].to_numpy(), data["customer_id"].to_numpy()
    ):
        raise PatronError("clv.customers_differ")
    spend = expected_spend["expected_spend"].to_numpy(dtype=np.float64)
    factor = UNITS_PER_MONTH[time_unit]
    value = np.zeros(len(data))
    previous = np.zeros(len(data))
    curve = transaction_model.purchase_curve(data, [month * factor for month in range(1, int(months) + 1)])
    for month in range(1, int(months) + 1):
        cumulative = curve[:, month - 1]
        value += spend * (cumulative - previous) / (1 + discount_rate) ** month
        previous = cumulative
    return pd.DataFrame({"customer_id": data["customer_id"].to_numpy(), "clv": value})
