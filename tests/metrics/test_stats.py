"""Every statistic against a value computed by hand (shown in the comments) or published.

How well the intervals and tests keep their level over many samples is tested in test_stats_calibration.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as scipy_stats

from patron.metrics import stats


def _profile_score(promoters: int, detractors: int, n: int, nps: float) -> float:
    """The score statistic the slow way, independent of the closed form in stats: the detractor share that
    maximises the multinomial likelihood when promoters − detractors = ``nps`` found numerically."""
    passives = n - promoters - detractors

    def minus_log_likelihood(d: float) -> float:
        p, rest = d + nps, 1 - 2 * d - nps
        return -(promoters * math.log(p) + detractors * math.log(d) + passives * math.log(rest))

    lowest, highest = max(0.0, -nps) + 1e-12, (1 - nps) / 2 - 1e-12
    d = optimize.minimize_scalar(minus_log_likelihood, bounds=(lowest, highest), method="bounded",
                                 options={"xatol": 1e-13}).x  # fmt: skip
    return (promoters - detractors - n * nps) / math.sqrt(n * (2 * d + nps * (1 - nps)))


def test_nps_interval_is_tangos_score_interval() -> None:
    # 50 promoters, 30 passives, 20 detractors: NPS = 50 % − 20 % = 30.
    # At δ = 0.139551: w = (200 − 50 + 20)·δ − 70 = −46.27633, 8n·D·δ(1 − δ) = 16000·0.120077 = 1921.23,
    # d = (√(2141.50 + 1921.23) + 46.27633)/400 = (63.7396 + 46.2763)/400 = 0.275040,
    # variance = 100·(0.550080 + 0.120077) = 67.0157, score = (30 − 13.9551)/8.18631 = 1.95999 ≈ 1.959964:
    # the lower end. The upper end 0.443393 likewise; se = (44.3393 − 13.9551)/(2·1.959964) = 7.7512.
    # (Rocks' adjusted Wald, used before, gave [14.0511, 44.2013]; the plain Wald [14.69, 45.31].)
    estimate = stats.nps(50, 30, 20)
    assert estimate is not None
    assert estimate.nps == pytest.approx(30.0)
    assert (estimate.ci_low, estimate.ci_high) == (
        pytest.approx(13.9551, abs=1e-4),
        pytest.approx(44.3393, abs=1e-4),
    )
    assert estimate.se == pytest.approx(7.7512, abs=1e-4)
    assert estimate.sufficient
    # the ends are where the score statistic, computed by maximising the likelihood numerically, is ±1.96
    assert _profile_score(50, 20, 100, estimate.ci_low / 100) == pytest.approx(stats.Z95, abs=1e-6)
    assert _profile_score(50, 20, 100, estimate.ci_high / 100) == pytest.approx(-stats.Z95, abs=1e-6)
    for promoters, detractors, n in ((3, 1, 5), (28, 0, 30), (10, 25, 40), (0, 0, 7), (200, 80, 400)):
        low, high = stats.nps_interval(float(promoters), float(detractors), float(n))
        for end, target in ((low, stats.Z95), (high, -stats.Z95)):
            if abs(end) < 1:
                assert _profile_score(promoters, detractors, n, end) == pytest.approx(target, abs=1e-6)
    # the same formula over arrays (the calibration grids) gives the same ends
    lows, highs = stats.nps_interval(np.array([50.0, 3.0]), np.array([20.0, 1.0]), np.array([100.0, 5.0]))
    assert lows[0] == pytest.approx(0.139551, abs=1e-6) and highs[0] == pytest.approx(0.443393, abs=1e-6)
    assert (lows[1], highs[1]) == pytest.approx(stats.nps_interval(3.0, 1.0, 5.0), abs=1e-12)


def test_nps_interval_is_never_of_zero_width_at_the_ends() -> None:
    # Every one of n answers a promoter: the score is √(n(1 − δ)/(1 + δ)), = 1.96 at δ = (n − z²)/(n + z²).
    # 12 promoters: (12 − 3.841459)/(12 + 3.841459) = 8.158541/15.841459 = 0.515012; the top is 1.
    # The plain Wald interval here was [100, 100].
    everyone = stats.nps(12, 0, 0)
    assert everyone is not None and everyone.nps == 100.0
    assert (everyone.ci_low, everyone.ci_high) == (pytest.approx(51.5012, abs=1e-4), 100.0)
    assert everyone.se == pytest.approx(12.3724, abs=1e-4)  # (100 − 51.5012)/(2·1.959964)
    nobody = stats.nps(0, 0, 12)
    assert nobody is not None and (nobody.ci_low, nobody.ci_high) == (
        -100.0,
        pytest.approx(-51.5012, abs=1e-4),
    )
    # One promoter: (1 − 3.841459)/(1 + 3.841459) = −0.586901; the interval holds the NPS of 100 itself.
    one = stats.nps(1, 0, 0)
    assert one is not None and (one.ci_low, one.ci_high) == (pytest.approx(-58.6901, abs=1e-4), 100.0)
    # Every answer a passive: ±z²/(n + z²) = ±3.841459/33.841459 = ±0.113513 for 30 answers.
    passives = stats.nps(0, 30, 0)
    assert passives is not None
    assert (passives.ci_low, passives.ci_high) == (
        pytest.approx(-11.3513, abs=1e-4),
        pytest.approx(11.3513, abs=1e-4),
    )
    assert stats.nps(0, 0, 0) is None
    small = stats.nps(3, 1, 1)
    assert small is not None and not small.sufficient, "5 answers: shown with a warning"
    assert stats.nps_from_scores([10, 9, 8, 7, 6, 0]) == stats.nps(2, 2, 2)


def test_nps_interval_stays_in_range_and_holds_the_estimate() -> None:
    """Every possible answer split up to 60 answers."""
    for n in range(1, 61):
        for promoters in range(n + 1):
            for detractors in range(n + 1 - promoters):
                estimate = stats.nps(promoters, n - promoters - detractors, detractors)
                assert estimate is not None
                assert -100 <= estimate.ci_low <= estimate.nps <= estimate.ci_high <= 100
                assert estimate.ci_high > estimate.ci_low, (promoters, detractors, n)


def test_wilson_interval_matches_the_published_value() -> None:
    # Wilson (1927) score interval for 80/100 at 95 %: (0.7112, 0.8666), as in Newcombe (1998) and every
    # statistics package.
    estimate = stats.wilson(80, 100)
    assert estimate is not None
    assert estimate.share == 0.8
    assert (estimate.ci_low, estimate.ci_high) == (
        pytest.approx(0.7112, abs=1e-4),
        pytest.approx(0.8666, abs=1e-4),
    )
    perfect = stats.wilson(10, 10)
    assert (
        perfect is not None
        and perfect.ci_high == pytest.approx(1.0)
        and perfect.ci_low == pytest.approx(0.7225, abs=1e-4)
    )
    assert stats.wilson(0, 0) is None


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0000),
    ],
)
def test_share_difference_is_newcombes_hybrid_score_interval(
    a: int, n_a: int, b: int, n_b: int, low: float, high: float
) -> None:
    """Newcombe (1998), "Interval estimation for the difference between independent proportions: comparison
    of eleven methods", Statistics in Medicine 17, table II, method 10: his six examples."""
    share_a, share_b = stats.wilson(a, n_a), stats.wilson(b, n_b)
    assert share_a is not None and share_b is not None
    change = stats.compare_proportions(share_a, share_b)
    assert (change.ci_low, change.ci_high) == (pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4))
    assert change.difference == pytest.approx(a / n_a - b / n_b)


