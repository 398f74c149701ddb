"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") and MBG/NBD (Batislam, Denizel
& Filiztekin 2007), the same model except that MBG/NBD lets a customer drop out at time zero too, so a
customer who never bought again is not taken as alive for sure.

Per customer with x repeat purchases, last at t_x, observed for T (FHL 2005, eq. 6):

    L = Γ(r+x) αʳ / (Γ(r) (α+T)^(r+x)) · B(a, b+x) / B(a, b)
        · [1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)]

computed in logs with log-sum-exp, and with its gradient in closed form (digamma terms).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from patron.analytics.clv.base import Array, TransactionModel, distinct_rows


class BetaGeoModel(TransactionModel):
    """BG/NBD: purchases follow a Poisson process with rate λ ~ Gamma(r, α) while alive; after each
    purchase the customer drops out with probability p ~ Beta(a, b)."""

    name = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")
    initial = (1.0, 1.0, 1.0, 1.0)
    #: MBG/NBD: the dropout chance also applies before the first repeat purchase
    modified: ClassVar[bool] = False

    def _pieces(self, p: Array, x: Array, t_x: Array, big_t: Array) -> tuple[Array, Array, Array]:
        """log of the "alive at T" term, log of the "dropped out after t_x" term, and the beta shift."""
        r, alpha, a, b = p
        shift = 1.0 if self.modified else 0.0  # MBG: B(a, b+x+1), a/(b+x)
        alive = -(r + x) * np.log(alpha + big_t)
        gone = np.log(a) - np.log(b + x - 1 + shift) - (r + x) * np.log(alpha + t_x)
        if not self.modified:
            gone = np.where(x > 0, gone, -np.inf)
        return alive, gone, np.full_like(x, shift)

    def _loglik(self, p: Array, c: dict[str, Array]) -> Array:
        r, alpha, a, b = p
        x, t_x, big_t = c["frequency"], c["recency"], c["T"]
        alive, gone, shift = self._pieces(p, x, t_x, big_t)
        return np.asarray(
            gammaln(r + x) - gammaln(r) + r * np.log(alpha)
            + betaln(a, b + x + shift) - betaln(a, b)
            + np.logaddexp(alive, gone)
        )  # fmt: skip

    def _loglik_grad(self, p: Array, c: dict[str, Array]) -> Array:
        r, alpha, a, b = p
        x, t_x, big_t = c["frequency"], c["recency"], c["T"]
        alive, gone, shift = self._pieces(p, x, t_x, big_t)
        w = np.exp(gone - np.logaddexp(alive, gone))  # share of the "dropped out" branch
        bx = b + x + shift
        d_r = (
            digamma(r + x)
            - digamma(r)
            + np.log(alpha)
            - (1 - w) * np.log(alpha + big_t)
            - w * np.log(alpha + t_x)
        )
        d_alpha = r / alpha - (1 - w) * (r + x) / (alpha + big_t) - w * (r + x) / (alpha + t_x)
        d_a = digamma(a + b) - digamma(a + bx) + w / a
        dropped = np.where(w > 0, w / (b + x - 1 + shift), 0.0)
        d_b = digamma(bx) - digamma(a + bx) - digamma(b) + digamma(a + b) - dropped
        return np.vstack([d_r, d_alpha, d_a, d_b])

    def _probability_alive(self, p: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        r, alpha, a, b = p
        shift = 1.0 if self.modified else 0.0
        log_odds = (
            np.log(a) - np.log(b + x - 1 + shift) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
        )
        alive = expit(-log_odds)
        return alive if self.modified else np.where(x > 0, alive, 1.0)

    def _conditional_purchases(self, p: Array, t: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        """FHL 2005 eq. 10 (Batislam et al. for MBG), with the Euler transformation of ₂F₁ so that
        ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; z) = (1−z)^(a−1) · ₂F₁(a+b−1−r, a−1; a+b+x−1; z):
        the left side is a vanishing power times an exploding series for heavy buyers, the right side a
        series that converges fast exactly there."""
        return np.asarray(self._if_alive(p, t, x, big_t) * self._alive(p, x, t_x, big_t), dtype=np.float64)

    def _purchase_curve(self, p: Array, horizons: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        """``_conditional_purchases`` at every horizon: the ₂F₁ tail depends on (x, T) and the horizon only,
        so it is computed once per distinct (x, T) of the rows (bench/scoring.py at 1M: 25,395 pairs
        against 336,439 distinct (x, t_x, T)), the "alive" factor once per row; the same operations in the same
        order, so the values are bit for bit those of ``_conditional_purchases``."""
        codes, firsts = distinct_rows([np.ascontiguousarray(x) + 0.0, np.ascontiguousarray(big_t) + 0.0])
        curve = self._if_alive(p, horizons[None, :], x[firsts][:, None], big_t[firsts][:, None])
        return np.asarray(curve[codes] * self._alive(p, x, t_x, big_t)[:, None], dtype=np.float64)

    def _if_alive(self, p: Array, t: Array, x: Array, big_t: Array) -> Array:
        """Eq. 10's purchases in the next ``t`` of a customer still alive, by the Euler-transformed tail."""
        r, alpha, a, b = p
        shift = 1.0 if self.modified else 0.0
        c = a + b + x - 1 + shift
        z = t / (alpha + big_t + t)
        tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 + shift - r, a - 1, c, z)
        return np.asarray(c / (a - 1) * (1 - tail), dtype=np.float64)

    def _alive(self, p: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        """Eq. 10's denominator as a probability: the customer is still alive at T."""
        r, alpha, a, b = p
        shift = 1.0 if self.modified else 0.0
        log_odds = (
            np.log(a) - np.log(b + x - 1 + shift) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
        )
        if not self.modified:
            log_odds = np.where(x > 0, log_odds, -np.inf)
        return np.asarray(expit(-log_odds), dtype=np.float64)


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD: as BG/NBD, but a customer may also drop out right after the first purchase."""

    name = "MBG/NBD"
    modified = True
