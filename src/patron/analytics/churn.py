"""Churn risk: a gradient-boosting classifier over behaviour, satisfaction and the CLV model's probability alive,
evaluated out of time, with each customer's top reasons.

Pure functions over pandas frames (no database, no web): ``service`` reads orders and answers and stores scores.

Definitions (docs/churn.md):

* a customer *churned* after a cut-off day when they bought nothing in the ``window_days`` days after it;
  only customers with a purchase on or before the cut-off are scored;
* features are computed from what was known on the cut-off day only;
* out-of-time evaluation: train on features at ``cutoff − window`` with labels from the window up to ``cutoff``,
  test on features at ``cutoff`` with labels from the next window (or, without a later window, any earlier pair).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from patron.core.errors import PatronError

#: the model's feature columns, in order
FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "usual_gap_days",
    "recency_ratio",
    "trend",
    "last_score",
    "detractor",
    "probability_alive",
)
#: an NPS answer of 0–6 is a detractor (on the 0–10 scale); other scales: the bottom 60 % of the scale
DETRACTOR_SHARE = 0.6
TREND_DAYS = 90
#: the mean amount a purchase day is rounded to this many decimals: sums of the same amounts in another order
#: (pandas here; DuckDB or Spark in ``scoring``) differ in the last bit, and a tree's threshold can sit exactly
#: on a customer's value, so without rounding one customer in thousands got another risk on another engine
MONETARY_DECIMALS = 9
#: a feature must raise the risk by at least half a percentage point to be named as a reason
MIN_CONTRIBUTION = 0.005


@dataclass(frozen=True)
class ChurnDefinition:
    """No purchase in ``window_days`` days after the cut-off."""

    window_days: int = 90

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise PatronError("churn.bad_window", days=str(self.window_days))


def behaviour_features(orders: pd.DataFrame, cutoff: date) -> pd.DataFrame:
    """Per customer with a purchase on or before ``cutoff``, from ``orders`` (customer_id, day, amount):

    * recency_days — days from the last purchase to the cut-off;
    * frequency — purchases (distinct days) up to the cut-off;
    * monetary — mean amount a purchase day (to MONETARY_DECIMALS decimals);
    * usual_gap_days — mean days between purchase days (NaN with one purchase day);
    * recency_ratio — recency_days / usual_gap_days (NaN with one purchase day);
    * trend — purchase days in the last 90 days minus those in the 90 days before.
    """
    days = pd.to_datetime(orders["day"])
    end = pd.Timestamp(cutoff)
    seen = orders.assign(day=days)[days <= end]
    if seen.empty:
        return pd.DataFrame(columns=["customer_id", *FEATURES[:6]])
    per_day = seen.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    grouped = per_day.groupby("customer_id")
    first, last = grouped["day"].min(), grouped["day"].max()
    count = grouped["day"].count()
    recent = (
        per_day[per_day["day"] > end - pd.Timedelta(days=TREND_DAYS)].groupby("customer_id")["day"].count()
    )
    before = (
        per_day[
            (per_day["day"] <= end - pd.Timedelta(days=TREND_DAYS))
            & (per_day["day"] > end - pd.Timedelta(days=2 * TREND_DAYS))
        ]
        .groupby("customer_id")["day"]
        .count()
    )
    out = pd.DataFrame(
        {
            "recency_days": (end - last).dt.days.astype(float),
            "frequency": count.astype(float),
            "monetary": grouped["amount"].mean().astype(float).round(MONETARY_DECIMALS),
            "usual_gap_days": np.where(count > 1, (last - first).dt.days / (count - 1).clip(lower=1), np.nan),
        }
    )
    out["recency_ratio"] = out["recency_days"] / out["usual_gap_days"]
    out["trend"] = recent.reindex(out.index, fill_value=0) - before.reindex(out.index, fill_value=0)
    out["trend"] = out["trend"].astype(float)
    return out.reset_index()


def satisfaction_features(answers: pd.DataFrame, cutoff: date) -> pd.DataFrame:
    """The latest scored answer (NPS, CSAT or CES) on or before ``cutoff`` per customer, from ``answers``
    (customer_id, day, score, scale_min, scale_max): last_score on its own scale, and detractor (1.0 when it is
    in the bottom 60 % of its scale: 0–6 on NPS's 0–10, 1–3 on 1–5 CSAT and on 1–7 CES read the other way is
    not attempted: CES is stored with 7 = easy)."""
    if answers.empty:
        return pd.DataFrame(columns=["customer_id", "last_score", "detractor"])
    days = pd.to_datetime(answers["day"])
    seen = answers.assign(day=days)[days <= pd.Timestamp(cutoff)].sort_values(["customer_id", "day"])
    latest = seen.groupby("customer_id").tail(1)
    span = (latest["scale_max"] - latest["scale_min"]).astype(float)
    position = (latest["score"] - latest["scale_min"]).astype(float) / span.where(span > 0)
    return pd.DataFrame(
        {
            "customer_id": latest["customer_id"].to_numpy(),
            "last_score": latest["score"].astype(float).to_numpy(),
            "detractor": (position.to_numpy() < DETRACTOR_SHARE).astype(float),
        }
    )


def labels(orders: pd.DataFrame, cutoff: date, definition: ChurnDefinition) -> pd.Series:
    """1 for customers with no purchase in (cutoff, cutoff + window], 0 otherwise; indexed by customer_id,
    for the customers with a purchase on or before the cut-off."""
    days = pd.to_datetime(orders["day"])
    end = pd.Timestamp(cutoff)
    before = set(orders.loc[days <= end, "customer_id"])
    after = set(
        orders.loc[(days > end) & (days <= end + pd.Timedelta(days=definition.window_days)), "customer_id"]
    )
    ids = sorted(before)
    return pd.Series(
        [0 if c in after else 1 for c in ids], index=pd.Index(ids, name="customer_id"), name="churned"
    )


def feature_table(
    orders: pd.DataFrame, answers: pd.DataFrame, cutoff: date, alive: pd.DataFrame | None = None
) -> pd.DataFrame:
    """All features at ``cutoff``, indexed by customer_id (NaN where a source is missing: the model handles it)."""
    table = behaviour_features(orders, cutoff).set_index("customer_id")
    table = table.join(satisfaction_features(answers, cutoff).set_index("customer_id"), how="left")
    if alive is not None and not alive.empty:
        table = table.join(alive.set_index("customer_id")[["probability_alive"]], how="left")
    else:
        table["probability_alive"] = np.nan
    return table[list(FEATURES)].astype(float)


# ------------------------------------------------------------------------------------------------ model


def new_classifier(seed: int = 0) -> Any:
    """The model: scikit-learn's histogram gradient boosting (handles missing values itself), modest depth."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        random_state=seed,
    )


