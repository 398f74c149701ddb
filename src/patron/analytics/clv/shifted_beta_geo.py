"""Shifted-beta-geometric (sBG) model of contract renewals (Fader & Hardie 2007, "How to project customer
retention", Journal of Interactive Marketing 21(1)).

At the end of each period an active customer cancels with probability θ, θ ~ Beta(α, β) across customers:

    P(T = t) = B(α+1, β+t−1) / B(α, β)      (cancels at the end of period t)
    S(t)     = B(α, β+t) / B(α, β)          (still a customer after t periods)
    r_t      = (β+t−1) / (α+β+t−1)          (retention rate from period t−1 to t: rises with t, because
                                             the customers likely to leave leave first)

The input is one row per customer: ``T`` periods as a customer (its lifetime when it cancelled, the periods
observed so far when it did not) and ``churned`` (1 or 0). ``from_survivors`` builds it from cohort counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy.special import betaln

from patron.analytics.clv.base import Array, CLVModel, first_bad
from patron.core.errors import PatronError

CONTRACT_COLUMNS = ("customer_id", "T", "churned")


def from_survivors(survivors: Sequence[int]) -> pd.DataFrame:
    """Customer rows from a cohort's count at the start and after each period (1000, 631, 468, …)."""
    counts = [int(n) for n in survivors]
    if len(counts) < 2 or any(later > earlier for earlier, later in pairwise(counts)):
        raise PatronError("clv.bad_survivors", survivors=list(counts))
    periods: list[int] = []
    churned: list[int] = []
    for t in range(1, len(counts)):
        lost = counts[t - 1] - counts[t]
        periods += [t] * lost
        churned += [1] * lost
    periods += [len(counts) - 1] * counts[-1]
    churned += [0] * counts[-1]
    return pd.DataFrame({"customer_id": np.arange(1, len(periods) + 1), "T": periods, "churned": churned})


class ShiftedBetaGeoModel(CLVModel):
    """sBG: each period a customer cancels with its own probability θ ~ Beta(α, β)."""

    name = "sBG"
    required_columns = CONTRACT_COLUMNS
    likelihood_columns = ("T", "churned")
    param_names = ("alpha", "beta")
    initial = (1.0, 1.0)

    def __init__(self, data: pd.DataFrame) -> None:
        super().__init__(data)
        periods = data["T"].to_numpy(dtype=np.float64)
        churned = data["churned"].to_numpy(dtype=np.float64)
        for code, mask in (
            ("clv.periods_not_whole", (periods != np.round(periods)) | (periods < 1)),
            ("clv.churned_not_flag", ~np.isin(churned, (0.0, 1.0))),
        ):
            if mask.any():
                count, customer = first_bad(data, mask)
                raise PatronError(code, model=self.name, count=count, customer=customer)

    def _fit_data(self) -> pd.DataFrame:
        churned = int(self.data["churned"].to_numpy().sum())
        if churned == 0 or churned == len(self.data):
            raise PatronError("clv.no_variation", model=self.name, churned=churned, customers=len(self.data))
        return self.data

    def _loglik(self, p: Array, c: dict[str, Array]) -> Array:
        alpha, beta = p
        t, churned = c["T"], c["churned"]
        cancels = betaln(alpha + 1, beta + t - 1)
        stays = betaln(alpha, beta + t)
        return np.asarray(np.where(churned > 0, cancels, stays) - betaln(alpha, beta), dtype=np.float64)

    def expected_retention_rate(self, periods: int) -> pd.DataFrame:
        """r_t for t = 1..periods: the share of customers active in t−1 who renew for t."""
        alpha, beta = self._p()
        t = np.arange(1, _whole(periods) + 1, dtype=np.float64)
        return pd.DataFrame({"t": t.astype(int), "retention_rate": (beta + t - 1) / (alpha + beta + t - 1)})

    def expected_survival(self, periods: int) -> pd.DataFrame:
        """S(t) for t = 0..periods: the share of a new cohort still active after t periods."""
        alpha, beta = self._p()
        t = np.arange(0, _whole(periods) + 1, dtype=np.float64)
        return pd.DataFrame(
            {"t": t.astype(int), "survival": np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))}
        )

    def expected_probability_alive(
        self, data: pd.DataFrame | None = None, *, future_t: int = 1
    ) -> pd.DataFrame:
        """For each customer still active after T periods: P(still active after T + future_t) = S(T+k)/S(T);
        0 for customers who cancelled."""
        alpha, beta = self._p()
        frame = self._frame(data, CONTRACT_COLUMNS)
        t = frame["T"].to_numpy(dtype=np.float64)
        k = float(_whole(future_t))
        alive = np.exp(betaln(alpha, beta + t + k) - betaln(alpha, beta + t))
        return self._out(frame, "probability_alive", np.where(frame["churned"].to_numpy() > 0, 0.0, alive))


def _whole(periods: int) -> int:
    if isinstance(periods, bool) or not isinstance(periods, int | np.integer) or periods < 1:
        raise PatronError("clv.bad_horizon", horizon=str(periods))
    return int(periods)
