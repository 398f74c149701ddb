"""Key driver analysis: how much of an outcome's explained variance (R²) each predictor carries.

Two decompositions of the R² of an ordinary least-squares regression, both computed from correlations:

* **Shapley regression / LMG** (Lindeman, Merenda and Gold 1980; relaimpo's ``lmg``): a predictor's share is its
  gain in R² when it joins a subset of the others, averaged over every order in which the predictors can enter.
  Exact: the R² of all 2^p subsets is computed, so it is refused beyond ``MAX_SHAPLEY_PREDICTORS``.
* **Johnson's relative weights** (Johnson 2000): the predictors are replaced by their closest orthogonal
  counterparts Z = X (X'X)^-1/2, the outcome is regressed on Z, and each Z's R² is given back to the predictors in
  proportion to the squared loadings Λ = (X'X)^1/2. Cheap for any number of predictors.

Both give shares that are non-negative and sum to R². Percentile bootstrap intervals come from re-drawing rows
(seeded). Rows with a missing value (NaN) in the outcome or any predictor are left out (listwise) and counted;
predictors with one value only are dropped and named. Pure numpy; docs/drivers.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
import numpy.typing as npt

from patron.core.errors import PatronError

#: Exact Shapley regression needs the R² of 2^p subsets; beyond this it is refused.
MAX_SHAPLEY_PREDICTORS = 12
#: The fewest rows an analysis accepts, and the fewest per predictor.
MIN_ROWS = 30
ROWS_PER_PREDICTOR = 10
#: Eigenvalues of the predictors' correlation matrix below this (relative to the largest) mean collinearity.
COLLINEAR_TOLERANCE = 1e-10
#: Replicates are computed this many at a time (bounded memory).
REPLICATE_CHUNK = 50
#: Added to the diagonal of a replicate's subset correlation matrices (a replicate may make predictors coincide).
REPLICATE_RIDGE = 1e-9

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Importance:
    """Shares of R² per predictor (same order as ``names``) with their bootstrap percentile intervals."""

    names: tuple[str, ...]
    r_squared: float
    lmg: FloatArray
    johnson: FloatArray
    #: (p, 2) lower and upper bounds; NaN when no bootstrap was asked for.
    lmg_interval: FloatArray
    johnson_interval: FloatArray
    r_squared_interval: tuple[float, float]
    #: Rows used, and rows left out because a value was missing.
    rows: int
    missing: int
    #: Predictors left out because they take one value only.
    constant: tuple[str, ...]
    replicates: int
    level: float
    seed: int


# ----------------------------------------------------------------------------------------- from correlations
@lru_cache(maxsize=16)
def _subsets(p: int) -> tuple[tuple[int, npt.NDArray[np.intp], npt.NDArray[np.int64]], ...]:
    """Per subset size k ≥ 1: the subsets' member indices (m, k) and their bit masks (m,)."""
    out = []
    for k in range(1, p + 1):
        members = np.array(list(combinations(range(p), k)), dtype=np.intp).reshape(-1, k)
        masks = (np.int64(1) << members.astype(np.int64)).sum(axis=1)
        out.append((k, members, masks))
    return tuple(out)


def subset_r_squared(rxx: FloatArray, rxy: FloatArray, ridge: float = 0.0) -> FloatArray:
    """R² of every subset of predictors, indexed by bit mask (bit j set: predictor j in), from the predictors'
    correlation matrix ``rxx`` (…, p, p) and their correlations with the outcome ``rxy`` (…, p); leading axes are
    replicates. R²(S) = r_S' R_SS⁻¹ r_S. ``ridge`` (added to the diagonal) lets a bootstrap replicate whose rows
    happen to make two predictors coincide still have an R²; the analysis itself uses none."""
    rxx = np.asarray(rxx, dtype=np.float64)
    rxy = np.asarray(rxy, dtype=np.float64)
    p = rxy.shape[-1]
    lead = rxy.shape[:-1]
    r2 = np.zeros((*lead, 1 << p))
    for k, members, masks in _subsets(p):
        sub = rxx[..., members[:, :, None], members[:, None, :]]  # (…, m, k, k)
        vec = rxy[..., members]  # (…, m, k)
        if k == 1:
            values = vec[..., 0] ** 2 / np.where(sub[..., 0, 0] > 0, sub[..., 0, 0], 1.0)
        else:
            if ridge:
                sub = sub + ridge * np.eye(k)
            values = (vec * np.linalg.solve(sub, vec[..., None])[..., 0]).sum(axis=-1)
        r2[..., masks] = values
    return r2


