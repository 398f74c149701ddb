"""Churn risk: a gradient-boosting classifier over behaviour, satisfaction and the CLV model's probability alive,
evaluated out of time, with each customer's top reasons.

Pure functions over pandas frames (no database, no web): ``service`` reads orders and answers and stores scores.

Definitions (docs/churn.md):

* a customer *churned* after a cut-off day when they bought nothing in the ``window_days`` days after it
  (definition ``inactivity``), or when they cancelled their subscription in those days (``cancelled``: an
  interaction of type ``subscription_cancelled``); only customers with a purchase on or before the cut-off are
  scored (with ``cancelled``, only those not already cancelled by then);
* features are computed from what was known on the cut-off day only;
* out-of-time evaluation: train on features at ``cutoff − window`` with labels from the window up to ``cutoff``,
  test on features at ``cutoff`` with labels from the next window (or, without a later window, any earlier pair).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
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

#: interaction types (``interactions.type``) that are a contact with customer service, and those that are a
#: complaint (a complaint is a support contact too)
SUPPORT_TYPES = ("support_contact", "complaint")
COMPLAINT_TYPES = ("complaint",)
#: the interaction type that ends a subscription (the ``cancelled`` churn definition)
CANCELLATION_TYPE = "subscription_cancelled"
DEFINITIONS = ("inactivity", "cancelled")
#: trailing windows (days, ending on the cut-off day) of the service, loyalty and feedback features
SHORT_DAYS, LONG_DAYS = 90, 365
FEEDBACK_DAYS = 180
#: how many of the most frequent negative feedback themes become features of their own
TOP_THEMES = 3
THEME_PREFIX = "negative_theme_"

#: service features (interactions and assistant hand-overs), loyalty features (the ledger as of the cut-off)
#: and feedback features (analysed feedback items): present when ``feature_table`` is given ``Signals``
SIGNAL_FEATURES = (
    "support_contacts_90d",
    "support_contacts_365d",
    "complaints_90d",
    "complaints_365d",
    "handovers_365d",
    "open_handovers",
    "member",
    "tier_rank",
    "points_balance",
    "points_redeemed_90d",
    "points_redeemed_365d",
    "days_since_redemption",
    "negative_items_180d",
    "negative_share_180d",
)


@dataclass(frozen=True)
class ChurnDefinition:
    """No purchase (``inactivity``) or a cancelled subscription (``cancelled``) in ``window_days`` days after
    the cut-off."""

    window_days: int = 90
    kind: str = "inactivity"

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise PatronError("churn.bad_window", days=str(self.window_days))
        if self.kind not in DEFINITIONS:
            raise PatronError("churn.bad_definition", definition=self.kind, choices=", ".join(DEFINITIONS))


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


def labels(
    orders: pd.DataFrame,
    cutoff: date,
    definition: ChurnDefinition,
    cancellations: pd.DataFrame | None = None,
) -> pd.Series:
    """Indexed by customer_id, for the customers with a purchase on or before the cut-off:

    * ``inactivity``: 1 for customers with no purchase in (cutoff, cutoff + window], 0 otherwise;
    * ``cancelled``: 1 for customers with a cancellation (``cancellations``: customer_id, day) in
      (cutoff, cutoff + window], 0 otherwise; customers already gone at the cut-off (a cancellation on or
      before it and no purchase after that cancellation) are left out — they are not subscribers any more."""
    days = pd.to_datetime(orders["day"])
    end = pd.Timestamp(cutoff)
    horizon = end + pd.Timedelta(days=definition.window_days)
    if definition.kind == "cancelled":
        gone = cancelled_by(orders, cancellations, cutoff)
        ids = sorted(set(orders.loc[days <= end, "customer_id"]) - gone)
        if cancellations is None or cancellations.empty:
            after: set[Any] = set()
        else:
            when = pd.to_datetime(cancellations["day"])
            after = set(cancellations.loc[(when > end) & (when <= horizon), "customer_id"])
        return pd.Series(
            [1 if c in after else 0 for c in ids], index=pd.Index(ids, name="customer_id"), name="churned"
        )
    before = set(orders.loc[days <= end, "customer_id"])
    after = set(orders.loc[(days > end) & (days <= horizon), "customer_id"])
    ids = sorted(before)
    return pd.Series(
        [0 if c in after else 1 for c in ids], index=pd.Index(ids, name="customer_id"), name="churned"
    )


def cancelled_by(orders: pd.DataFrame, cancellations: pd.DataFrame | None, cutoff: date) -> set[Any]:
    """Customers whose latest cancellation on or before ``cutoff`` is on or after their last purchase day up
    to then: they had left by the cut-off (a purchase after a cancellation is a new subscription)."""
    if cancellations is None or cancellations.empty:
        return set()
    end = pd.Timestamp(cutoff)
    when = pd.to_datetime(cancellations["day"])
    last_cancel = cancellations.assign(day=when)[when <= end].groupby("customer_id")["day"].max()
    days = pd.to_datetime(orders["day"])
    last_buy = orders.assign(day=days)[days <= end].groupby("customer_id")["day"].max()
    joined = pd.concat([last_cancel.rename("cancel"), last_buy.rename("buy")], axis=1).dropna()
    return set(joined.index[joined["cancel"] >= joined["buy"]])


def feature_table(
    orders: pd.DataFrame,
    answers: pd.DataFrame,
    cutoff: date,
    alive: pd.DataFrame | None = None,
    signals: Signals | None = None,
) -> pd.DataFrame:
    """All features at ``cutoff``, indexed by customer_id (NaN where a source is missing: the model handles it).
    With ``signals``, the service, loyalty and feedback features follow (``SIGNAL_FEATURES``, then one column
    per theme of ``signals.themes``)."""
    table = behaviour_features(orders, cutoff).set_index("customer_id")
    table = table.join(satisfaction_features(answers, cutoff).set_index("customer_id"), how="left")
    if alive is not None and not alive.empty:
        table = table.join(alive.set_index("customer_id")[["probability_alive"]], how="left")
    else:
        table["probability_alive"] = np.nan
    if signals is None:
        return table[list(FEATURES)].astype(float)
    extra = signal_features(signals, cutoff, table.index)
    return pd.concat([table[list(FEATURES)], extra], axis=1).astype(float)


# ----------------------------------------------------------------------- service, loyalty and feedback


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c != "day" else "datetime64[ns]") for c in columns})


@dataclass(frozen=True)
class Signals:
    """What the service, loyalty and feedback features are read from; every ``day`` is a calendar day in the
    workspace's zone and every frame may be empty.

    * interactions: customer_id, day, type (support contacts, complaints, cancellations);
    * handovers: customer_id, day (opened), closed (day closed, NaT while open) — assistant hand-overs;
    * members: customer_id, day (enrolled);
    * entries: customer_id, day, kind, points (signed), debt_delta — the loyalty ledger;
    * tiers: customer_id, day, rank (the tier reached, 0 the lowest) — tier moves;
    * items: customer_id, day, sentiment — analysed feedback items of known customers;
    * mentions: customer_id, day, theme, sentiment — their themes;
    * themes: the theme keys that get a column of their own (``top_negative_themes``)."""

    interactions: pd.DataFrame = field(default_factory=lambda: _empty(["customer_id", "day", "type"]))
    handovers: pd.DataFrame = field(default_factory=lambda: _empty(["customer_id", "day", "closed"]))
    members: pd.DataFrame = field(default_factory=lambda: _empty(["customer_id", "day"]))
    entries: pd.DataFrame = field(
        default_factory=lambda: _empty(["customer_id", "day", "kind", "points", "debt_delta"])
    )
    tiers: pd.DataFrame = field(default_factory=lambda: _empty(["customer_id", "day", "rank"]))
    items: pd.DataFrame = field(default_factory=lambda: _empty(["customer_id", "day", "sentiment"]))
    mentions: pd.DataFrame = field(
        default_factory=lambda: _empty(["customer_id", "day", "theme", "sentiment"])
    )
    themes: tuple[str, ...] = ()

    def cancellations(self) -> pd.DataFrame:
        """The interactions that end a subscription (the ``cancelled`` definition): customer_id, day."""
        rows = self.interactions[self.interactions["type"] == CANCELLATION_TYPE]
        return rows[["customer_id", "day"]].assign(day=pd.to_datetime(rows["day"]))


def _seen(frame: pd.DataFrame, cutoff: date, days: int | None = None) -> pd.DataFrame:
    """The rows dated on or before ``cutoff`` (and, with ``days``, after ``cutoff − days``)."""
    when = pd.to_datetime(frame["day"])
    end = pd.Timestamp(cutoff)
    keep = when <= end
    if days is not None:
        keep &= when > end - pd.Timedelta(days=days)
    return frame.assign(day=when)[keep]


def _count(frame: pd.DataFrame, index: pd.Index) -> pd.Series:
    return frame.groupby("customer_id").size().reindex(index, fill_value=0).astype(float)


def top_negative_themes(mentions: pd.DataFrame, cutoff: date, n: int = TOP_THEMES) -> tuple[str, ...]:
    """The ``n`` themes with the most negative mentions by known customers on or before ``cutoff`` (ties by
    key), so the columns never depend on what came after the cut-off the model is trained at."""
    seen = _seen(mentions, cutoff)
    negative = seen[seen["sentiment"] == "negative"]
    counts = negative.groupby("theme").size()
    ranked = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    return tuple(str(theme) for theme, _ in ranked[:n])


def signal_features(signals: Signals, cutoff: date, index: pd.Index) -> pd.DataFrame:
    """The service, loyalty and feedback features at ``cutoff`` for the customers of ``index``, each from rows
    dated on or before the cut-off day only:

    * support_contacts_90d / _365d — support contacts and complaints in the last 90 / 365 days;
    * complaints_90d / _365d — complaints in the last 90 / 365 days;
    * handovers_365d — assistant questions handed over to a person in the last 365 days;
    * open_handovers — hand-overs opened by the cut-off and not closed by then;
    * member — 1 when enrolled in the loyalty program by the cut-off, else 0;
    * tier_rank — the tier held at the cut-off (0 the lowest; missing for non-members);
    * points_balance — points held at the cut-off: the ledger's entries up to it (missing for non-members);
    * points_redeemed_90d / _365d — points redeemed in the last 90 / 365 days (missing for non-members);
    * days_since_redemption — days from the last redemption (or, never having redeemed, from enrolment) to
      the cut-off (missing for non-members);
    * negative_items_180d — negative feedback items in the last 180 days;
    * negative_share_180d — their share of the customer's analysed items then (missing without items);
    * negative_theme_<theme> — negative mentions of that theme in the last 180 days, per theme of
      ``signals.themes``."""
    end = pd.Timestamp(cutoff)
    out = pd.DataFrame(index=index)
    contacts = signals.interactions[signals.interactions["type"].isin(SUPPORT_TYPES)]
    complaints = signals.interactions[signals.interactions["type"].isin(COMPLAINT_TYPES)]
    for days, suffix in ((SHORT_DAYS, "90d"), (LONG_DAYS, "365d")):
        out[f"support_contacts_{suffix}"] = _count(_seen(contacts, cutoff, days), index)
        out[f"complaints_{suffix}"] = _count(_seen(complaints, cutoff, days), index)
    out["handovers_365d"] = _count(_seen(signals.handovers, cutoff, LONG_DAYS), index)
    opened = _seen(signals.handovers, cutoff)
    closed = pd.to_datetime(opened["closed"])
    out["open_handovers"] = _count(opened[closed.isna() | (closed > end)], index)

    enrolled = _seen(signals.members, cutoff).groupby("customer_id")["day"].min()
    member = pd.Series(index.isin(enrolled.index).astype(float), index=index)
    out["member"] = member
    where = member == 1
    moves = _seen(signals.tiers, cutoff).sort_values(["customer_id", "day"], kind="stable")
    rank = moves.groupby("customer_id")["rank"].last().reindex(index)
    out["tier_rank"] = rank.fillna(0).where(where)
    entries = _seen(signals.entries, cutoff)
    held = (entries["points"] + entries["debt_delta"]).groupby(entries["customer_id"]).sum()
    out["points_balance"] = held.reindex(index, fill_value=0).astype(float).where(where)
    redeemed = entries[entries["kind"] == "redeem"]
    for days, suffix in ((SHORT_DAYS, "90d"), (LONG_DAYS, "365d")):
        recent = redeemed[redeemed["day"] > end - pd.Timedelta(days=days)]
        spent = -recent.groupby("customer_id")["points"].sum()
        out[f"points_redeemed_{suffix}"] = spent.reindex(index, fill_value=0).astype(float).where(where)
    last = redeemed.groupby("customer_id")["day"].max().reindex(index).fillna(enrolled.reindex(index))
    out["days_since_redemption"] = ((end - last).dt.days.astype(float)).where(where)

    items = _seen(signals.items, cutoff, FEEDBACK_DAYS)
    negative = items[items["sentiment"] == "negative"]
    analysed = _count(items[items["sentiment"].notna()], index)
    out["negative_items_180d"] = _count(negative, index)
    out["negative_share_180d"] = (out["negative_items_180d"] / analysed).where(analysed > 0)
    mentions = _seen(signals.mentions, cutoff, FEEDBACK_DAYS)
    bad = mentions[mentions["sentiment"] == "negative"]
    for theme in signals.themes:
        out[THEME_PREFIX + theme] = _count(bad[bad["theme"] == theme], index)
    return out[[*SIGNAL_FEATURES, *(THEME_PREFIX + t for t in signals.themes)]].astype(float)


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


#: features whose sentence states one value (a detractor answer, not being a member): named only at that value
STATED_WHEN = {"detractor": 1.0, "member": 0.0}


def top_reasons(
    contrib: pd.DataFrame,
    x: pd.DataFrame,
    n: int = 3,
    theme_names: dict[str, dict[str, str]] | None = None,
) -> list[list[dict[str, Any]]]:
    """Per customer the ``n`` features that raise the risk most (those raising it by at least MIN_CONTRIBUTION;
    missing features skipped): ``{"feature", "value", "contribution", "params"}``, params ready for the sentence.
    ``theme_names`` ({theme: {locale: name}}) names a theme feature's theme in each language."""
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
            if name in STATED_WHEN and values[name] != STATED_WHEN[name]:  # its sentence states one value
                continue
            params = reason_params(name, values)
            if name.startswith(THEME_PREFIX) and theme_names:
                params["names"] = theme_names.get(name[len(THEME_PREFIX) :], {})
            picked.append({"feature": name, "contribution": round(value, 4), "params": params})
            if len(picked) == n:
                break
        result.append(picked)
    return result


