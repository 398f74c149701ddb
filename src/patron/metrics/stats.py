"""The statistics behind every satisfaction number: estimates, intervals, changes, sample warnings.

Methods, sources and their measured calibration are in docs/metrics.md:
- NPS = %promoters (9–10) − %detractors (0–6). Its 95 % interval is the score interval (Tango 1998): the
  NPS values the score test does not reject. Promoters, passives and detractors are one multinomial, so NPS
  is the difference of two shares of the same answers, as in a paired 2×2 table; Tango's interval is that
  design's score interval. It covers 94.7–96.2 % on the whole calibration grid, where Rocks' (2016) adjusted
  Wald, used before, covered 97.6 % at n = 30 with 95 % promoters (docs/metrics.md). It stays inside
  [−100, 100], always holds the NPS itself and is never of zero width.
- CSAT and the response rate are shares; their interval is Wilson's score interval.
- CES is a mean on 1–7 (higher is easier); its interval is Student's t. One answer has no interval.
- A change a − b (two periods or two slices) has a 95 % interval and a two-sided p-value that agree: p < 0.05
  exactly when the interval leaves out 0. For shares and NPS the interval is MOVER (Zou & Donner 2008)
  built from the two estimates' own intervals, which for shares is Newcombe's (1998) hybrid score interval;
  the p-value inverts it. For means it is a t test with the larger of Welch's and the pooled standard error.
- Below ``MIN_SAMPLE`` answers on either side a change gets its interval and p-value but no verdict:
  ``significant`` is None and ``reason`` says why.

The interval formulas take numbers or NumPy arrays alike, so the calibration test runs the very same
formulas over whole grids of samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal
MIN_SAMPLE = 30
ALPHA = 0.05
#: Halvings of [−1, 1] that find an NPS interval's end: 2⁻⁵⁴ is below a double's spacing near 1.
_BISECTIONS = 54
#: Past this normal quantile a p-value is 0 to double precision (2·(1 − Φ(40)) < 1e-300).
_Z_LIMIT = 40.0

#: A number, or an array of them: what the interval formulas take.
Real = TypeVar("Real", float, npt.NDArray[np.float64])
Array = npt.NDArray[np.float64]


def _positive(x: Real) -> Real:
    """max(x, 0), for numbers and arrays alike."""
    return (x + abs(x)) / 2


def _clip(x: Real, low: float, high: float) -> Real:
    """x held inside [low, high], for numbers and arrays alike."""
    return high - _positive(high - (low + _positive(x - low)))


@dataclass(frozen=True)
class NpsEstimate:
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float  # on the −100 … 100 scale
    se: float  # the interval's half-width over 1.96, on the same scale (as for a MOVER change)
    ci_low: float
    ci_high: float

    @property
    def sufficient(self) -> bool:
        return self.n >= MIN_SAMPLE


def nps_score_statistic(promoters: Real, detractors: Real, n: Real, nps: Real) -> Real:
    """Tango's score statistic for "the NPS is ``nps``" (−1 … 1): (P − D − n·nps) over its standard error at
    the shares that maximise the likelihood under that NPS. With d the detractor share there, the likelihood
    equation is 2n·d² + w·d − D·nps·(1 − nps) = 0, w = (2n − P + D)·nps − P − D, and the variance of P − D
    is n·(2d + nps·(1 − nps)). It falls as ``nps`` rises, through 0 at the NPS observed."""
    w = (2 * n - promoters + detractors) * nps - promoters - detractors
    detractor_share = (_positive(w * w + 8 * n * detractors * nps * (1 - nps)) ** 0.5 - w) / (4 * n)
    variance = n * (2 * detractor_share + nps * (1 - nps))
    root: Real = _positive(variance) ** 0.5
    return (promoters - detractors - n * nps) / root


def nps_interval(promoters: Real, detractors: Real, n: Real, z: float = Z95) -> tuple[Real, Real]:
    """Tango's score interval of an NPS on the −1 … 1 scale, at the normal quantile ``z``: the NPS values
    whose score statistic lies within ±z (it is monotone, so each end is one root)."""
    if isinstance(promoters, np.ndarray):
        return _nps_interval_grid(promoters, np.asarray(detractors), np.asarray(n), z)
    estimate = (promoters - detractors) / n

    def beyond(nps: float, target: float) -> float:
        # at the observed NPS the statistic is 0, also where its variance is 0 (every answer a promoter)
        return (
            0.0 if nps == estimate else float(nps_score_statistic(promoters, detractors, n, nps))
        ) - target

    # next to ±1 the statistic is huge but finite unless the estimate is that end itself
    edge = 1 - 1e-12
    low = (
        -1.0 if estimate <= -edge else float(optimize.brentq(beyond, -edge, estimate, args=(z,), xtol=1e-14))
    )
    high = 1.0 if estimate >= edge else float(optimize.brentq(beyond, estimate, edge, args=(-z,), xtol=1e-14))
    return low, high


def _nps_interval_grid(promoters: Array, detractors: Array, n: Array, z: float) -> tuple[Array, Array]:
    """The same interval over whole arrays of samples, by bisection (for the calibration grids)."""
    estimate = (promoters - detractors) / n
    ends = []
    for target, start, stop in (
        (z, np.full_like(estimate, -1.0), estimate),
        (-z, estimate, np.ones_like(estimate)),
    ):
        low, high = start, stop
        with np.errstate(divide="ignore", invalid="ignore"):
            for _ in range(_BISECTIONS):
                middle = (low + high) / 2
                # left of the root the statistic is above the target
                above = nps_score_statistic(promoters, detractors, n, middle) > target
                low, high = np.where(above, middle, low), np.where(above, high, middle)
        ends.append((low + high) / 2)
    return np.minimum(ends[0], estimate), np.maximum(ends[1], estimate)


def nps(promoters: int, passives: int, detractors: int) -> NpsEstimate | None:
    """None when nobody answered: there is no NPS of nothing. The interval is not symmetric about the
    estimate: near the ends of the scale it reaches further toward 0."""
    n = promoters + passives + detractors
    if n == 0:
        return None
    low, high = nps_interval(float(promoters), float(detractors), float(n))
    return NpsEstimate(n, promoters, passives, detractors, 100 * (promoters - detractors) / n,
                       100 * (high - low) / (2 * Z95), 100 * low, 100 * high)  # fmt: skip


def nps_from_scores(scores: Sequence[int]) -> NpsEstimate | None:
    return nps(sum(s >= 9 for s in scores), sum(7 <= s <= 8 for s in scores), sum(s <= 6 for s in scores))


@dataclass(frozen=True)
class ProportionEstimate:
    n: int
    successes: int
    share: float  # 0 … 1
    ci_low: float
    ci_high: float

    @property
    def sufficient(self) -> bool:
        return self.n >= MIN_SAMPLE


def wilson_interval(successes: Real, n: Real, z: float = Z95) -> tuple[Real, Real]:
    """Wilson's score interval of a share, at the normal quantile ``z``."""
    share = successes / n
    denominator = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / denominator
    half = z * (share * (1 - share) / n + z * z / (4 * n * n)) ** 0.5 / denominator
    return _clip(centre - half, 0.0, 1.0), _clip(centre + half, 0.0, 1.0)


