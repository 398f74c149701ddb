"""Extreme customers give finite numbers; data that cannot support a model gets a named, translated error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.analytics.clv import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    customer_lifetime_value,
    from_survivors,
)
from patron.analytics.clv.base import compress
from patron.analytics.clv.pareto_nbd import _log_a0_quadrature, log_a0
from patron.core.errors import PatronError

EXTREME = pd.DataFrame({
    "customer_id": ["heavy", "old-heavy", "long-gone", "new", "ancient", "daily"],
    "frequency": [5000, 300, 300, 0, 0, 100_000],
    "recency": [100.0, 1.0, 5.0, 0.0, 0.0, 1e5],
    "T": [100.0, 1000.0, 1e6, 0.0, 1e6, 1e5],
})  # fmt: skip


@pytest.mark.parametrize("model", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_extreme_customers_get_finite_predictions(cdnow: pd.DataFrame, model: type[BetaGeoModel]) -> None:
    fitted = model(cdnow).fit()
    p = np.asarray(list(fitted.params.values()))
    likelihood = fitted._loglik(
        p, {c: EXTREME[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")}
    )
    assert np.isfinite(likelihood).all(), likelihood
    alive = fitted.expected_probability_alive(EXTREME)["probability_alive"].to_numpy()
    assert np.isfinite(alive).all() and ((alive >= 0) & (alive <= 1)).all(), alive
    assert alive[0] > 0.9 and alive[1] < 1e-6, (
        "bought on the last day vs. silent for 999 weeks after 300 purchases"
    )
    expected = fitted.expected_purchases(EXTREME, future_t=52)["expected_purchases"].to_numpy()
    assert np.isfinite(expected).all() and (expected >= 0).all(), expected
    assert expected[0] > 1000, "a customer who bought 5,000 times in 100 weeks keeps buying"


def test_pareto_nbd_a0_is_exact_where_hyp2f1_fails() -> None:
    """Rows past SciPy's safe range go through the quadrature; it agrees with mpmath's ₂F₁ to 1e-10."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    cases = [  # (r, α, s, β, x, t_x, T)
        (0.55, 10.6, 0.61, 11.7, 2.0, 30.43, 38.86),  # CDNOW: both ways
        (0.55, 10.6, 0.61, 11.7, 300.0, 20.0, 80.0),  # heavy buyer, α < β
        (0.55, 200.0, 0.61, 0.5, 150.0, 1.0, 60.0),  # α ≫ β: z near 1
        (2.0, 0.3, 1.5, 90.0, 5000.0, 99.0, 100.0),  # α ≪ β, very heavy buyer
        (0.5, 1.0, 0.2, 1e3, 0.0, 0.0, 1e5),
    ]
    for r, alpha, s, beta, x, t_x, big_t in cases:
        a = r + s + x
        m, b = (alpha, s + 1) if alpha >= beta else (beta, r + x)
        z1, z2 = abs(alpha - beta) / (m + t_x), abs(alpha - beta) / (m + big_t)
        exact = mpmath.log(
            mpmath.hyp2f1(a, b, a + 1, z1) / mpmath.mpf(m + t_x) ** a
            - mpmath.hyp2f1(a, b, a + 1, z2) / mpmath.mpf(m + big_t) ** a
        )
        args = (np.array([x]), np.array([t_x]), np.array([big_t]))
        assert float(log_a0(r, alpha, s, beta, *args)[0]) == pytest.approx(float(exact), rel=1e-10, abs=1e-10)
        assert float(_log_a0_quadrature(r, alpha, s, beta, *args)[0]) == pytest.approx(
            float(exact), rel=1e-10, abs=1e-10
        )