#: the values a reason's sentence reads besides its own feature's (``reason_params``)
REASON_READS = {
    "recency_ratio": ("recency_days",),
    "negative_share_180d": ("negative_items_180d",),
    "days_since_redemption": ("points_balance",),
}


def reason_params(feature: str, values: pd.Series) -> dict[str, Any]:
    """A reason's sentence parameters from a customer's values (``reason_param_columns`` for one row)."""

    def one(name: str) -> npt.NDArray[np.float64]:
        value = values[name]
        return np.asarray([np.nan if pd.isna(value) else float(value)], dtype=np.float64)

    read = {name: one(name) for name in (feature, *REASON_READS.get(feature, ()))}
    return {name: column[0] for name, column in reason_param_columns(feature, read).items()}


def reason_param_columns(feature: str, values: Mapping[str, npt.NDArray[np.float64]]) -> dict[str, list[str]]:
    """The sentence parameters of many customers at once (``values``: the feature's column and those of
    ``REASON_READS``), each parameter a list of strings: whole numbers, the ratio to one decimal, money to two,
    probability alive and the negative share in percent, the trend signed, the tier counted from 1."""

    def whole(column: npt.NDArray[np.float64]) -> list[str]:
        return ["" if v != v else str(round(v)) for v in column.tolist()]

    own = np.asarray(values[feature], dtype=np.float64)
    params = {"value": whole(own)}
    if feature == "recency_ratio":
        params.update(days=whole(values["recency_days"]), ratio=[f"{v:.1f}" for v in own.tolist()])
    elif feature == "monetary":
        params["value"] = [f"{v:.2f}" for v in own.tolist()]
    elif feature == "probability_alive":
        params["value"] = [f"{100 * v:.0f}" for v in own.tolist()]
    elif feature == "trend":
        params["value"] = [f"{v:+.0f}" for v in own.tolist()]
    elif feature == "negative_share_180d":
        params["value"] = [f"{100 * v:.0f}" for v in own.tolist()]
        params["count"] = whole(values["negative_items_180d"])
    elif feature == "days_since_redemption":
        params["points"] = whole(values["points_balance"])
    elif feature == "tier_rank":
        params["value"] = [str(round(v) + 1) for v in own.tolist()]
    elif feature.startswith(THEME_PREFIX):
        params["theme"] = [feature[len(THEME_PREFIX) :]] * own.size
    return params