def wilson(successes: int, n: int, z: float = Z95) -> ProportionEstimate | None:
    if n == 0:
        return None
    low, high = wilson_interval(float(successes), float(n), z)
    return ProportionEstimate(n, successes, successes / n, low, high)


@dataclass(frozen=True)
class MeanEstimate:
    n: int
    mean: float
    sd: float | None  # None for one answer: a spread needs two
    ci_low: float | None
    ci_high: float | None

    @property
    def sufficient(self) -> bool:
        return self.n >= MIN_SAMPLE


def mean_interval(n: int, total: float, total_of_squares: float) -> MeanEstimate | None:
    """From sufficient statistics (count, Σx, Σx²), so any database can compute the inputs. One answer gets
    no interval: nothing says how far the next one could be."""
    if n == 0:
        return None
    mean = total / n
    if n == 1:
        return MeanEstimate(1, mean, None, None, None)
    variance = max((total_of_squares - n * mean * mean) / (n - 1), 0.0)
    sd = math.sqrt(variance)
    # the t quantile from scipy's special function itself: stats.t.ppf's argument checking cost 100 µs a call,
    # which a trend of hundreds of slices pays for each
    half = float(special.stdtrit(n - 1, 0.975)) * sd / math.sqrt(n)
    return MeanEstimate(n, mean, sd, mean - half, mean + half)