def test_identical_customers_are_one_weighted_row(cdnow: pd.DataFrame) -> None:
    packed = compress(cdnow, ("frequency", "recency", "T"))
    assert packed.weights.sum() == 2357 and packed.size == len(
        cdnow.drop_duplicates(["frequency", "recency", "T"])
    )
    twice = pd.concat([cdnow, cdnow], ignore_index=True)
    single, double = BetaGeoModel(cdnow).fit(), BetaGeoModel(twice).fit()
    assert double.params == pytest.approx(single.params, rel=1e-8)
    assert double.log_likelihood == pytest.approx(2 * single.log_likelihood)
    # the interval narrows by √2 with twice the customers
    ratio = single.params_interval()["std_error"] / double.params_interval()["std_error"]
    assert ratio.to_numpy() == pytest.approx(np.sqrt(2), rel=1e-3)


def _code(call: object) -> str:
    with pytest.raises(PatronError) as caught:
        call()  # type: ignore[operator]
    message = caught.value.message("zh-Hant")
    assert message != caught.value.code, "translated"
    return caught.value.code


def test_bad_input_gets_a_named_error(cdnow: pd.DataFrame) -> None:
    assert _code(lambda: BetaGeoModel(cdnow.drop(columns=["recency"]))) == "clv.missing_column"
    with pytest.raises(PatronError) as missing:
        GammaGammaModel(cdnow.drop(columns=["monetary_value"]))
    assert "monetary_value" in missing.value.message("en")
    assert _code(lambda: BetaGeoModel(cdnow).fit("newton")) == "clv.unknown_method"
    with pytest.raises(PatronError) as unknown:
        BetaGeoModel(cdnow).fit("newton")
    assert "bfgs, l-bfgs-b, nelder-mead" in unknown.value.message("en")
    once = cdnow.assign(frequency=0, recency=0.0)
    assert _code(lambda: BetaGeoModel(once).fit()) == "clv.no_repeat_buyers"
    assert _code(lambda: GammaGammaModel(once).fit()) == "clv.no_repeat_buyers"
    few = once.copy()
    few.loc[:4, ["frequency", "recency"]] = [1, 1.0]
    assert _code(lambda: ParetoNBDModel(few).fit()) == "clv.too_few_repeat_buyers"
    free = cdnow.copy()
    free.loc[0, "monetary_value"] = 0.0
    with pytest.raises(PatronError) as zero:
        GammaGammaModel(free).fit()
    assert zero.value.code == "clv.nonpositive_spend" and zero.value.params["customer"] == "1"
    assert _code(lambda: BetaGeoModel(cdnow.assign(recency=cdnow["T"] + 1))) == "clv.recency_after_age"
    assert (
        _code(lambda: BetaGeoModel(cdnow.assign(frequency=cdnow["frequency"] + 0.5)))
        == "clv.frequency_not_whole"
    )
    bad = cdnow.copy()
    bad.loc[3, "T"] = float("nan")
    with pytest.raises(PatronError) as nan:
        BetaGeoModel(bad)
    assert (nan.value.code, nan.value.params["customer"], nan.value.params["column"]) == (
        "clv.bad_value",
        "4",
        "T",
    )
    assert _code(lambda: BetaGeoModel(cdnow).expected_purchases(future_t=10)) == "clv.not_fitted"
    fitted = BetaGeoModel(cdnow).fit()
    assert _code(lambda: fitted.expected_purchases(future_t=0)) == "clv.bad_horizon"
    spend = GammaGammaModel(cdnow).fit().expected_customer_spend()
    assert (
        _code(lambda: customer_lifetime_value(fitted, cdnow, expected_spend=spend, months=0))
        == "clv.bad_horizon"
    )
    assert (
        _code(lambda: customer_lifetime_value(fitted, cdnow, expected_spend=spend, time_unit="Y"))
        == "clv.unknown_time_unit"
    )
    assert (
        _code(lambda: customer_lifetime_value(fitted, cdnow.head(5), expected_spend=spend))
        == "clv.customers_differ"
    )
    assert _code(lambda: ShiftedBetaGeoModel(from_survivors([100, 100])).fit()) == "clv.no_variation"
    assert _code(lambda: from_survivors([100, 120])) == "clv.bad_survivors"


