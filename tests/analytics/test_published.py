"""The models reproduce the published estimates, and agree with lifetimes where it is installed."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from patron.analytics.clv import (
    METHODS,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    customer_lifetime_value,
    from_survivors,
    holdout_validation,
)


def test_bg_nbd_reproduces_fader_hardie_lee_2005(cdnow: pd.DataFrame) -> None:
    model = BetaGeoModel(cdnow).fit()
    # FHL 2005, section 4: r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4
    assert {k: round(v, 3) for k, v in model.params.items()} == {
        "r": 0.243,
        "alpha": 4.414,
        "a": 0.793,
        "b": 2.426,
    }
    assert round(model.log_likelihood, 1) == -9582.4
    # Hardie's note "Implementing the BG/NBD model in Excel": customer 1 (x = 2, t_x = 30.43, T = 38.86)
    # expects 1.226 purchases in the next 39 weeks
    first = model.expected_purchases(cdnow.head(1), future_t=39)
    assert round(float(first["expected_purchases"].iloc[0]), 3) == 1.226


def test_every_method_finds_the_same_optimum(cdnow: pd.DataFrame) -> None:
    reference = BetaGeoModel(cdnow).fit().params
    for method in METHODS:
        params = BetaGeoModel(cdnow).fit(method).params
        assert params == pytest.approx(reference, rel=1e-6), method


def test_pareto_nbd_reproduces_fader_hardie_2005(cdnow: pd.DataFrame) -> None:
    model = ParetoNBDModel(cdnow).fit()
    # Fader & Hardie, "A note on deriving the Pareto/NBD model" (2005): r 0.553, α 10.578, s 0.606, β 11.669
    assert {k: round(v, 3) for k, v in model.params.items()} == {
        "r": 0.553,
        "alpha": 10.578,
        "s": 0.606,
        "beta": 11.669,
    }
    assert round(model.log_likelihood, 1) == -9595.0


def test_gamma_gamma_reproduces_fader_hardie_2013(cdnow: pd.DataFrame) -> None:
    model = GammaGammaModel(cdnow).fit()
    # Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013), 946 repeat buyers: p 6.25, q 3.74, γ 15.44
    assert {k: round(v, 2) for k, v in model.params.items()} == {"p": 6.25, "q": 3.74, "v": 15.44}
    spend = model.expected_customer_spend(cdnow)["expected_spend"].to_numpy()
    p, q, v = model.params.values()
    # a one-time buyer gets the population mean pγ/(q−1); customer 1 (x = 2, mean 22.345) a weighted mean
    assert spend[2] == pytest.approx(p * v / (q - 1))
    assert spend[0] == pytest.approx(p * (v + 2 * 22.345) / (2 * p + q - 1))


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta"),
    [
        ([1000, 631, 468, 382, 326, 289, 262, 241], 0.704, 1.182),
        ([1000, 869, 743, 653, 593, 551, 517, 491], 0.668, 3.806),
    ],
)
def test_shifted_beta_geometric_reproduces_fader_hardie_2007(
    survivors: list[int], alpha: float, beta: float
) -> None:
    model = ShiftedBetaGeoModel(from_survivors(survivors)).fit()
    assert (round(model.params["alpha"], 3), round(model.params["beta"], 3)) == (alpha, beta)
    # retention rate r_t = (β+t−1)/(α+β+t−1), survival S(1) = β/(α+β): hand-computed from the estimates
    a, b = model.params["alpha"], model.params["beta"]
    assert model.expected_retention_rate(2)["retention_rate"].tolist() == pytest.approx(
        [b / (a + b), (b + 1) / (a + b + 1)]
    )
    assert model.expected_survival(1)["survival"].tolist() == pytest.approx([1.0, b / (a + b)])
    # S(t)/S(t−1) = r_t, and the fitted curve stays near the observed survivors
    survival = model.expected_survival(7)["survival"].to_numpy()
    assert np.max(np.abs(survival * 1000 - np.array(survivors))) < 20  # within 2 % of the cohort


def test_bg_nbd_expectations_match_the_closed_forms_written_out(cdnow: pd.DataFrame) -> None:
    """FHL 2005 eq. 10 and the unconditional E[X(t)], written as published (without the Euler transformation
    the model uses), and the telescoping of an undiscounted CLV."""
    model = BetaGeoModel(cdnow).fit()
    r, alpha, a, b = model.params.values()
    x, t_x, big_t, t = 2.0, 30.43, 38.86, 39.0
    z = t / (alpha + big_t + t)
    numerator = (
        (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
    )
    expected = numerator / (1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x))
    row = pd.DataFrame({"customer_id": [1], "frequency": [x], "recency": [t_x], "T": [big_t]})
    assert model.expected_purchases(row, future_t=t)["expected_purchases"].iloc[0] == pytest.approx(
        expected, rel=1e-12
    )
    new = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    assert model.expected_purchases_new_customer(t)["expected_purchases"].iloc[0] == pytest.approx(
        new, rel=1e-12
    )
    alive = 1 / (1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x))
    assert model.expected_probability_alive(row)["probability_alive"].iloc[0] == pytest.approx(
        alive, rel=1e-12
    )


def test_clv_is_the_discounted_sum_of_monthly_purchases_times_spend(cdnow: pd.DataFrame) -> None:
    purchases = BetaGeoModel(cdnow).fit()
    spend = GammaGammaModel(cdnow).fit().expected_customer_spend(cdnow)
    few = cdnow.head(3)
    few_spend = spend.head(3)
    flat = customer_lifetime_value(
        purchases, few, expected_spend=few_spend, months=12, discount_rate=0.0, time_unit="W"
    )
    year = purchases.expected_purchases(few, future_t=12 * 4.345)["expected_purchases"].to_numpy()
    assert flat["clv"].to_numpy() == pytest.approx(year * few_spend["expected_spend"].to_numpy(), rel=1e-12)
    # with 1 % a month: customer 1 by hand, month by month
    worth = customer_lifetime_value(
        purchases, few, expected_spend=few_spend, months=3, discount_rate=0.01, time_unit="W"
    )
    cumulative = [0.0] + [
        purchases.expected_purchases(few.head(1), future_t=k * 4.345)["expected_purchases"].iloc[0]
        for k in (1, 2, 3)
    ]
    by_hand = sum(
        few_spend["expected_spend"].iloc[0] * (cumulative[k] - cumulative[k - 1]) / 1.01**k for k in (1, 2, 3)
    )
    assert worth["clv"].iloc[0] == pytest.approx(by_hand, rel=1e-12)


def test_holdout_validation_on_cdnow(cdnow: pd.DataFrame) -> None:
    report = holdout_validation(BetaGeoModel(cdnow).fit(), cdnow)
    assert report.actual_total == 1882  # purchase days in weeks 40–78 of the 2,357 customers
    assert report.predicted_total == pytest.approx(1653.4, abs=0.1)
    per = report.per_customer
    assert report.mean_absolute_error == pytest.approx(
        float(np.mean(np.abs(per["actual"] - per["predicted"])))
    )
    plot = report.by_frequency
    assert plot["label"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert plot["customers"].sum() == 2357 and plot["customers"].iloc[0] == 1411
    # the groups' means are the per-customer means: 7+ holds 64 customers
    heavy = per[per["frequency"] >= 7]
    assert plot["actual"].iloc[-1] == pytest.approx(heavy["actual"].mean()) and len(heavy) == 64


def test_mbg_nbd_fits_and_lets_one_time_buyers_be_gone(cdnow: pd.DataFrame) -> None:
    model = ModifiedBetaGeoModel(cdnow).fit()
    assert model.log_likelihood > BetaGeoModel(cdnow).fit().log_likelihood - 1  # about as good a fit
    alive = model.expected_probability_alive(cdnow)["probability_alive"].to_numpy()
    r, alpha, a, b = model.params.values()
    # a one-time buyer (x = 0, t_x = 0, T): 1 / (1 + a/b · ((α+T)/α)^r)
    big_t = cdnow["T"].iloc[2]
    assert alive[2] == pytest.approx(1 / (1 + a / b * ((alpha + big_t) / alpha) ** r)) and alive[2] < 1


lifetimes = (
    pytest.importorskip("lifetimes")
    if not os.environ.get("PATRON_REQUIRE_LIFETIMES")
    else __import__("lifetimes")
)


def test_parameters_and_predictions_equal_lifetimes(cdnow: pd.DataFrame) -> None:
    x, t_x, big_t = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ours = BetaGeoModel(cdnow).fit()
    theirs = lifetimes.BetaGeoFitter().fit(x, t_x, big_t)
    assert ours.params == pytest.approx(theirs.params_.to_dict(), rel=1e-4)
    pareto = ParetoNBDModel(cdnow).fit()
    # lifetimes' Pareto/NBD runs Nelder-Mead from a random start with tol 1e-4, which leaves ~1e-4 between
    # runs: asked for its optimum (tol 1e-10), it agrees to ~1e-7
    np.random.seed(0)
    reference = lifetimes.ParetoNBDFitter().fit(x, t_x, big_t, tol=1e-10, maxiter=20_000)
    assert pareto.params == pytest.approx(reference.params_.to_dict(), rel=1e-4)
    repeat = cdnow[cdnow["frequency"] > 0]
    spend = GammaGammaModel(cdnow).fit()
    assert spend.params == pytest.approx(
        lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"]).params_.to_dict(),
        rel=1e-4,
    )
    # predictions at the same parameters agree to rounding
    theirs.params_ = pd.Series(ours.params)
    theirs.predict = theirs.conditional_expected_number_of_purchases_up_to_time
    ref = theirs.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, big_t).to_numpy()
    assert ours.expected_purchases(future_t=39)["expected_purchases"].to_numpy() == pytest.approx(
        ref, rel=1e-9
    )
    p_nbd = lifetimes.ParetoNBDFitter()
    p_nbd.params_ = pd.Series(pareto.params)
    assert pareto.expected_probability_alive()["probability_alive"].to_numpy() == pytest.approx(
        p_nbd.conditional_probability_alive(x, t_x, big_t), rel=1e-9
    )
    gg = lifetimes.GammaGammaFitter()
    gg.params_ = pd.Series(spend.params)
    clv = gg.customer_lifetime_value(
        theirs, x, t_x, big_t, cdnow["monetary_value"], time=12, discount_rate=0.01, freq="W"
    )
    mine = customer_lifetime_value(
        ours, cdnow, expected_spend=spend.expected_customer_spend(cdnow), time_unit="W"
    )
    assert mine["clv"].to_numpy() == pytest.approx(clv.to_numpy(), rel=1e-9)
