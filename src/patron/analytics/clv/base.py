"""What every CLV model shares: checking the input frame, compressing it, maximum-likelihood fitting in
log-parameters, and standard errors.

Customers with identical sufficient statistics (for BG/NBD, (frequency, recency, T)) contribute identical
likelihood terms, so a fit works on the distinct rows with their counts as weights. Real order data is
counted in whole days, so a million customers collapse to a few thousand rows, and a fit costs about as
much as one on a few thousand customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, stats

from patron.core.errors import PatronError

Array = npt.NDArray[np.float64]
#: Optimisers ``fit`` accepts (scipy.optimize.minimize methods over the log-parameters).
METHODS: tuple[str, ...] = ("bfgs", "l-bfgs-b", "nelder-mead")
#: A fit needs at least this many customers who bought again: with fewer, the dropout process is a guess.
MIN_REPEAT_BUYERS = 10
#: |log parameter| beyond this means the likelihood kept improving towards 0 or infinity: not identified.
_LOG_BOUND = 25.0
#: a standard error of a log-parameter above this (a 95 % interval wider than a factor e^±10) means the data
#: leave the parameter free: the likelihood is flat along it
_LOG_SE_BOUND = 5.0


@dataclass(frozen=True)
class Compressed:
    """The distinct rows of the likelihood columns, and how many customers share each."""

    columns: dict[str, Array]
    weights: Array

    @property
    def size(self) -> int:
        return int(self.weights.size)


_MIX = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5)


def compress(frame: pd.DataFrame, columns: Sequence[str]) -> Compressed:
    """Distinct rows of ``columns`` with their counts (see ``distinct_rows``)."""
    values = [
        np.ascontiguousarray(frame[name].to_numpy(dtype=np.float64)) + 0.0 for name in columns
    ]  # -0.0 → 0.0
    codes, firsts = distinct_rows(values)
    weights = np.bincount(codes).astype(np.float64)
    return Compressed({name: column[firsts] for name, column in zip(columns, values, strict=True)}, weights)


def distinct_rows(values: Sequence[Array]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each row's group among the distinct rows of the columns ``values`` (numbered in order of first
    appearance) and each group's first row.

    The bit patterns of each row's values are mixed into one 64-bit key and the keys factorised once (1M rows:
    ~0.05 s, against ~0.4 s factorising column by column). Two different rows could share a key; every row
    is therefore compared with its group's first row, and if any differs the exact column-by-column grouping
    is used instead."""
    size = len(values[0]) if len(values) else 0
    key = np.zeros(size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i, column in enumerate(values):
            bits = column.view(np.uint64)
            key = (key ^ (bits * np.uint64(_MIX[i % 4]))) * np.uint64(_MIX[(i + 1) % 4])
            key ^= key >> np.uint64(29)
    codes = pd.factorize(key, sort=False)[0].astype(np.int64)
    firsts = _first_rows(codes)
    if not all(np.array_equal(column[firsts][codes], column) for column in values):
        codes = np.zeros(size, dtype=np.int64)
        for column in values:
            part, uniques = pd.factorize(column, sort=False)
            codes = pd.factorize(codes * np.int64(len(uniques)) + part, sort=False)[0].astype(np.int64)
        firsts = _first_rows(codes)
    return codes, firsts


def _first_rows(codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each group's first row: codes are numbered in order of first appearance, so a group starts where the
    running maximum of the codes grows."""
    if not len(codes):
        return codes
    running = np.maximum.accumulate(codes)
    return np.flatnonzero(np.concatenate(([True], running[1:] > running[:-1])))


def require_columns(frame: pd.DataFrame, columns: Sequence[str], model: str) -> None:
    """Name the first missing column, so the caller knows what to add."""
    if not isinstance(frame, pd.DataFrame):
        raise PatronError("clv.not_a_frame", model=model)
    for name in columns:
        if name not in frame.columns:
            raise PatronError("clv.missing_column", column=name, model=model, required=list(columns))


def require_numbers(frame: pd.DataFrame, columns: Sequence[str], model: str) -> None:
    """Every value a finite number that is not negative; the first bad one is named with its customer."""
    for name in columns:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise PatronError(
                "clv.bad_value", column=name, customer=_customer(frame, row), value=str(frame[name].iloc[row]),
                model=model,
            )  # fmt: skip


def _customer(frame: pd.DataFrame, row: int) -> str:
    if "customer_id" in frame.columns:
        return str(frame["customer_id"].iloc[row])
    return f"#{row + 1}"


def first_bad(frame: pd.DataFrame, mask: npt.NDArray[np.bool_]) -> tuple[int, str]:
    """How many rows ``mask`` marks and the first one's customer."""
    rows = np.flatnonzero(mask)
    return len(rows), _customer(frame, int(rows[0]))


class CLVModel:
    """Maximum likelihood over the compressed data; subclasses give the per-row log-likelihood (and its
    gradient where it has a closed form)."""

    name: ClassVar[str]
    required_columns: ClassVar[tuple[str, ...]]
    #: the columns the likelihood depends on (compressed together)
    likelihood_columns: ClassVar[tuple[str, ...]]
    param_names: ClassVar[tuple[str, ...]]
    initial: ClassVar[tuple[float, ...]]

    def __init__(self, data: pd.DataFrame) -> None:
        require_columns(data, self.required_columns, self.name)
        require_numbers(data, [c for c in self.required_columns if c != "customer_id"], self.name)
        self.data = data
        self.params: dict[str, float] = {}
        self.log_likelihood: float = float("nan")
        self._theta: Array | None = None
        self._covariance: Array | None = None

    # -- to be given by each model -------------------------------------------------------------------------
    def _fit_data(self) -> pd.DataFrame:
        """The rows the likelihood is summed over (Gamma-Gamma keeps only repeat buyers)."""
        return self.data

    def _loglik(self, p: Array, c: dict[str, Array]) -> Array:
        raise NotImplementedError

    def _initial(self, c: dict[str, Array], weights: Array) -> Array:
        """Where the search starts (log-parameters are searched, so only the scale matters)."""
        return np.asarray(self.initial, dtype=np.float64)

    def _loglik_grad(self, p: Array, c: dict[str, Array]) -> Array | None:
        """d loglik / d parameter per row (shape parameters × rows), or None to differentiate numerically."""
        return None

    # -- fitting ---------------------------------------------------------------------------------------------
    def fit(self, method: str = "bfgs") -> Self:
        """Maximum-likelihood estimates; ``method`` is one of METHODS."""
        if method not in METHODS:
            raise PatronError("clv.unknown_method", method=method, choices=list(METHODS))
        data = self._fit_data()
        compressed = compress(data, self.likelihood_columns)
        total = float(compressed.weights.sum())
        cols, weights = compressed.columns, compressed.weights

        def objective(theta: Array) -> float:
            with np.errstate(all="ignore"):
                value = -float(weights @ self._loglik(np.exp(theta), cols)) / total
            return value if np.isfinite(value) else 1e300

        def gradient(theta: Array) -> Array:
            p = np.exp(theta)
            with np.errstate(all="ignore"):
                rows = self._loglik_grad(p, cols)
            if rows is None:
                return _central_gradient(objective, theta)
            return -(rows @ weights) * p / total

        theta0 = np.log(self._initial(cols, weights))
        options: dict[str, Any] = {"maxiter": 2000}
        if method == "nelder-mead":
            options |= {"xatol": 1e-10, "fatol": 1e-14, "maxfev": 20_000}
            result = optimize.minimize(objective, theta0, method="Nelder-Mead", options=options)
            for _ in range(5):  # a simplex can collapse early on a flat ridge: restart it where it stopped
                again = optimize.minimize(objective, result.x, method="Nelder-Mead", options=options)
                done = result.fun - again.fun < 1e-13
                result = again
                if done:
                    break
        else:
            options |= {"gtol": 1e-10} if method == "bfgs" else {"gtol": 1e-10, "ftol": 1e-15}
            if method == "bfgs" and type(self)._loglik_grad is CLVModel._loglik_grad:
                # without a gradient formula each BFGS step costs 2k evaluations: start it with the curvature
                # at the starting point (2k² + 1 evaluations once), not the identity (Pareto/NBD on CDNOW: 357
                # evaluations → 240; its likelihood is ill-conditioned along s and β)
                start = _hessian_from_values(objective, theta0)
                if np.all(np.isfinite(start)) and np.all(np.linalg.eigvalsh(start) > 0):
                    inverse = np.linalg.inv(start)
                    options["hess_inv0"] = (inverse + inverse.T) / 2
            result = optimize.minimize(
                objective, theta0, jac=gradient, method="BFGS" if method == "bfgs" else "L-BFGS-B", options=options
            )  # fmt: skip
        if method == "nelder-mead" and not result.success:
            raise PatronError("clv.not_converged", model=self.name, reason=str(result.message))
        theta = np.asarray(result.x, dtype=np.float64)
        analytic = type(self)._loglik_grad is not CLVModel._loglik_grad

        def hessian(at: Array) -> Array:
            return _hessian(gradient, at) if analytic else _hessian_from_values(objective, at)

        last_hessian = None
        if (
            method != "nelder-mead" and analytic
        ):  # by central differences, BFGS's answer is as good (measured)
            theta, last_hessian = _newton_polish(objective, gradient, hessian, theta)
        final = objective(theta)
        if not np.isfinite(final) or final >= 1e300:
            raise PatronError("clv.not_converged", model=self.name, reason="the likelihood is not finite")
        if np.any(np.abs(theta) > _LOG_BOUND):
            far = self.param_names[int(np.argmax(np.abs(theta)))]
            raise PatronError("clv.not_identified", model=self.name, param=far)
        slope = float(np.max(np.abs(gradient(theta))))
        if slope > 1e-4:
            raise PatronError("clv.not_converged", model=self.name, reason=f"gradient {slope:.2g}")
        self._theta = theta
        self.log_likelihood = -final * total
        # the Hessian of the last Newton step is within one tiny step of the optimum: reused (33 evaluations)
        self._covariance = _covariance((hessian(theta) if last_hessian is None else last_hessian) * total)
        log_se = np.sqrt(np.abs(np.diag(self._covariance)))
        if not np.all(np.isfinite(log_se)) or np.any(log_se > _LOG_SE_BOUND):
            loose = int(np.argmax(np.where(np.isfinite(log_se), log_se, np.inf)))
            raise PatronError("clv.not_identified", model=self.name, param=self.param_names[loose])
        self.params = dict(zip(self.param_names, np.exp(theta).tolist(), strict=True))
        return self

    def _require_fit(self) -> dict[str, float]:
        if not self.params:
            raise PatronError("clv.not_fitted", model=self.name)
        return self.params

    def _p(self) -> Array:
        return np.asarray([self._require_fit()[name] for name in self.param_names], dtype=np.float64)

    # -- uncertainty ---------------------------------------------------------------------------------------
    def params_interval(self, level: float = 0.95) -> pd.DataFrame:
        """Each parameter's estimate, standard error and a Wald interval on the log scale (so it stays
        positive), from the inverse Hessian of the log-likelihood."""
        self._require_fit()
        assert self._theta is not None and self._covariance is not None
        z = float(stats.norm.ppf(0.5 + level / 2))
        log_se = np.sqrt(np.clip(np.diag(self._covariance), 0, None))
        estimate = np.exp(self._theta)
        return pd.DataFrame(
            {
                "param": list(self.param_names),
                "estimate": estimate,
                "std_error": estimate * log_se,  # delta method
                "lower": np.exp(self._theta - z * log_se),
                "upper": np.exp(self._theta + z * log_se),
            }
        )

    def _frame(self, data: pd.DataFrame | None, columns: Sequence[str]) -> pd.DataFrame:
        """The customers to predict for: the fitted data, or a new frame checked like the fitted one."""
        if data is None:
            return self.data
        require_columns(data, columns, self.name)
        require_numbers(data, [c for c in columns if c != "customer_id"], self.name)
        return data

    @staticmethod
    def _out(frame: pd.DataFrame, name: str, values: Array) -> pd.DataFrame:
        ids = frame["customer_id"].to_numpy() if "customer_id" in frame.columns else np.arange(len(frame))
        return pd.DataFrame({"customer_id": ids, name: values})


def _central_gradient(f: Any, theta: Array, h: float = 1e-5) -> Array:
    """Central differences in the log-parameters: truncation ~h², rounding ~1e-16/h, both < 1e-10 here."""
    grad = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        grad[i] = (f(theta + step) - f(theta - step)) / (2 * h)
    return grad


def _hessian(gradient: Any, theta: Array, h: float = 1e-4) -> Array:
    k = theta.size
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h
        hess[i] = (gradient(theta + step) - gradient(theta - step)) / (2 * h)
    return (hess + hess.T) / 2


def _hessian_from_values(f: Any, theta: Array, h: float = 1e-4) -> Array:
    """Second differences of the objective: 2k² + 1 evaluations, for models without an analytic gradient."""
    k = theta.size
    eye = np.eye(k) * h
    centre = f(theta)
    hess = np.empty((k, k))
    for i in range(k):
        hess[i, i] = (f(theta + eye[i]) - 2 * centre + f(theta - eye[i])) / h**2
        for j in range(i):
            hess[i, j] = hess[j, i] = (
                f(theta + eye[i] + eye[j]) - f(theta + eye[i] - eye[j])
                - f(theta - eye[i] + eye[j]) + f(theta - eye[i] - eye[j])
            ) / (4 * h**2)  # fmt: skip
    return hess


def _newton_polish(
    objective: Any, gradient: Any, hessian: Any, theta: Array, steps: int = 3
) -> tuple[Array, Array | None]:
    """A few Newton steps after the quasi-Newton search, so the estimates are the optimum to ~1e-10 rather
    than to the optimiser's tolerance; a step that does not lower the objective is not taken. Returns the
    point and the last Hessian computed."""
    best = objective(theta)
    hess = None
    for _ in range(steps):
        grad = gradient(theta)
        hess = hessian(theta)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        candidate = theta - step
        value = objective(candidate)
        if not value <= best:
            break
        theta, best = candidate, value
        if np.max(np.abs(step)) < 1e-9:
            break
    return theta, hess


def _covariance(hess: Array) -> Array:
    """Covariance of the log-parameters: the inverse Hessian of the summed negative log-likelihood (NaN when
    it is not positive definite: not a maximum, or a flat one)."""
    if not np.all(np.isfinite(hess)) or np.any(np.linalg.eigvalsh(hess) <= 0):
        return np.full_like(hess, np.nan)
    try:
        return np.asarray(np.linalg.inv(hess), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.full_like(hess, np.nan)


TRANSACTION_COLUMNS = ("customer_id", "frequency", "recency", "T")


class TransactionModel(CLVModel):
    """Models of when customers buy (BG/NBD, MBG/NBD, Pareto/NBD) over an RFM summary: ``frequency`` =
    repeat purchases (purchase days after the first), ``recency`` = time from the first to the last
    purchase, ``T`` = time from the first purchase to the end of observation, in one time unit."""

    required_columns = TRANSACTION_COLUMNS
    likelihood_columns = ("frequency", "recency", "T")

    def __init__(self, data: pd.DataFrame) -> None:
        super().__init__(data)
        _check_summary(data, self.name)

    def _initial(self, c: dict[str, Array], weights: Array) -> Array:
        """r = 1 and α, β at the scale of the data: purchase rate r/α near the observed repeat rate."""
        mean_t = max(float(weights @ c["T"]) / float(weights.sum()), 1e-6)
        mean_x = max(float(weights @ c["frequency"]) / float(weights.sum()), 1e-3)
        start = dict(zip(self.param_names, self.initial, strict=True))
        start["alpha"] = mean_t / mean_x
        if "beta" in start:
            start["beta"] = mean_t
        return np.asarray(list(start.values()), dtype=np.float64)

    def _fit_data(self) -> pd.DataFrame:
        repeaters = int((self.data["frequency"].to_numpy() > 0).sum())
        if repeaters == 0:
            raise PatronError("clv.no_repeat_buyers", model=self.name, customers=len(self.data))
        if repeaters < MIN_REPEAT_BUYERS:
            raise PatronError(
                "clv.too_few_repeat_buyers", model=self.name, repeaters=repeaters, minimum=MIN_REPEAT_BUYERS
            )
        return self.data

    def _columns(self, data: pd.DataFrame | None) -> tuple[pd.DataFrame, Array, Array, Array]:
        frame = self._frame(data, TRANSACTION_COLUMNS)
        if data is not None:
            _check_summary(frame, self.name)
        return (
            frame,
            frame["frequency"].to_numpy(dtype=np.float64),
            frame["recency"].to_numpy(dtype=np.float64),
            frame["T"].to_numpy(dtype=np.float64),
        )

    def expected_probability_alive(self, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """P(still a customer at the end of observation | frequency, recency, T)."""
        frame, x, t_x, big_t = self._columns(data)
        with np.errstate(all="ignore"):
            return self._out(frame, "probability_alive", self._probability_alive(self._p(), x, t_x, big_t))

    def expected_purchases(self, data: pd.DataFrame | None = None, *, future_t: float) -> pd.DataFrame:
        """Expected purchases in the next ``future_t`` time units, given each customer's history."""
        _check_horizon(future_t)
        frame, x, t_x, big_t = self._columns(data)
        with np.errstate(all="ignore"):
            values = self._conditional_purchases(self._p(), np.full_like(x, float(future_t)), x, t_x, big_t)
        return self._out(frame, "expected_purchases", values)

    def purchase_curve(self, data: pd.DataFrame | None, horizons: Sequence[float]) -> Array:
        """``expected_purchases`` at every horizon (rows × horizons) in one call: the models compute what the
        horizons share once (CLV asks for 12 monthly horizons; the values are those of ``expected_purchases``,
        bit for bit)."""
        for t in horizons:
            _check_horizon(t)
        _, x, t_x, big_t = self._columns(data)
        with np.errstate(all="ignore"):
            return self._purchase_curve(self._p(), np.asarray(horizons, dtype=np.float64), x, t_x, big_t)

    def _purchase_curve(self, p: Array, horizons: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        """One column of ``_conditional_purchases`` a horizon (a model may share work across them)."""
        columns = [self._conditional_purchases(p, np.full_like(x, t), x, t_x, big_t) for t in horizons]
        return np.stack(columns, axis=1) if columns else np.zeros((x.size, 0))

    def expected_purchases_new_customer(self, t: Sequence[float] | float) -> pd.DataFrame:
        """Expected purchases of a newly acquired customer in ``(0, t]`` (the model's unconditional curve)."""
        times = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if np.any(~np.isfinite(times)) or np.any(times < 0):
            raise PatronError("clv.bad_horizon", horizon=str(t))
        zero = np.zeros_like(times)
        with np.errstate(all="ignore"):
            values = self._conditional_purchases(self._p(), times, zero, zero, zero)
        return pd.DataFrame({"t": times, "expected_purchases": values})

    def _probability_alive(self, p: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        raise NotImplementedError

    def _conditional_purchases(self, p: Array, t: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        raise NotImplementedError


def _check_summary(frame: pd.DataFrame, model: str) -> None:
    """Whole repeat counts, recency within the observation, no recency without a repeat purchase."""
    x = frame["frequency"].to_numpy(dtype=np.float64)
    t_x = frame["recency"].to_numpy(dtype=np.float64)
    big_t = frame["T"].to_numpy(dtype=np.float64)
    for code, mask in (
        ("clv.frequency_not_whole", x != np.round(x)),
        ("clv.recency_after_age", t_x > big_t),
        ("clv.recency_without_repeat", (x == 0) & (t_x > 0)),
    ):
        if mask.any():
            count, customer = first_bad(frame, mask)
            raise PatronError(code, model=model, count=count, customer=customer)


def _check_horizon(t: float) -> None:
    if not (isinstance(t, int | float) and np.isfinite(t) and t > 0):
        raise PatronError("clv.bad_horizon", horizon=str(t))