def test_nps_change_is_mover_over_the_score_intervals() -> None:
    # After: 50/30/20 of 100, interval [0.139551, 0.443393] (above). Before: 30/50/20 of 100, its score
    # interval [−0.039118, 0.235222] (ends checked like those above). Difference 0.3 − 0.1 = 0.2;
    # low = 0.2 − √((0.3 − 0.139551)² + (0.235222 − 0.1)²) = 0.2 − √(0.025744 + 0.018285) = −0.009830,
    # high = 0.2 + √((0.443393 − 0.3)² + (0.1 + 0.039118)²) = 0.2 + √(0.020562 + 0.019354) = 0.399788.
    # The interval takes in 0: not significant (the plain Wald test said p = 0.0565, also not).
    before, after = stats.nps(30, 50, 20), stats.nps(50, 30, 20)
    assert before is not None and after is not None
    change = stats.compare_nps(after, before)
    assert change.difference == pytest.approx(20.0)
    assert (change.ci_low, change.ci_high) == (
        pytest.approx(-0.9830, abs=1e-3),
        pytest.approx(39.9788, abs=1e-3),
    )
    assert change.p_value is not None and 0.05 < change.p_value < 0.07 and change.significant is False
    # The p-value inverts the same intervals: at its z the interval's lower end is exactly 0.
    assert change.z is not None
    low, _ = stats.nps_difference_interval(50.0, 20.0, 100.0, 30.0, 20.0, 100.0, z=change.z)
    assert low == pytest.approx(0.0, abs=1e-9)
    assert change.p_value == pytest.approx(math.erfc(change.z / math.sqrt(2)))
    # The same shares on 400 answers each: the interval [9.60, 30.14] leaves out 0, p = 0.00018.
    big_before, big_after = stats.nps(120, 200, 80), stats.nps(200, 120, 80)
    assert big_before is not None and big_after is not None
    big = stats.compare_nps(big_after, big_before)
    assert big.significant is True and big.p_value == pytest.approx(0.000185, abs=1e-5)
    assert big.ci_low is not None and big.ci_low > 0


