"""Every statistic against a value computed by hand (shown in the comments) or published."""

from __future__ import annotations

import math

import pytest

from patron.metrics import stats


def test_nps_with_its_standard_error_and_interval() -> None:
    # 50 promoters, 30 passives, 20 detractors: NPS = 50% − 20% = 30.
    # Var = (0.5 + 0.2 − 0.3²) / 100 = 0.0061, SE = 0.07810 → ±1.96·SE = ±0.15308 → [14.69, 45.31].
    estimate = stats.nps(50, 30, 20)
    assert estimate is not None
    assert estimate.nps == pytest.approx(30.0)
    assert estimate.se == pytest.approx(7.8102, abs=1e-4)
    assert (estimate.ci_low, estimate.ci_high) == (
        pytest.approx(14.692, abs=1e-3),
        pytest.approx(45.308, abs=1e-3),
    )
    assert estimate.sufficient


def test_nps_edge_cases() -> None:
    assert stats.nps(0, 0, 0) is None
    everyone = stats.nps(12, 0, 0)
    assert everyone is not None and (everyone.nps, everyone.se, everyone.ci_high) == (100.0, 0.0, 100.0)
    small = stats.nps(3, 1, 1)
    assert small is not None and not small.sufficient, "5 answers: shown with a warning"
    assert stats.nps_from_scores([10, 9, 8, 7, 6, 0]) == stats.nps(2, 2, 2)


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
    single = stats.mean_interval(1, 6.0, 36.0)
    assert single is not None and (single.ci_low, single.ci_high) == (6.0, 6.0)
    assert stats.mean_interval(0, 0.0, 0.0) is None


def test_significance_of_a_change() -> None:
    # NPS 30 (n 100, SE 7.810) against NPS 10 (30/50/20 of 100: Var = (0.5 − 0.01)/100, SE 7.0):
    # difference 20, SE √(61 + 49) = 10.488, z = 1.907, p = 0.0565: not significant at 5 %.
    before, after = stats.nps(30, 50, 20), stats.nps(50, 30, 20)
    assert before is not None and after is not None
    change = stats.compare(after.nps, after.se, before.nps, before.se)
    assert change is not None
    assert (change.difference, change.se) == (pytest.approx(20.0), pytest.approx(10.488, abs=1e-3))
    assert (change.z, change.p_value) == (pytest.approx(1.907, abs=1e-3), pytest.approx(0.0565, abs=1e-3))
    assert not change.significant
    # the same shares on 400 answers each: SE halves, z = 3.81, p = 0.00014: significant.
    big_before, big_after = stats.nps(120, 200, 80), stats.nps(200, 120, 80)
    assert big_before is not None and big_after is not None
    big = stats.compare(big_after.nps, big_after.se, big_before.nps, big_before.se)
    assert big is not None and big.significant and big.p_value == pytest.approx(0.000139, abs=1e-5)
    assert stats.compare(1.0, 0.0, 1.0, 0.0) is None