@lru_cache(maxsize=16)
def _shapley_plan(p: int) -> tuple[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray], ...]:
    masks = np.arange(1 << p, dtype=np.int64)
    sizes = np.array([bin(int(m)).count("1") for m in masks])
    weights = np.array([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)])
    plan = []
    for j in range(p):
        bit = np.int64(1) << j
        without = masks[(masks & bit) == 0]
        plan.append((without, without | bit, weights[sizes[without]]))
    return tuple(plan)


def lmg(rxx: FloatArray, rxy: FloatArray, ridge: float = 0.0) -> FloatArray:
    """Shapley regression (LMG) shares of R², from correlations (leading axes are replicates)."""
    rxy = np.asarray(rxy, dtype=np.float64)
    p = rxy.shape[-1]
    if p > MAX_SHAPLEY_PREDICTORS:
        raise PatronError("drivers.too_many_predictors", count=p, limit=MAX_SHAPLEY_PREDICTORS)
    r2 = subset_r_squared(rxx, rxy, ridge)
    return _shapley_from(r2, p)


def _shapley_from(r2: FloatArray, p: int) -> FloatArray:
    shares = [(weight * (r2[..., with_j] - r2[..., without])).sum(axis=-1) for without, with_j, weight in
              _shapley_plan(p)]  # fmt: skip
    return np.stack(shares, axis=-1)


def johnson(rxx: FloatArray, rxy: FloatArray) -> FloatArray:
    """Johnson's relative weights, from correlations (leading axes are replicates): Λ = R^½ (symmetric square
    root), β = Λ⁺ r (the outcome on the orthogonal counterparts), weight_j = Σ_k Λ_jk² β_k²."""
    rxx = np.asarray(rxx, dtype=np.float64)
    rxy = np.asarray(rxy, dtype=np.float64)
    values, vectors = np.linalg.eigh(rxx)
    root = np.einsum("...ik,...k,...jk->...ij", vectors, np.sqrt(np.clip(values, 0.0, None)), vectors)
    beta = np.einsum("...ij,...j->...i", np.linalg.pinv(root, hermitian=True), rxy)
    weights: FloatArray = np.einsum("...jk,...k->...j", root**2, beta**2)
    return weights


# ------------------------------------------------------------------------------------------------ from data
def _correlations(data: FloatArray) -> FloatArray:
    """Correlation matrices of (…, n, q) data; a column with one value has correlation 0 with every other and 1
    with itself (a predictor a replicate happens not to vary carries nothing there)."""
    centred = data - data.mean(axis=-2, keepdims=True)
    cov = np.einsum("...ni,...nj->...ij", centred, centred)
    sd = np.sqrt(np.clip(np.diagonal(cov, axis1=-2, axis2=-1), 0.0, None))
    flat = sd <= 1e-12 * (1.0 + np.abs(data).max())
    safe = np.where(flat, 1.0, sd)
    corr = cov / safe[..., :, None] / safe[..., None, :]
    corr = np.where(flat[..., :, None] | flat[..., None, :], 0.0, corr)
    q = data.shape[-1]
    eye = np.eye(q, dtype=bool)
    return np.where(eye, 1.0, np.clip(corr, -1.0, 1.0))