def test_a_tiny_month_is_never_called_significant() -> None:
    # 2 promoters against 0 promoters, 1 passive, 2 detractors. The plain Wald test gave SE_a = 0 (a share of
    # 1 has no spread), SE_b = √((2/3 − 4/9)/3) = 0.2722, z = (1 + 2/3)/0.2722 = 6.12, p = 9.1e-10:
    # "significant". Now the interval and p are computed, but neither month has 30 answers: no verdict.
    two, three = stats.nps(2, 0, 0), stats.nps(0, 1, 2)
    assert two is not None and three is not None
    change = stats.compare_nps(two, three)
    assert change.significant is None and change.reason == "small_sample"
    assert change.p_value is not None and change.p_value > 1e-3
    assert change.ci_low is not None and change.ci_high is not None and change.ci_high - change.ci_low > 100
    # One side below 30 is enough, however large the other and however big the gap.
    few, many = stats.nps(29, 0, 0), stats.nps(0, 0, 400)
    assert few is not None and many is not None
    lopsided = stats.compare_nps(few, many)
    assert lopsided.p_value is not None and lopsided.p_value < 1e-10
    assert lopsided.significant is None and lopsided.reason == "small_sample"
    share_few, share_many = stats.wilson(29, 29), stats.wilson(0, 400)
    assert share_few is not None and share_many is not None
    assert stats.compare_proportions(share_few, share_many).significant is None


def test_equal_samples_are_not_different() -> None:
    # All promoters in 30 and in 400 answers: difference 0, p = 1; the interval is not of zero width.
    a, b = stats.nps(30, 0, 0), stats.nps(400, 0, 0)
    assert a is not None and b is not None
    same = stats.compare_nps(a, b)
    assert (same.difference, same.p_value, same.significant) == (0.0, 1.0, False)
    assert same.ci_low is not None and same.ci_high is not None and same.ci_low < 0 < same.ci_high


def test_p_value_and_interval_agree() -> None:
    """p < 0.05 exactly when the 95 % interval leaves out 0: 600 random pairs of NPS and of shares."""
    rng = np.random.default_rng(14)
    verdicts = set()
    for _ in range(600):
        n_a, n_b = (int(n) for n in rng.integers(30, 300, size=2))
        pa, da = (int(x) for x in rng.multinomial(n_a, [0.5, 0.3, 0.2])[[0, 2]])
        pb, db = (int(x) for x in rng.multinomial(n_b, [0.6, 0.25, 0.15])[[0, 2]])
        a, b = stats.nps(pa, n_a - pa - da, da), stats.nps(pb, n_b - pb - db, db)
        share_a, share_b = stats.wilson(pa, n_a), stats.wilson(pb, n_b)
        assert a is not None and b is not None and share_a is not None and share_b is not None
        for change in (stats.compare_nps(a, b), stats.compare_proportions(share_a, share_b)):
            assert change.p_value is not None and change.ci_low is not None and change.ci_high is not None
            outside = change.ci_low > 0 or change.ci_high < 0
            assert (change.p_value < stats.ALPHA) == outside
            assert change.ci_low <= change.difference <= change.ci_high
            verdicts.add(outside)
    assert verdicts == {True, False}, "both verdicts occurred"


def test_mean_interval_uses_students_t() -> None:
    # 1, 2, 3, 4, 5: mean 3, sd √2.5 = 1.5811, t(0.975, 4) = 2.7764 → ±1.9632 → [1.0368, 4.9632].
    values = [1, 2, 3, 4, 5]
    estimate = stats.mean_interval(len(values), sum(values), sum(v * v for v in values))
    assert estimate is not None
    assert (estimate.mean, estimate.sd) == (3.0, pytest.approx(math.sqrt(2.5)))
    assert (estimate.ci_low, estimate.ci_high) == (
        pytest.approx(1.0368, abs=1e-4),
        pytest.approx(4.9632, abs=1e-4),
    )
    assert stats.mean_interval(0, 0.0, 0.0) is None