def proportion_se(estimate: ProportionEstimate) -> float:
    return math.sqrt(estimate.share * (1 - estimate.share) / estimate.n)


def mean_se(estimate: MeanEstimate) -> float | None:
    return None if estimate.sd is None else estimate.sd / math.sqrt(estimate.n)


# ---- changes: a − b ----


@dataclass(frozen=True)
class Comparison:
    """``a − b`` with its 95 % interval and two-sided p-value, which agree: p < ALPHA exactly when the interval
    leaves out 0. ``reason`` says why there is no verdict: ``small_sample`` (a side has fewer than MIN_SAMPLE
    answers; the interval and p-value are still given when they can be computed) or ``no_spread`` (every
    answer the same on both sides, so there is nothing to test)."""

    difference: float
    se: float | None  # the standard error; for a MOVER interval, half its width over 1.96
    z: float | None  # the test statistic, signed like the difference: a normal z, or t for means
    p_value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None

    @property
    def significant(self) -> bool | None:
        if self.reason is not None or self.p_value is None:
            return None
        return self.p_value < ALPHA

    def scaled(self, factor: float) -> Comparison:
        """The same comparison in other units (a share's 0 … 1 as percentage points)."""

        def times(value: float | None) -> float | None:
            return None if value is None else value * factor

        return replace(self, difference=self.difference * factor, se=times(self.se), ci_low=times(self.ci_low),
                       ci_high=times(self.ci_high))  # fmt: skip


def _small(n_a: int, n_b: int) -> str | None:
    return "small_sample" if min(n_a, n_b) < MIN_SAMPLE else None


def mover(a: Real, limits_a: tuple[Real, Real], b: Real, limits_b: tuple[Real, Real]) -> tuple[Real, Real]:
    """The interval of a − b from the two estimates' own intervals (MOVER, Zou & Donner 2008: each end of the
    difference is as far out as the two relevant ends, added in quadrature)."""
    (low_a, high_a), (low_b, high_b) = limits_a, limits_b
    difference = a - b
    low = difference - (_positive(a - low_a) ** 2 + _positive(high_b - b) ** 2) ** 0.5
    high = difference + (_positive(high_a - a) ** 2 + _positive(b - low_b) ** 2) ** 0.5
    return low, high


def nps_difference_interval(
    promoters_a: Real, detractors_a: Real, n_a: Real, promoters_b: Real, detractors_b: Real, n_b: Real,
    z: float = Z95,
) -> tuple[Real, Real]:  # fmt: skip
    """The interval of NPS_a − NPS_b on the −2 … 2 scale: MOVER from the two score intervals."""
    return mover((promoters_a - detractors_a) / n_a, nps_interval(promoters_a, detractors_a, n_a, z),
                 (promoters_b - detractors_b) / n_b, nps_interval(promoters_b, detractors_b, n_b, z))  # fmt: skip


def proportion_difference_interval(
    successes_a: Real, n_a: Real, successes_b: Real, n_b: Real, z: float = Z95
) -> tuple[Real, Real]:
    """Newcombe's hybrid score interval of share_a − share_b (his method 10): MOVER from two Wilson intervals."""
    return mover(successes_a / n_a, wilson_interval(successes_a, n_a, z),
                 successes_b / n_b, wilson_interval(successes_b, n_b, z))  # fmt: skip


