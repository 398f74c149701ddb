"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), in the form of Fader & Hardie's note "A note on deriving
the Pareto/NBD model and related expressions" (2005), with the likelihood evaluated in logs.

While alive a customer buys at rate λ ~ Gamma(r, α); the lifetime is exponential with rate μ ~ Gamma(s, β).
Per customer (x repeat purchases, last at t_x, observed for T):

    L = Γ(r+x) αʳ βˢ / Γ(r) · [ 1/((α+T)^(r+x) (β+T)ˢ) + s/(r+s+x) · A₀ ]
    A₀ = ₂F₁(r+s+x, b; r+s+x+1; z(t_x)) / (m+t_x)^(r+s+x) − ₂F₁(…; z(T)) / (m+T)^(r+s+x)

with m = max(α, β), z(t) = |α−β|/(m+t), b = s+1 when α ≥ β and r+x otherwise. Both brackets are summed in
logs (log-sum-exp, and log(e^u − e^v) = u + log(−expm1(v−u))), so no power overflows.

SciPy's ``hyp2f1`` is exact to ~1e-11 for r+s+x ≤ 100 and z ≤ 0.9 (checked against mpmath, see the tests)
but returns NaN or ∞ beyond (heavy buyers, very unequal α and β). For those rows A₀ is computed from the
integral it stands for, A₀ = (r+s+x) ∫_{t_x}^{T} (α+τ)^−(r+x) (β+τ)^−(s+1) dτ, after the change of variable
q = ((α+t_x)/(α+τ))^(r+s+x), which leaves a bounded, monotone integrand on [q_T, 1]; Gauss–Legendre on
panels graded towards both ends makes it exact to ~1e-13 for any customer.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, gammaln, hyp2f1

from patron.analytics.clv.base import Array, TransactionModel

_SAFE_A = 100.0
_SAFE_Z = 0.9
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(8)
#: panel edges on [0, 1], halving towards 0 (where q^(1/a) is singular) and, fewer, towards 1 (the integrand
#: has a pole just past 1 when β ≪ α)
_GRADED = np.unique(np.concatenate([[0.0, 1.0], 2.0 ** -np.arange(1, 41), 1 - 2.0 ** -np.arange(2, 17)]))


def log_a0(r: float, alpha: float, s: float, beta: float, x: Array, t_x: Array, big_t: Array) -> Array:
    """log A₀ per customer (−∞ when t_x = T, where A₀ = 0)."""
    a = r + s + x
    m = max(alpha, beta)
    delta = abs(alpha - beta)
    b = np.full_like(x, s + 1) if alpha >= beta else r + x
    z1, z2 = delta / (m + t_x), delta / (m + big_t)
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        f1, f2 = hyp2f1(a, b, a + 1, z1), hyp2f1(a, b, a + 1, z2)
        safe = (a <= _SAFE_A) & (z1 <= _SAFE_Z) & np.isfinite(f1) & np.isfinite(f2) & (f1 > 0) & (f2 > 0)
        first = np.log(f1) - a * np.log(m + t_x)
        second = np.log(f2) - a * np.log(m + big_t)
        out[safe] = (first + np.log(-np.expm1(second - first)))[safe]
    if not safe.all():
        rest = ~safe
        out[rest] = _log_a0_quadrature(r, alpha, s, beta, x[rest], t_x[rest], big_t[rest])
    return out


def _log_a0_quadrature(
    r: float, alpha: float, s: float, beta: float, x: Array, t_x: Array, big_t: Array
) -> Array:
    a = (r + s + x)[:, None]
    c = ((beta - alpha) / (alpha + t_x))[:, None]
    with np.errstate(divide="ignore"):
        log_q_t = (a[:, 0] * (np.log(alpha + t_x) - np.log(alpha + big_t)))[:, None]
    q_t = np.exp(log_q_t)
    low = np.maximum(_GRADED[None, :-1], q_t)
    high = np.maximum(_GRADED[None, 1:], q_t)
    half = (high - low) / 2
    q = (low + half)[:, :, None] + half[:, :, None] * _NODES
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.exp(np.log(q) / a[:, :, None])  # q^(1/a)
        values = np.exp(-(s + 1) * np.log1p(c[:, :, None] * root))
    integral = np.einsum("rpn,n,rp->r", np.nan_to_num(values), _WEIGHTS, half)
    with np.errstate(divide="ignore"):
        return np.asarray(-a[:, 0] * np.log(alpha + t_x) + np.log(integral), dtype=np.float64)


class ParetoNBDModel(TransactionModel):
    """Pareto/NBD: Poisson purchases at rate λ ~ Gamma(r, α), exponential lifetimes at rate μ ~ Gamma(s, β)."""

    name = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    initial = (1.0, 1.0, 1.0, 1.0)

    def _branches(self, p: Array, x: Array, t_x: Array, big_t: Array) -> tuple[Array, Array]:
        """log of the "alive at T" term and log of the "died between t_x and T" term."""
        r, alpha, s, beta = p
        alive = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
        died = np.log(s) - np.log(r + s + x) + log_a0(r, alpha, s, beta, x, t_x, big_t)
        return alive, died

    def _loglik(self, p: Array, c: dict[str, Array]) -> Array:
        r, alpha, s, beta = p
        x = c["frequency"]
        alive, died = self._branches(p, x, c["recency"], c["T"])
        terms = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(alive, died)
        return np.asarray(terms, dtype=np.float64)

    def _probability_alive(self, p: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        alive, died = self._branches(p, x, t_x, big_t)
        return np.asarray(expit(alive - died), dtype=np.float64)

    def _conditional_purchases(self, p: Array, t: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        """E[X(T, T+t)] = (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)] · P(alive), with the
        bracket over (s−1) written with expm1/log1p so s = 1 is its limit, log(1 + t/(β+T))."""
        r, alpha, s, beta = p
        log_ratio = np.log1p(t / (beta + big_t))
        if abs(s - 1) * float(np.max(log_ratio, initial=0.0)) < 1e-12:
            growth = log_ratio
        else:
            growth = -np.expm1(-(s - 1) * log_ratio) / (s - 1)
        alive = self._probability_alive(p, x, t_x, big_t)
        return np.asarray((r + x) * (beta + big_t) / (alpha + big_t) * growth * alive, dtype=np.float64)

    def _purchase_curve(self, p: Array, horizons: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        """``_conditional_purchases`` at every horizon, P(alive) (its costly part) computed once."""
        r, alpha, s, beta = p
        alive = self._probability_alive(p, x, t_x, big_t)
        columns = []
        for t in horizons:
            log_ratio = np.log1p(np.full_like(x, t) / (beta + big_t))
            if abs(s - 1) * float(np.max(log_ratio, initial=0.0)) < 1e-12:
                growth = log_ratio
            else:
                growth = -np.expm1(-(s - 1) * log_ratio) / (s - 1)
            columns.append((r + x) * (beta + big_t) / (alpha + big_t) * growth * alive)
        return np.stack(columns, axis=1) if columns else np.zeros((x.size, 0))