def relative_importance(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    names: Sequence[str],
    *,
    bootstrap: int = 200,
    seed: int = 0,
    level: float = 0.95,
    min_rows: int = MIN_ROWS,
    rows_per_predictor: int = ROWS_PER_PREDICTOR,
) -> Importance:
    """Shapley (LMG) and Johnson shares of R² for predictors ``x`` (n, p) on outcome ``y`` (n,), with percentile
    intervals over ``bootstrap`` seeded re-draws of the rows (0: no intervals).

    Refused with a named error: no predictors, more than ``MAX_SHAPLEY_PREDICTORS``, fewer rows than
    max(``min_rows``, ``rows_per_predictor`` × p) after missing rows are left out, an outcome with one value,
    predictors that are exactly collinear (named)."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    if xs.ndim != 2 or xs.shape[0] != ys.shape[0] or xs.shape[1] != len(names):
        raise ValueError("x must be (n, p) with one name per column and one outcome per row")
    if not 0 < level < 1 or bootstrap < 0:
        raise ValueError("level must be in (0, 1) and bootstrap ≥ 0")
    complete = np.isfinite(ys) & np.isfinite(xs).all(axis=1)
    missing = int((~complete).sum())
    xs, ys = xs[complete], ys[complete]
    varies = (xs.max(axis=0, initial=-np.inf) > xs.min(axis=0, initial=np.inf)) if len(xs) else np.zeros(
        len(names), dtype=bool)  # fmt: skip
    constant = tuple(name for name, keep in zip(names, varies, strict=True) if not keep)
    kept = tuple(name for name, keep in zip(names, varies, strict=True) if keep)
    xs = xs[:, varies]
    p = len(kept)
    if p == 0:
        raise PatronError("drivers.no_predictors", constant=", ".join(constant) or "-")
    if p > MAX_SHAPLEY_PREDICTORS:
        raise PatronError("drivers.too_many_predictors", count=p, limit=MAX_SHAPLEY_PREDICTORS)
    needed = max(min_rows, rows_per_predictor * p)
    if len(ys) < needed:
        raise PatronError("drivers.too_few_rows", rows=len(ys), needed=needed, predictors=p, missing=missing)
    if not ys.max() > ys.min():
        raise PatronError("drivers.constant_outcome", value=f"{ys[0]:g}")
    corr = _correlations(np.column_stack([ys, xs]))
    rxx, rxy = corr[1:, 1:], corr[0, 1:]
    values, vectors = np.linalg.eigh(rxx)
    if values[0] < COLLINEAR_TOLERANCE * max(values[-1], 1.0):
        involved = np.abs(vectors[:, 0]) > 1e-6
        raise PatronError(
            "drivers.collinear", names=", ".join(n for n, i in zip(kept, involved, strict=True) if i)
        )
    shapley = lmg(rxx, rxy)
    weights = johnson(rxx, rxy)
    r2 = float(subset_r_squared(rxx, rxy)[(1 << p) - 1])
    nan2 = np.full((p, 2), np.nan)
    intervals = (nan2, nan2.copy(), (math.nan, math.nan))
    if bootstrap:
        intervals = _bootstrap(xs, ys, bootstrap, seed, level)
    return Importance(
        names=kept, r_squared=r2, lmg=shapley, johnson=weights, lmg_interval=intervals[0],
        johnson_interval=intervals[1], r_squared_interval=intervals[2], rows=len(ys), missing=missing,
        constant=constant, replicates=bootstrap, level=level, seed=seed,
    )  # fmt: skip


def _bootstrap(
    xs: FloatArray, ys: FloatArray, replicates: int, seed: int, level: float
) -> tuple[FloatArray, FloatArray, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    n, p = xs.shape
    data = np.column_stack([ys, xs])
    shapley, weights, r2 = [], [], []
    full = (1 << p) - 1
    for start in range(0, replicates, REPLICATE_CHUNK):
        count = min(REPLICATE_CHUNK, replicates - start)
        rows = rng.integers(0, n, size=(count, n))
        corr = _correlations(data[rows])
        rxx, rxy = corr[:, 1:, 1:], corr[:, 0, 1:]
        subsets = subset_r_squared(rxx, rxy, REPLICATE_RIDGE)
        shapley.append(_shapley_from(subsets, p))
        weights.append(johnson(rxx, rxy))
        r2.append(subsets[:, full])
    tail = (1 - level) / 2
    qs = [tail, 1 - tail]
    lmg_bounds = np.quantile(np.concatenate(shapley), qs, axis=0).T
    johnson_bounds = np.quantile(np.concatenate(weights), qs, axis=0).T
    low, high = np.quantile(np.concatenate(r2), qs)
    return lmg_bounds, johnson_bounds, (float(low), float(high))
