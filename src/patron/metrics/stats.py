"""The statistics behind every satisfaction number: estimates, intervals, significance, sample warnings.

Definitions (also in docs/metrics.md):
- NPS = %promoters (9–10) − %detractors (0–6). With proportions P and D of n answers, the variance of the
  difference of two multinomial shares is (P + D − (P − D)²) / n; the 95 % interval is NPS ± 1.96·SE.
- CSAT = share of satisfied answers (top box, 4–5 on a 5-point scale); its interval is Wilson's score
  interval, which stays inside [0, 1] and behaves at small n and near 0 % or 100 %, unlike p ± 1.96·SE.
- CES = mean agreement on 1–7 with "the company made it easy"; higher is easier (better). Its interval uses
  Student's t with n − 1 degrees of freedom.
- Two periods or segments differ significantly when the two-sided p-value of the z statistic for the
  difference of independent estimates is below 0.05.
- Below ``MIN_SAMPLE`` answers a number is shown with a warning, never as if it were reliable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal
MIN_SAMPLE = 30
ALPHA = 0.05


@dataclass(frozen=True)
class NpsEstimate:
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float  # on the −100 … 100 scale
    se: float  # on the same scale
    ci_low: float
    ci_high: float

    @property
    def sufficient(self) -> bool:
        return self.n >= MIN_SAMPLE


def nps(promoters: int, passives: int, detractors: int) -> NpsEstimate | None:
    """None when nobody answered: there is no NPS of nothing."""
    n = promoters + passives + detractors
    if n == 0:
        return None
    p, d = promoters / n, detractors / n
    value = p - d
    se = math.sqrt(max(p + d - value * value, 0.0) / n)
    return NpsEstimate(n, promoters, passives, detractors, 100 * value, 100 * se,
                       100 * max(value - Z95 * se, -1.0), 100 * min(value + Z95 * se, 1.0))  # fmt: skip


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


def wilson(successes: int, n: int, z: float = Z95) -> ProportionEstimate | None:
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return ProportionEstimate(n, successes, p, max(centre - half, 0.0), min(centre + half, 1.0))


@dataclass(frozen=True)
class MeanEstimate:
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float

    @property
    def sufficient(self) -> bool:
        return self.n >= MIN_SAMPLE


def mean_interval(n: int, total: float, total_of_squares: float) -> MeanEstimate | None:
    """From sufficient statistics (count, Σx, Σx²), so any database can compute the inputs."""
    if n == 0:
        return None
    mean = total / n
    if n == 1:
        return MeanEstimate(1, mean, 0.0, mean, mean)
    variance = max((total_of_squares - n * mean * mean) / (n - 1), 0.0)
    sd = math.sqrt(variance)
    # the t quantile from scipy's special function itself: stats.t.ppf's argument checking cost 100 µs a call,
    # which a trend of hundreds of slices pays for each
    half = float(special.stdtrit(n - 1, 0.975)) * sd / math.sqrt(n)
    return MeanEstimate(n, mean, sd, mean - half, mean + half)


@dataclass(frozen=True)
class Comparison:
    difference: float
    se: float
    z: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def compare(value_a: float, se_a: float, value_b: float, se_b: float) -> Comparison | None:
    """Is ``a`` different from ``b`` (two independent estimates)? None when both are exact (no spread)."""
    se = math.sqrt(se_a * se_a + se_b * se_b)
    if se == 0:
        return None
    z = (value_a - value_b) / se
    # two-sided normal p-value, 2·(1 − Φ(|z|)) = erfc(|z|/√2), accurate far into the tail
    return Comparison(value_a - value_b, se, z, math.erfc(abs(z) / math.sqrt(2)))


def proportion_se(estimate: ProportionEstimate) -> float:
    return math.sqrt(estimate.share * (1 - estimate.share) / estimate.n)


def mean_se(estimate: MeanEstimate) -> float:
    return estimate.sd / math.sqrt(estimate.n)