#: Below this many customers the classifier runs on one OpenMP thread: on a shared machine scikit-learn's
#: threads spin waiting for each other (the demo's 4,784 customers: training 145 s wall, 46 s CPU with two
#: threads on a loaded two-core machine; 27 s wall, 7.6 s CPU with one).
ONE_THREAD_BELOW = 100_000


def threads_for(rows: int) -> Any:
    """A context in which the classifier fits and predicts on ``rows`` customers (see ``ONE_THREAD_BELOW``)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    return threadpool_limits(limits=1 if rows < ONE_THREAD_BELOW else None, user_api="openmp")


def check_labels(y: np.ndarray) -> None:
    churned = int(np.sum(y))
    if churned == 0 or churned == len(y):
        raise PatronError("churn.one_class", customers=len(y), churned=churned)


def fit(x: pd.DataFrame, y: pd.Series | np.ndarray, seed: int = 0) -> Any:
    """Fit the classifier. A feature with no value at all (no survey answers yet, no CLV fit) is given a
    constant instead (scikit-learn's binning cannot take an all-missing column): the model never splits on it."""
    target = np.asarray(y, dtype=int)
    check_labels(target)
    empty = [c for c in x.columns if x[c].isna().all()]
    return new_classifier(seed).fit(x.assign(**dict.fromkeys(empty, 0.0)) if empty else x, target)


# ------------------------------------------------------------------------------------------- evaluation


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random churner scores above a random stayer (ties count half)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(y, dtype=int), np.asarray(p, dtype=float)))