def test_a_mean_of_one_answer_has_no_interval() -> None:
    single = stats.mean_interval(1, 6.0, 36.0)
    assert single is not None and single.mean == 6.0
    assert (single.sd, single.ci_low, single.ci_high, stats.mean_se(single)) == (None, None, None, None)
    other = stats.mean_interval(40, 200.0, 1040.0)
    assert other is not None
    change = stats.compare_means(single, other)
    assert (change.difference, change.p_value, change.significant) == (1.0, None, None)


def test_mean_change_uses_the_larger_of_welch_and_pooled_standard_errors() -> None:
    # a: 31 answers, mean 6, sd 1; b: 41 answers, mean 5.5, sd 1.5.
    # Welch: √(1/31 + 2.25/41) = √(0.032258 + 0.054878) = 0.295189.
    # Pooled: s² = (30·1 + 40·2.25)/70 = 1.714286, SE = √(1.714286·(1/31 + 1/41)) = √0.097111 = 0.311627,
    # the larger, with 70 degrees of freedom: t = 0.5/0.311627 = 1.6045, p = 0.1131 (Student's t test).
    a, b = stats.MeanEstimate(31, 6.0, 1.0, None, None), stats.MeanEstimate(41, 5.5, 1.5, None, None)
    change = stats.compare_means(a, b)
    assert (change.se, change.z) == (pytest.approx(0.311627, abs=1e-6), pytest.approx(1.6045, abs=1e-4))
    student = scipy_stats.ttest_ind_from_stats(6.0, 1.0, 31, 5.5, 1.5, 41, equal_var=True)
    assert change.p_value == pytest.approx(student.pvalue) and change.p_value == pytest.approx(
        0.1131, abs=1e-4
    )
    # a: 31 answers, sd 2; b: 401 answers, sd 1. Welch: √(4/31 + 1/401) = √0.131526 = 0.362665; pooled:
    # s² = (30·4 + 400·1)/430 = 1.209302, SE = √(1.209302·(1/31 + 1/401)) = 0.205. Welch's is larger:
    # t = 1.3787 on Welch–Satterthwaite's 0.131526²/(0.129032²/30 + 0.002494²/400) = 31.17 degrees of
    # freedom, p = 0.1778 (Welch's t test); t(0.975, 31.17) = 2.03906, 0.5 ± 0.739497.
    wide, narrow = stats.MeanEstimate(31, 6.0, 2.0, None, None), stats.MeanEstimate(401, 5.5, 1.0, None, None)
    spread = stats.compare_means(wide, narrow)
    welch = scipy_stats.ttest_ind_from_stats(6.0, 2.0, 31, 5.5, 1.0, 401, equal_var=False)
    assert spread.se == pytest.approx(0.362665, abs=1e-6) and spread.p_value == pytest.approx(welch.pvalue)
    assert spread.ci_low is not None and spread.ci_high is not None
    half = scipy_stats.t.ppf(0.975, 31.169933) * 0.362665
    assert (spread.ci_low, spread.ci_high) == (
        pytest.approx(0.5 - half, abs=1e-5),
        pytest.approx(0.5 + half, abs=1e-5),
    )
    assert half == pytest.approx(0.739497, abs=1e-5)
    assert spread.significant is False and spread.reason is None


def test_means_without_any_spread_are_not_tested() -> None:
    sevens = stats.mean_interval(40, 280.0, 1960.0)
    sixes = stats.mean_interval(50, 300.0, 1800.0)
    assert sevens is not None and sixes is not None and sevens.sd == 0
    change = stats.compare_means(sevens, sixes)
    assert (change.difference, change.p_value, change.significant, change.reason) == (
        1.0,
        None,
        None,
        "no_spread",
    )


def test_comparison_in_percentage_points() -> None:
    share_a, share_b = stats.wilson(56, 70), stats.wilson(48, 80)
    assert share_a is not None and share_b is not None
    change = stats.compare_proportions(share_a, share_b)
    points = change.scaled(100)
    assert (points.difference, points.ci_low, points.ci_high) == (
        pytest.approx(20.0),
        pytest.approx(5.24, abs=1e-2),
        pytest.approx(33.39, abs=1e-2),
    )
    assert (points.p_value, points.z, points.significant) == (change.p_value, change.z, True)
