"""Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013,
"The Gamma-Gamma model of monetary value").

A customer's purchases have values z ~ Gamma(p, ν) with ν ~ Gamma(q, γ) across customers (γ is ``v`` here).
The mean value m of a customer's x repeat purchases has density (the likelihood, per customer)

    f(m | x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q m^(px−1) x^(px) / (γ + m x)^(px+q)

and the expected value of that customer's future purchases is (p (γ + m x)) / (p x + q − 1): a weighted
mean of the population mean pγ/(q−1) and the customer's own mean m. Only repeat buyers (x > 0) inform the
fit; spend is assumed independent of how often a customer buys (check it: docs/clv.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from patron.analytics.clv.base import Array, CLVModel, first_bad
from patron.core.errors import PatronError

SPEND_COLUMNS = ("customer_id", "frequency", "monetary_value")


class GammaGammaModel(CLVModel):
    """Spend per purchase: ``monetary_value`` is the mean value of a customer's repeat purchases."""

    name = "Gamma-Gamma"
    required_columns = SPEND_COLUMNS
    likelihood_columns = ("frequency", "monetary_value")
    param_names = ("p", "q", "v")
    initial = (1.0, 2.0, 1.0)

    def _fit_data(self) -> pd.DataFrame:
        repeat = self.data[self.data["frequency"].to_numpy() > 0]
        if repeat.empty:
            raise PatronError("clv.no_repeat_buyers", model=self.name, customers=len(self.data))
        free = repeat["monetary_value"].to_numpy(dtype=np.float64) <= 0
        if free.any():
            count, customer = first_bad(repeat, free)
            raise PatronError("clv.nonpositive_spend", model=self.name, count=count, customer=customer)
        return repeat

    def _initial(self, c: dict[str, Array], weights: Array) -> Array:
        mean = float(weights @ c["monetary_value"]) / float(weights.sum())
        return np.asarray([1.0, 2.0, max(mean, 1e-6)], dtype=np.float64)

    def _loglik(self, params: Array, c: dict[str, Array]) -> Array:
        p, q, v = params
        x, m = c["frequency"], c["monetary_value"]
        px = p * x
        return np.asarray(
            gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + m * x)
        )  # fmt: skip

    def _loglik_grad(self, params: Array, c: dict[str, Array]) -> Array:
        p, q, v = params
        x, m = c["frequency"], c["monetary_value"]
        px = p * x
        d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - np.log(v + m * x))
        d_q = digamma(px + q) - digamma(q) + np.log(v) - np.log(v + m * x)
        d_v = q / v - (px + q) / (v + m * x)
        return np.vstack([d_p, d_q, d_v])

    def expected_customer_spend(self, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """Expected value of each customer's future purchases; the population mean for one-time buyers."""
        p, q, v = self._p()
        frame = self._frame(data, SPEND_COLUMNS)
        x = frame["frequency"].to_numpy(dtype=np.float64)
        m = np.where(x > 0, frame["monetary_value"].to_numpy(dtype=np.float64), 0.0)
        if q <= 1 and (x == 0).any():
            raise PatronError("clv.spend_mean_undefined", model=self.name, q=f"{q:.3g}")
        return self._out(frame, "expected_spend", p * (v + m * x) / (p * x + q - 1))

    def expected_population_spend(self) -> float:
        """Mean value of a purchase across customers, pγ/(q−1) (infinite when q ≤ 1)."""
        p, q, v = self._p()
        return float(p * v / (q - 1)) if q > 1 else float("inf")
