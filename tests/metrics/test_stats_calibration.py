"""Do the 95 % intervals cover 95 % of the time, and do the change tests say "significant" 5 % of the time
when nothing changed? Over grids of true values and sample sizes, with the very formulas ``metrics.stats``
uses (they take arrays as well as numbers).

- NPS and share intervals: exact coverage, every possible answer split enumerated and weighted by its
  multinomial probability (no simulation error).
- Share changes: exact type-I error, both binomials enumerated.
- NPS and CES changes: a seeded simulation of R = 40,000 sample pairs per cell. The Monte Carlo standard error
  of a rate near 5 % is √(0.05 · 0.95 / 40,000) = 0.0011, so the 6 % bound sits 9 standard errors above
  the nominal 5 %, and the worst cell measured (5.6 %) 3.6 below the bound.

``python -m tests.metrics.test_stats_calibration`` prints the tables that docs/metrics.md shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats as scipy_stats

from patron.metrics import stats

#: About 10 s in all (each test under 1.5 s), most of it drawing the simulated samples.
pytestmark = pytest.mark.slow

Array = npt.NDArray[np.float64]

SIZES = (10, 30, 100, 400)
PAIRS = ((10, 10), (30, 30), (100, 100), (400, 400), (30, 400), (10, 100), (100, 400))
#: (promoters, detractors): a typical spread, two high scores, a detractor-heavy one, and everyone a promoter.
NPS_GRID = ((0.90, 0.03), (0.95, 0.01), (0.5, 0.2), (0.3, 0.4), (1.0, 0.0))
SHARE_GRID = (0.5, 0.8, 0.9, 0.95, 0.99, 1.0)
#: CES answers 1…7: even, skewed to easy, nearly all 7, two camps, skewed to hard.
CES_GRID = {
    "even": (1 / 7,) * 7,
    "skewed": (0.01, 0.01, 0.02, 0.04, 0.12, 0.3, 0.5),
    "nearly all 7": (0, 0, 0, 0, 0.02, 0.08, 0.9),
    "two camps": (0.3, 0.05, 0.05, 0.05, 0.05, 0.1, 0.4),
    "hard": (0.6, 0.2, 0.1, 0.05, 0.03, 0.01, 0.01),
}
#: Same mean (4), different spread: half 1s and half 7s against 3s, 4s and 5s.
CES_SPREADS = ((0.5, 0, 0, 0, 0, 0, 0.5), (0, 0, 0.25, 0.5, 0.25, 0, 0))
REPLICATIONS = 40_000
SEED = 20261124


def _splits(n: int, promoters: float, detractors: float) -> tuple[Array, Array, Array]:
    """Every (promoters, detractors) count of n answers, with its probability."""
    p, d = np.meshgrid(np.arange(n + 1.0), np.arange(n + 1.0), indexing="ij")
    possible = p + d <= n
    p, d = p[possible], d[possible]
    counts = np.stack([p, n - p - d, d], axis=1)
    weight = scipy_stats.multinomial.pmf(counts, n, [promoters, 1 - promoters - detractors, detractors])
    return p, d, np.asarray(weight, dtype=np.float64)


def nps_coverage(n: int, promoters: float, detractors: float) -> float:
    p, d, weight = _splits(n, promoters, detractors)
    low, high = stats.nps_interval(p, d, np.full_like(p, n))
    truth = promoters - detractors
    return float(weight[(low <= truth + 1e-12) & (truth - 1e-12 <= high)].sum())


def share_coverage(n: int, share: float) -> float:
    successes = np.arange(n + 1.0)
    low, high = stats.wilson_interval(successes, np.full_like(successes, n))
    weight = scipy_stats.binom.pmf(successes, n, share)
    return float(weight[(low <= share + 1e-12) & (share - 1e-12 <= high)].sum())


def share_type_one(n_a: int, n_b: int, share: float) -> float:
    """Exact: how often the change interval leaves out 0 when both shares are ``share``."""
    a, b = np.meshgrid(np.arange(n_a + 1.0), np.arange(n_b + 1.0), indexing="ij")
    low, high = stats.proportion_difference_interval(a, np.full_like(a, n_a), b, np.full_like(b, n_b))
    weight = np.outer(scipy_stats.binom.pmf(np.arange(n_a + 1), n_a, share),
                      scipy_stats.binom.pmf(np.arange(n_b + 1), n_b, share))  # fmt: skip
    return float(weight[(low > 0) | (high < 0)].sum())


def nps_type_one(n_a: int, n_b: int, promoters: float, detractors: float) -> float:
    """Simulated: how often the change interval leaves out 0 when both periods have the same NPS split."""
    rng = np.random.default_rng([SEED, n_a, n_b, int(1000 * promoters), int(1000 * detractors)])
    shares = [promoters, 1 - promoters - detractors, detractors]
    a = rng.multinomial(n_a, shares, size=REPLICATIONS).astype(np.float64)
    b = rng.multinomial(n_b, shares, size=REPLICATIONS).astype(np.float64)
    low, high = stats.nps_difference_interval(a[:, 0], a[:, 2], np.full(REPLICATIONS, float(n_a)),
                                              b[:, 0], b[:, 2], np.full(REPLICATIONS, float(n_b)))  # fmt: skip
    return float(np.mean((low > 0) | (high < 0)))


def _ces_sample(rng: np.random.Generator, n: int, shares: tuple[float, ...]) -> tuple[Array, Array]:
    counts = rng.multinomial(n, shares, size=REPLICATIONS).astype(np.float64)
    scores = np.arange(1.0, 8.0)
    mean = counts @ scores / n
    sd = np.sqrt(np.maximum((counts @ (scores * scores) - n * mean * mean) / (n - 1), 0.0))
    return mean, sd


def ces_type_one(n_a: int, n_b: int, shares_a: tuple[float, ...], shares_b: tuple[float, ...]) -> float:
    """Simulated: how often the t test says p < 0.05 when both means are equal."""
    rng = np.random.default_rng([SEED, n_a, n_b, *(int(1000 * s) for s in shares_a + shares_b)])
    (mean_a, sd_a), (mean_b, sd_b) = _ces_sample(rng, n_a, shares_a), _ces_sample(rng, n_b, shares_b)
    full_a, full_b = np.full(REPLICATIONS, float(n_a)), np.full(REPLICATIONS, float(n_b))
    difference, se, df = stats.mean_difference(full_a, mean_a, sd_a, full_b, mean_b, sd_b)
    spread = se > 0  # no spread on either side: no test, so never significant
    p = stats.t_p_value(difference[spread] / se[spread], df[spread])
    return float(np.sum(p < stats.ALPHA) / REPLICATIONS)


def _flagged(rate: float, n_a: int, n_b: int) -> float:
    """The rate at which a change is *called* significant: never with a side under the minimum sample."""
    return rate if min(n_a, n_b) >= stats.MIN_SAMPLE else 0.0


@pytest.mark.parametrize(("promoters", "detractors"), NPS_GRID)
def test_nps_intervals_cover_95_percent(promoters: float, detractors: float) -> None:
    for n in SIZES:
        coverage = nps_coverage(n, promoters, detractors)
        if promoters == 1.0:
            # every sample is all promoters: the interval must hold 100, and not as a single point
            assert coverage == pytest.approx(1.0)
            low, high = stats.nps_interval(float(n), 0.0, float(n))
            assert low < 1.0 == high
        else:  # the bar is 93–97 % from 30 answers; Tango's interval keeps it at 10 as well
            assert 0.93 <= coverage <= 0.97, (n, coverage)


def test_share_intervals_cover_95_percent() -> None:
    """Wilson's coverage swings with the share (Brown, Cai & DasGupta 2001); it stays above 92 % from 30
    answers, where the plain interval p ± 1.96·SE covers 63 % at a share of 0.99 and 100 answers."""
    for share in SHARE_GRID[:-1]:
        for n in SIZES[1:]:
            assert 0.92 <= share_coverage(n, share) <= 0.98, (share, n)
    assert all(share_coverage(n, 1.0) == pytest.approx(1.0) for n in SIZES)


@pytest.mark.parametrize(("promoters", "detractors"), NPS_GRID)
def test_nps_change_keeps_its_level(promoters: float, detractors: float) -> None:
    for n_a, n_b in PAIRS:
        rate = nps_type_one(n_a, n_b, promoters, detractors)
        if min(n_a, n_b) >= stats.MIN_SAMPLE:
            assert rate <= 0.06, (n_a, n_b, rate)
        assert _flagged(rate, n_a, n_b) <= 0.06


@pytest.mark.parametrize("share", SHARE_GRID)
def test_share_change_keeps_its_level(share: float) -> None:
    for n_a, n_b in PAIRS:
        rate = share_type_one(n_a, n_b, share)
        if min(n_a, n_b) >= stats.MIN_SAMPLE:
            assert rate <= 0.06, (n_a, n_b, rate)
        assert _flagged(rate, n_a, n_b) <= 0.06


@pytest.mark.parametrize("name", CES_GRID)
def test_ces_change_keeps_its_level(name: str) -> None:
    for n_a, n_b in PAIRS:
        rate = ces_type_one(n_a, n_b, CES_GRID[name], CES_GRID[name])
        if min(n_a, n_b) >= stats.MIN_SAMPLE:
            assert rate <= 0.06, (n_a, n_b, rate)
        assert _flagged(rate, n_a, n_b) <= 0.06


def test_ces_change_keeps_its_level_when_spreads_differ() -> None:
    polarised, centred = CES_SPREADS
    for n_a, n_b in ((30, 30), (100, 100), (30, 400), (400, 30), (100, 400)):
        assert ces_type_one(n_a, n_b, polarised, centred) <= 0.06, (n_a, n_b)


def _tables() -> Iterator[str]:
    yield "NPS interval coverage (exact), n = " + " / ".join(map(str, SIZES))
    for promoters, detractors in NPS_GRID:
        cells = " | ".join(f"{100 * nps_coverage(n, promoters, detractors):.1f}" for n in SIZES)
        yield f"| {promoters:.2f} / {detractors:.2f} | {cells} |"
    yield "CSAT interval coverage (exact), n = " + " / ".join(map(str, SIZES))
    for share in SHARE_GRID:
        yield f"| {share:.2f} | " + " | ".join(f"{100 * share_coverage(n, share):.1f}" for n in SIZES) + " |"
    yield "Type-I error of the change test, pairs " + " / ".join(f"{a} vs {b}" for a, b in PAIRS)
    for promoters, detractors in NPS_GRID:
        cells = " | ".join(f"{100 * nps_type_one(a, b, promoters, detractors):.1f}" for a, b in PAIRS)
        yield f"| NPS {promoters:.2f} / {detractors:.2f} | {cells} |"
    for share in SHARE_GRID:
        yield (
            f"| CSAT {share:.2f} | "
            + " | ".join(f"{100 * share_type_one(a, b, share):.1f}" for a, b in PAIRS)
            + " |"
        )
    for name, shares in CES_GRID.items():
        yield (
            f"| CES {name} | "
            + " | ".join(f"{100 * ces_type_one(a, b, shares, shares):.1f}" for a, b in PAIRS)
            + " |"
        )
    polarised, centred = CES_SPREADS
    pairs = ((30, 30), (100, 100), (30, 400), (400, 30), (100, 400))
    yield "CES, equal means, unequal spreads: " + " | ".join(
        f"{a} vs {b}: {100 * ces_type_one(a, b, polarised, centred):.1f}" for a, b in pairs
    )


if __name__ == "__main__":
    print("\n".join(_tables()))