def reason_param_keys(
    feature: str, values: Mapping[str, npt.NDArray[np.float64]]
) -> list[npt.NDArray[np.float64]]:
    """Columns that decide ``reason_param_columns``' strings: rows equal in all of them get the same
    sentence, so a million customers' sentences are formatted once per distinct key, not per distinct value
    (probability alive is nearly unique a customer; its sentence takes one of 101 percentages).

    A whole number (``round``) and ``:.0f`` are decided by ``np.rint`` of the number formatted (both round
    half to even), with its sign bit (``-0`` and ``+0``) and missing values as a key of their own. A fixed
    decimal (``:.1f``, ``:.2f``) is decided by ``np.rint(v · 10^d)`` unless ``v · 10^d`` is within 0.01 of a
    half, where the float product may round the other way: those rows are keyed by their own value too."""

    def rounded(column: npt.NDArray[np.float64]) -> list[npt.NDArray[np.float64]]:
        whole = np.rint(column)
        return [np.where(np.isnan(whole), 0.5, whole) + 0.0, np.signbit(whole).astype(np.float64)]

    def fixed(column: npt.NDArray[np.float64], decimals: int) -> list[npt.NDArray[np.float64]]:
        scaled = column * 10.0**decimals
        near = np.abs(np.abs(scaled - np.rint(scaled)) - 0.5) <= 0.01
        return [*rounded(scaled), np.where(near, column, 0.0) + 0.0, np.signbit(column).astype(np.float64)]

    own = np.asarray(values[feature], dtype=np.float64)
    keys = rounded(own)
    if feature == "recency_ratio":
        keys += [*rounded(np.asarray(values["recency_days"], dtype=np.float64)), *fixed(own, 1)]
    elif feature == "monetary":
        keys = fixed(own, 2)
    elif feature in ("probability_alive", "negative_share_180d"):
        keys = rounded(100 * own)
    if feature == "negative_share_180d":
        keys += rounded(np.asarray(values["negative_items_180d"], dtype=np.float64))
    elif feature == "days_since_redemption":
        keys += rounded(np.asarray(values["points_balance"], dtype=np.float64))
    return keys


def reason_text(reason: dict[str, Any], locale: str | None = None) -> str:
    """A reason as a sentence (message code ``churn.reason.<feature>``; a theme feature's is
    ``churn.reason.negative_theme``, with the theme named in ``locale`` when the stored names have it)."""
    from patron.core.i18n import FALLBACK_LOCALE, normalize_locale, translate

    feature = str(reason["feature"])
    params = dict(reason["params"])
    if feature.startswith(THEME_PREFIX):
        names = params.pop("names", None) or {}
        chosen = normalize_locale(locale) or FALLBACK_LOCALE
        params["theme"] = names.get(chosen) or names.get("en") or params.get("theme", "")
        return translate("churn.reason.negative_theme", locale, **params)
    return translate(f"churn.reason.{feature}", locale, **params)


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