def precision_at_k(y: np.ndarray, p: np.ndarray, k: int) -> float:
    """The share of churners among the ``k`` highest scores (ties broken by position, stable)."""
    if k < 1:
        raise PatronError("churn.bad_k", k=str(k))
    order = np.argsort(-np.asarray(p, dtype=float), kind="stable")[:k]
    return float(np.mean(np.asarray(y)[order]))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Customers sorted by predicted risk and cut into ``bins`` groups of (nearly) equal size: per group the
    customer count, the mean predicted risk and the observed churn rate."""
    order = np.argsort(np.asarray(p, dtype=float), kind="stable")
    groups = np.array_split(order, min(bins, len(order)))
    y_arr, p_arr = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    return pd.DataFrame(
        [
            {
                "decile": i + 1,
                "customers": len(g),
                "predicted": float(p_arr[g].mean()),
                "observed": float(y_arr[g].mean()),
            }
            for i, g in enumerate(groups)
            if len(g)
        ]
    )


@dataclass(frozen=True)
class Evaluation:
    auc: float
    precision_at_k: float
    k: int
    base_rate: float
    test_customers: int
    calibration: pd.DataFrame = field(repr=False)
    train_customers: int = 0
    train_cutoff: date | None = None
    test_cutoff: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "precision_at_k": self.precision_at_k,
            "k": self.k,
            "base_rate": self.base_rate,
            "train_customers": self.train_customers,
            "test_customers": self.test_customers,
            "train_cutoff": self.train_cutoff.isoformat() if self.train_cutoff else None,
            "test_cutoff": self.test_cutoff.isoformat() if self.test_cutoff else None,
            "calibration": self.calibration.to_dict(orient="records"),
        }


def evaluate(y: np.ndarray, p: np.ndarray, k: int | None = None, **extra: Any) -> Evaluation:
    y = np.asarray(y, dtype=int)
    check_labels(y)
    top = k if k is not None else max(1, len(y) // 10)
    top = min(top, len(y))
    return Evaluation(
        auc=auc(y, p),
        precision_at_k=precision_at_k(y, p, top),
        k=top,
        base_rate=float(y.mean()),
        calibration=calibration_table(y, p),
        test_customers=len(y),
        **extra,
    )


@dataclass(frozen=True)
class Split:
    train_x: pd.DataFrame
    train_y: pd.Series
    test_x: pd.DataFrame
    test_y: pd.Series
    train_cutoff: date
    test_cutoff: date


def out_of_time_split(
    orders: pd.DataFrame,
    answers: pd.DataFrame,
    test_cutoff: date,
    definition: ChurnDefinition,
    alive: pd.DataFrame | None = None,
) -> Split:
    """Train on features at ``test_cutoff − window`` with labels from the window that ends on ``test_cutoff``;
    test on features at ``test_cutoff`` with labels from the following window (which must have passed)."""
    train_cutoff = test_cutoff - timedelta(days=definition.window_days)
    train_x = feature_table(orders, answers, train_cutoff, alive)
    test_x = feature_table(orders, answers, test_cutoff, alive)
    if train_x.empty or test_x.empty:
        raise PatronError("churn.too_little_history", cutoff=train_cutoff.isoformat())
    return Split(
        train_x,
        labels(orders, train_cutoff, definition).reindex(train_x.index),
        test_x,
        labels(orders, test_cutoff, definition).reindex(test_x.index),
        train_cutoff,
        test_cutoff,
    )


# ---------------------------------------------------------------------------------------------- reasons


def contributions(model: Any, x: pd.DataFrame, reference: pd.Series) -> pd.DataFrame:
    """Each feature's contribution to each customer's risk: the risk minus the risk with that one feature set
    to the ``reference`` value (the training median) — a one-at-a-time contrast, cheap and readable."""
    base = model.predict_proba(x)[:, 1]
    out = {}
    for name in x.columns:
        swapped = x.copy()
        swapped[name] = reference[name]
        out[name] = base - model.predict_proba(swapped)[:, 1]
    return pd.DataFrame(out, index=x.index)


def top_reasons(contrib: pd.DataFrame, x: pd.DataFrame, n: int = 3) -> list[list[dict[str, Any]]]:
    """Per customer the ``n`` features that raise the risk most (those raising it by at least MIN_CONTRIBUTION;
    missing features skipped): ``{"feature", "value", "contribution", "params"}``, params ready for the sentence."""
    result = []
    for i in range(len(x)):
        row = contrib.iloc[i]
        values = x.iloc[i]
        ranked = sorted(
            (
                (float(row[c]), c)
                for c in contrib.columns
                if row[c] >= MIN_CONTRIBUTION and pd.notna(values[c])
            ),
            reverse=True,
        )
        picked: list[dict[str, Any]] = []
        for value, name in ranked:
            if name == "usual_gap_days" and any(p["feature"] == "recency_ratio" for p in picked):
                continue
            if name == "detractor" and values[name] < 1:  # its sentence says the answer was low
                continue
            picked.append(
                {"feature": name, "contribution": round(value, 4), "params": reason_params(name, values)}
            )
            if len(picked) == n:
                break
        result.append(picked)
    return result


def reason_params(feature: str, values: pd.Series) -> dict[str, Any]:
    def whole(v: Any) -> str:
        return "" if pd.isna(v) else str(round(float(v)))

    params = {"value": whole(values[feature])}
    if feature == "recency_ratio":
        params.update(days=whole(values["recency_days"]), ratio=f"{float(values['recency_ratio']):.1f}")
    elif feature == "monetary":
        params["value"] = f"{float(values['monetary']):.2f}"
    elif feature == "probability_alive":
        params["value"] = f"{100 * float(values['probability_alive']):.0f}"
    elif feature == "trend":
        params["value"] = f"{float(values['trend']):+.0f}"
    return params


def reason_text(reason: dict[str, Any], locale: str | None = None) -> str:
    """A reason as a sentence (message code ``churn.reason.<feature>``)."""
    from patron.core.i18n import translate

    return translate(f"churn.reason.{reason['feature']}", locale, **reason["params"])


# ------------------------------------------------------------------------------------- a customer's file


def read_table(path: Any, target: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A customer table (CSV) with one row a customer and a ``target`` column (Yes/No, True/False or 1/0):
    numbers stay numbers (blanks become missing values: the model handles them), text columns become
    categories, and an identifier column (text, a different value on every row) is left out."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PatronError("churn.unreadable_file", file=str(path), reason=type(exc).__name__) from exc
    if target not in frame.columns:
        raise PatronError("churn.no_target", file=str(path), target=target, columns=", ".join(frame.columns))
    raw = frame.pop(target).str.strip().str.lower()
    mapping = {"yes": 1, "no": 0, "true": 1, "false": 0, "1": 1, "0": 0, "y": 1, "n": 0}
    bad = sorted(set(raw) - set(mapping))
    if bad:
        raise PatronError("churn.bad_target", target=target, values=", ".join(bad[:5]))
    y = raw.map(mapping).to_numpy(dtype=int)
    features: dict[str, pd.Series[Any]] = {}
    for name in frame.columns:
        text = frame[name].str.strip()
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        if numbers.notna().sum() == (text != "").sum():  # every non-blank cell is a number
            features[name] = numbers.astype(float)
        elif text.nunique() == len(text):
            continue  # an identifier
        else:
            features[name] = text.replace("", "(blank)").astype("category")
    if not features:
        raise PatronError("churn.no_features", file=str(path))
    return pd.DataFrame(features), y


def cross_validate_table(x: pd.DataFrame, y: np.ndarray, folds: int = 5, seed: int = 0) -> list[float]:
    """Stratified ``folds``-fold cross-validated AUC of the classifier (no resampling; each fold's model sees
    only its training rows). Returns the AUC of each fold."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    check_labels(y)
    if folds < 2 or int(min(np.sum(y), len(y) - np.sum(y))) < folds:
        raise PatronError("churn.bad_folds", folds=str(folds))
    result = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        model = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=200,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            l2_regularization=1.0,
            categorical_features="from_dtype",
            random_state=seed,
        )
        model.fit(x.iloc[train], y[train])
        result.append(auc(y[test], model.predict_proba(x.iloc[test])[:, 1]))
    return result