def _inverted(
    difference: float, interval: Callable[[float], tuple[float, float]], n_a: int, n_b: int
) -> Comparison:
    """The comparison whose p-value is the α at which the (1 − α) interval's end nearest 0 reaches 0."""
    low, high = interval(Z95)
    z = 0.0
    if difference != 0:

        def margin(quantile: float) -> float:
            """How far the interval at ``quantile`` stays clear of 0 (negative once it takes 0 in)."""
            lower, upper = interval(quantile)
            return lower if difference > 0 else -upper

        # the intervals widen with the quantile, so the margin falls: one root, or none
        if margin(0.0) > 0:
            z = (
                _Z_LIMIT
                if margin(_Z_LIMIT) > 0
                else float(optimize.brentq(margin, 0.0, _Z_LIMIT, xtol=1e-12))
            )
    return Comparison(difference, (high - low) / (2 * Z95), math.copysign(z, difference),
                      math.erfc(z / math.sqrt(2)), low, high, _small(n_a, n_b))  # fmt: skip


def compare_nps(a: NpsEstimate, b: NpsEstimate) -> Comparison:
    """NPS ``a`` − ``b`` in NPS points."""

    def interval(z: float) -> tuple[float, float]:
        return nps_difference_interval(float(a.promoters), float(a.detractors), float(a.n),
                                       float(b.promoters), float(b.detractors), float(b.n), z)  # fmt: skip

    difference = (a.promoters - a.detractors) / a.n - (b.promoters - b.detractors) / b.n
    return _inverted(difference, interval, a.n, b.n).scaled(100)


def compare_proportions(a: ProportionEstimate, b: ProportionEstimate) -> Comparison:
    """Share ``a`` − ``b``, on the 0 … 1 scale (``scaled(100)`` gives percentage points)."""

    def interval(z: float) -> tuple[float, float]:
        return proportion_difference_interval(
            float(a.successes), float(a.n), float(b.successes), float(b.n), z
        )

    return _inverted(a.successes / a.n - b.successes / b.n, interval, a.n, b.n)


def mean_difference(
    n_a: Real, mean_a: Real, sd_a: Real, n_b: Real, mean_b: Real, sd_b: Real
) -> tuple[Real, Real, Real]:
    """Mean ``a`` − ``b``, its standard error and degrees of freedom: Welch's or the pooled t test's, whichever
    standard error is larger. Welch alone let skewed answers through (a 30-answer side whose answers happen to
    cluster has a small variance just when its mean strays: 12.5 % type-I error at 30 vs 400 answers, 90 % of
    them 7); the pooled test alone fails when the spreads differ (50 % at 30 vs 400). The larger standard
    error keeps both within 6 % (docs/metrics.md)."""
    var_a, var_b = sd_a * sd_a / n_a, sd_b * sd_b / n_b
    welch = (var_a + var_b) ** 0.5
    pooled_df = n_a + n_b - 2
    pooled = ((sd_a * sd_a * (n_a - 1) + sd_b * sd_b * (n_b - 1)) / pooled_df * (1 / n_a + 1 / n_b)) ** 0.5
    # Welch–Satterthwaite; 1e-300 keeps 0/0 (no spread on either side) from raising: the caller checks se
    welch_df = (var_a + var_b) ** 2 / (var_a * var_a / (n_a - 1) + var_b * var_b / (n_b - 1) + 1e-300)
    welch_wins = (welch > pooled) * 1.0
    return (mean_a - mean_b, pooled + _positive(welch - pooled),
            pooled_df + welch_wins * (welch_df - pooled_df))  # fmt: skip


def t_p_value(statistic: Real, df: Real) -> Real:
    """Two-sided p-value of a t statistic."""
    p: Real = 2 * special.stdtr(df, -abs(statistic))
    return p


def compare_means(a: MeanEstimate, b: MeanEstimate) -> Comparison:
    """Mean ``a`` − ``b``. No test when a side has one answer, or when no side has any spread."""
    reason = _small(a.n, b.n)
    if a.sd is None or b.sd is None:
        return Comparison(a.mean - b.mean, None, None, None, reason=reason)
    difference, se, df = mean_difference(float(a.n), a.mean, a.sd, float(b.n), b.mean, b.sd)
    if se == 0:
        return Comparison(difference, None, None, None, reason=reason or "no_spread")
    statistic = difference / se
    half = float(special.stdtrit(df, 1 - ALPHA / 2)) * se
    return Comparison(difference, se, statistic, float(t_p_value(statistic, df)), difference - half,
                      difference + half, reason)  # fmt: skip