def test_data_that_cannot_pin_a_parameter_is_refused() -> None:
    """Repeat buyers who all kept buying to the end: nobody dropped out, so BG/NBD's dropout parameters run
    off to the edge; the fit says so instead of returning numbers."""
    rng = np.random.default_rng(7)
    n = 500
    frequency = rng.integers(1, 20, n)
    frame = pd.DataFrame({"customer_id": np.arange(n), "frequency": frequency, "recency": 52.0, "T": 52.0})
    with pytest.raises(PatronError) as caught:
        BetaGeoModel(frame).fit()
    assert caught.value.code in {"clv.not_identified", "clv.not_converged"}


def test_no_nan_spend_for_one_time_buyers(cdnow: pd.DataFrame) -> None:
    spend = GammaGammaModel(cdnow).fit().expected_customer_spend(cdnow)["expected_spend"]
    assert spend.notna().all() and (spend > 0).all()


def test_grouping_stays_exact_when_row_keys_collide(
    cdnow: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a mixing function that sends every row to one key, the row-by-row check falls back to the exact
    column-by-column grouping."""
    from patron.analytics.clv import base

    expected = cdnow.groupby(["frequency", "recency", "T"]).size()
    monkeypatch.setattr(base, "_MIX", (0, 0, 0, 0))
    packed = compress(cdnow, ("frequency", "recency", "T"))
    got = pd.Series(
        packed.weights, index=pd.MultiIndex.from_arrays(list(packed.columns.values()))
    ).sort_index()
    assert got.to_numpy().tolist() == expected.to_numpy().tolist()
    assert got.index.tolist() == expected.index.tolist()


def test_a_validation_whose_predictions_are_not_finite_is_refused_not_reported_as_nan(
    cdnow: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parameters at the edge of their range can give NaN predictions (seen on the demo with BG/NBD); the
    holdout error must then be a named refusal, never a stored NaN."""
    from patron.analytics.clv import holdout_validation

    fitted = BetaGeoModel(cdnow).fit()
    real = fitted.expected_purchases

    def two_nans(data: pd.DataFrame, future_t: float) -> pd.DataFrame:
        predicted = real(data, future_t=future_t).copy()
        predicted.loc[predicted.index[:2], "expected_purchases"] = np.nan
        return predicted

    monkeypatch.setattr(fitted, "expected_purchases", two_nans)
    with pytest.raises(PatronError) as refused:
        holdout_validation(fitted, cdnow)
    assert refused.value.code == "clv.prediction_not_finite"
    assert "no finite prediction for 2 customers" in refused.value.message("en")


@pytest.mark.parametrize("model", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_the_purchase_curve_is_expected_purchases_at_each_horizon(
    cdnow: pd.DataFrame, model: type[BetaGeoModel]
) -> None:
    """``purchase_curve`` shares work across horizons (BG/NBD's ₂F₁ tail per distinct (x, T), Pareto/NBD's
    P(alive) once) and gives ``expected_purchases``' numbers bit for bit, the extreme customers included."""
    fitted = model(cdnow).fit()
    rows = pd.concat([cdnow[list(EXTREME.columns)].astype({"customer_id": str}), EXTREME], ignore_index=True)
    horizons = [7.0, 30.0, 4.345, 365.0]
    curve = fitted.purchase_curve(rows, horizons)
    assert curve.shape == (len(rows), 4)
    for column, t in enumerate(horizons):
        expected = fitted.expected_purchases(rows, future_t=t)["expected_purchases"].to_numpy()
        assert np.array_equal(curve[:, column], expected, equal_nan=True), t
    with pytest.raises(PatronError) as error:
        fitted.purchase_curve(rows, [30.0, 0.0])
    assert error.value.code == "clv.bad_horizon"
