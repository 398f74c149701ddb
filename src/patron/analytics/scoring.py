"""Scoring at scale: every customer's RFM summary, churn behaviour features, CLV and churn risk, from orders in
Parquet (a ``patron export parquet`` folder) on DuckDB or Spark, written to one Parquet file.

The per-customer feature table is one Ibis expression run where the orders are (the engine aggregates them;
no order reaches Python). Its rows stream out in Arrow record batches of ``CHUNK`` customers; each batch is
scored with fitted models (vectorised numpy for BG/NBD, MBG/NBD or Pareto/NBD with Gamma-Gamma; the
classifier's ``predict_proba`` for churn risk) and written out before the next is read, so memory grows
with the batch, not with the orders or the customers.

The definitions are those of ``clv.summary`` (frequency, recency, T, monetary_value: ``workspace_summary``
gives the same numbers on SQLite and PostgreSQL) and of ``churn.feature_table`` (behaviour: recency_days,
purchase days, mean value a purchase day, usual gap, recency ratio, 90-day trend; with the export's signal
files, ``export.SIGNAL_FILES``, also the latest survey score and detractor status and ``churn.SIGNAL_FEATURES``:
support contacts, complaints, hand-overs, loyalty membership, tier, balance and redemptions, negative
feedback, and the negative-theme counts of the themes ``top_negative_themes`` chooses); the tests check them
on the same data. A folder exported before the signal files were gives the nine-feature model (survey features
missing) and a warning.
"""

from __future__ import annotations

import json
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from patron.analytics import churn
from patron.analytics.clv import GammaGammaModel, TransactionModel
from patron.analytics.clv.base import distinct_rows
from patron.analytics.clv.summary import day_number, purchase_days
from patron.commerce.service import NON_REVENUE_STATUSES
from patron.core.errors import PatronError
from patron.core.i18n import translate_rows
from patron.core.money import minor_unit_exponent
from patron.metrics.engine import local_day_number
from patron.metrics.export import SIGNAL_FILES

#: customers a batch
CHUNK = 100_000
TREND = churn.TREND_DAYS
#: DuckDB's cap while it aggregates the orders: the 3.3M orders of bench/scoring.py took the process to 669 MB
#: peak RSS without one, 465 MB with 150 MB, in the same time (1.8 s)
DUCKDB_MEMORY_LIMIT = "256MB"
ENGINES = ("duckdb", "spark")
SUMMARY_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary_value")
#: the Parquet file's columns (times in days; money in the currency's major unit)
SCORE_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("frequency", pa.int64()),
        ("recency_days", pa.float64()),
        ("age_days", pa.float64()),
        ("monetary_value", pa.float64()),
        ("probability_alive", pa.float64()),
        ("expected_purchases", pa.float64()),
        ("expected_spend", pa.float64()),
        ("clv", pa.float64()),
        ("churn_risk", pa.float64()),
        ("value_at_risk", pa.float64()),
        (
            "reasons",
            pa.list_(
                pa.struct([("feature", pa.string()), ("contribution", pa.float64()), ("text", pa.string())])
            ),
        ),
    ]
)
REASON_TYPE = SCORE_SCHEMA.field("reasons").type
#: the Parquet columns worth a dictionary (repeated values); the floats' dictionary pages were built and then
#: dropped for every page (1M customers: writing 0.53 -> 0.33 s CPU, 33 -> 29 MB; with reasons 0.95 -> 0.60 s)
DICTIONARY_COLUMNS = ["frequency", "reasons.list.element.feature", "reasons.list.element.text"]


def open_orders(
    folder: Path, engine: str = "duckdb", memory_limit: str | None = DUCKDB_MEMORY_LIMIT
) -> ibis.BaseBackend:
    """A connection whose ``orders`` table is the folder's ``orders.parquet`` (DuckDB in process, or Spark
    local mode). DuckDB's memory is capped at ``memory_limit`` (it spills to the temporary folder beyond)."""
    if engine not in ENGINES:
        raise PatronError("import.bad_format", format=engine, choices=list(ENGINES))
    if not folder.is_dir():
        raise PatronError("metrics.parquet_not_a_folder", folder=str(folder))
    path = folder / "orders.parquet"
    if not path.is_file():
        raise PatronError("metrics.parquet_missing_files", folder=str(folder), files=[path.name])
    if engine == "spark":
        from patron.metrics import spark

        con: ibis.BaseBackend = ibis.pyspark.connect(spark.session())
    else:
        con = ibis.duckdb.connect()
        if memory_limit is not None:
            spill = Path(tempfile.gettempdir()) / "patron-duckdb"
            con.raw_sql(f"SET memory_limit = '{memory_limit}'")
            con.raw_sql(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
    con.read_parquet(str(path), table_name="orders")
    for name in SIGNAL_FILES:
        if (folder / f"{name}.parquet").is_file():
            con.read_parquet(str(folder / f"{name}.parquet"), table_name=name)
    return con


def missing_signal_files(folder: Path) -> list[str]:
    """The signal files (``export.SIGNAL_FILES``) a folder lacks: one exported before they were."""
    return [f"{name}.parquet" for name in SIGNAL_FILES if not (folder / f"{name}.parquet").is_file()]


@dataclass(frozen=True)
class SignalTables:
    """The export's survey, service, loyalty and feedback tables (``export.signal_expressions``' columns)."""

    survey: ir.Table
    interactions: ir.Table
    handovers: ir.Table
    members: ir.Table
    entries: ir.Table
    tiers: ir.Table
    items: ir.Table
    mentions: ir.Table
    #: the theme keys that get a column of their own (``top_negative_themes``; none by default)
    themes: tuple[str, ...] = ()

    @classmethod
    def of(cls, con: ibis.BaseBackend) -> SignalTables:
        """The tables ``open_orders`` read (a folder with every signal file: see ``missing_signal_files``)."""
        return cls(*(con.table(name) for name in SIGNAL_FILES))


def top_negative_themes(signals: SignalTables, cutoff: date, *, zone: str = "UTC") -> tuple[str, ...]:
    """``churn.top_negative_themes`` over the export's mentions: the themes with the most negative mentions by
    known customers on or before ``cutoff`` (ties by key)."""
    n = signals.mentions
    n = n.filter((n.sentiment == "negative") & (_day(n.occurred_at, zone) <= day_number(cutoff)))
    counts = n.group_by("theme").aggregate(mentions=n.count())
    ranked = counts.order_by([ibis.desc("mentions"), "theme"]).limit(churn.TOP_THEMES).to_pandas()
    return tuple(str(theme) for theme in ranked["theme"])


def purchases(con: ibis.BaseBackend, *, workspace_id: int | None = None, currency: str = "TWD") -> ir.Table:
    """``(customer_id, ordered_at, value)`` of the purchases in ``orders`` (neither cancelled nor returned,
    with a customer), values in the currency's major unit."""
    o = con.table("orders")
    kept = o.filter(o.status.notin(list(NON_REVENUE_STATUSES)), o.customer_id.notnull())
    if workspace_id is not None:
        kept = kept.filter(kept.workspace_id == workspace_id)
    scale = 10.0 ** minor_unit_exponent(currency)
    return kept.select(
        customer_id=kept.customer_id.cast("int64"),
        ordered_at=kept.ordered_at,
        value=kept.total_minor.cast("float64") / scale,
    )


def feature_expression(
    bought: ir.Table, *, as_of: date, zone: str = "UTC", signals: SignalTables | None = None
) -> ir.Table:
    """One row a customer with a purchase on or before ``as_of``: the RFM summary in days (frequency, recency,
    T, monetary_value as ``clv.summary``) and the churn behaviour features (as ``churn.behaviour_features``),
    in one pass over the purchase days; with ``signals``, the survey, service, loyalty and feedback features
    too (``signal_features``) and ``gone`` (1: cancelled by ``as_of`` and not bought since, as
    ``churn.cancelled_by``)."""
    days = purchase_days(bought, zone=zone)
    end = day_number(as_of)
    seen = days.filter(days.day <= end)
    per = seen.group_by("customer_id").aggregate(
        first_day=seen.day.min(),
        last_day=seen.day.max(),
        purchases=seen.count(),
        total=seen.value.sum(),
        # the first day's value (days are distinct per customer): one aggregation instead of clv.summary's
        # window over the days, 2.3 s instead of 4.1 s for 3.3M orders on DuckDB
        first_value=seen.value.argmin(seen.day),
        recent=ibis.ifelse(seen.day > end - TREND, 1, 0).sum(),
        before=ibis.ifelse((seen.day <= end - TREND) & (seen.day > end - 2 * TREND), 1, 0).sum(),
    )
    repeats = (per.purchases - 1).cast("int64")
    span = (per.last_day - per.first_day).cast("float64")
    since = (ibis.literal(end, "int64") - per.last_day).cast("float64")
    gap = ibis.ifelse(per.purchases > 1, span / repeats.cast("float64"), ibis.null("float64"))
    features = per.select(
        customer_id=per.customer_id,
        frequency=repeats,
        recency=span,
        T=(ibis.literal(end, "int64") - per.first_day).cast("float64"),
        monetary_value=ibis.ifelse(repeats > 0, (per.total - per.first_value) / repeats.cast("float64"), 0.0),
        recency_days=since,
        purchase_days=per.purchases.cast("float64"),
        mean_value=per.total / per.purchases.cast("float64"),
        usual_gap_days=gap,
        recency_ratio=since / gap,
        trend=(per.recent - per.before).cast("float64"),
        last_day=per.last_day,
    )
    if signals is not None:
        features = signal_features(features, signals, end=end, zone=zone)
    return features.drop("last_day")


def _day(moment: Any, zone: str) -> Any:
    return local_day_number(moment, zone).cast("int64")


def _count(condition: Any) -> Any:
    return ibis.ifelse(condition, 1, 0).sum()


#: a latest-row key: the day first, then the row's id (``churn_service`` reads rows in id order and sorts them
#: by day, stably)
_ID_SPAN = 10**12


def signal_features(features: ir.Table, signals: SignalTables, *, end: int, zone: str) -> ir.Table:
    """``features`` (with ``last_day``) and, per customer, the features ``churn.satisfaction_features`` and
    ``churn.signal_features`` compute at the day number ``end`` (the same windows and missing values), each
    source aggregated where it lives and joined on the customer."""
    sv = signals.survey
    sv = sv.mutate(day=_day(sv.completed_at, zone))
    sv = sv.filter(sv.day <= end)
    sv = sv.mutate(
        key=sv.day * _ID_SPAN + sv.answer_id, lo=sv.scale_min.fill_null(0.0), hi=sv.scale_max.fill_null(10.0)
    )
    survey = sv.group_by(sv_id=sv.customer_id).aggregate(
        last_score=sv.score.argmax(sv.key), lo=sv.lo.argmax(sv.key), hi=sv.hi.argmax(sv.key)
    )
    it = signals.interactions
    it = it.mutate(day=_day(it.occurred_at, zone))
    cancels = it.filter((it.type == churn.CANCELLATION_TYPE) & (it.day <= end))
    cancelled = cancels.group_by(cn_id=cancels.customer_id).aggregate(last_cancel=cancels.day.max())
    it = it.filter((it.day <= end) & (it.day > end - churn.LONG_DAYS))
    support, complaint = it.type.isin(churn.SUPPORT_TYPES), it.type.isin(churn.COMPLAINT_TYPES)
    short = it.day > end - churn.SHORT_DAYS
    service = it.group_by(it_id=it.customer_id).aggregate(
        support_contacts_90d=_count(support & short), support_contacts_365d=_count(support),
        complaints_90d=_count(complaint & short), complaints_365d=_count(complaint),
    )  # fmt: skip
    h = signals.handovers
    h = h.mutate(day=_day(h.created_at, zone), closed=_day(h.closed_at, zone))
    h = h.filter(h.day <= end)
    handovers = h.group_by(h_id=h.customer_id).aggregate(
        handovers_365d=_count(h.day > end - churn.LONG_DAYS),
        open_handovers=_count(h.closed.isnull() | (h.closed > end)),
    )
    m = signals.members
    m = m.mutate(day=_day(m.enrolled_at, zone))
    m = m.filter(m.day <= end)
    members = m.group_by(m_id=m.customer_id).aggregate(enrolled=m.day.min())
    t = signals.tiers
    t = t.mutate(day=_day(t.created_at, zone))
    t = t.filter(t.day <= end)
    tiers = t.group_by(t_id=t.customer_id).aggregate(rank=t["rank"].argmax(t.day * _ID_SPAN + t.move_id))
    e = signals.entries
    e = e.mutate(day=_day(e.created_at, zone))
    e = e.filter(e.day <= end)
    redeem = e.kind == "redeem"
    ledger = e.group_by(e_id=e.customer_id).aggregate(
        held=(e.points + e.debt_delta).sum(),
        redeemed_90d=ibis.ifelse(redeem & (e.day > end - churn.SHORT_DAYS), e.points, 0).sum(),
        redeemed_365d=ibis.ifelse(redeem & (e.day > end - churn.LONG_DAYS), e.points, 0).sum(),
        last_redeemed=ibis.ifelse(redeem, e.day, ibis.null("int64")).max(),
    )
    f = signals.items
    f = f.mutate(day=_day(f.occurred_at, zone))
    f = f.filter((f.day <= end) & (f.day > end - churn.FEEDBACK_DAYS))
    feedback = f.group_by(f_id=f.customer_id).aggregate(
        negative=_count(f.sentiment == "negative"), analysed=_count(f.sentiment.notnull())
    )
    sources = [(survey, "sv_id"), (cancelled, "cn_id"), (service, "it_id"), (handovers, "h_id"),
               (members, "m_id"), (tiers, "t_id"), (ledger, "e_id"), (feedback, "f_id")]  # fmt: skip
    themes = [churn.THEME_PREFIX + theme for theme in signals.themes]
    if themes:
        n = signals.mentions
        n = n.mutate(day=_day(n.occurred_at, zone))
        n = n.filter((n.day <= end) & (n.day > end - churn.FEEDBACK_DAYS) & (n.sentiment == "negative"))
        said = n.group_by(n_id=n.customer_id).aggregate(
            **{column: _count(n.theme == theme) for column, theme in zip(themes, signals.themes, strict=True)}
        )
        sources.append((said, "n_id"))
    joined = features
    for table, key in sources:
        joined = joined.left_join(table, joined.customer_id == table[key]).drop(key)
    j = joined
    span = j.hi - j.lo
    member = j.enrolled.notnull()
    none = ibis.null("float64")

    def counted(column: Any) -> Any:
        return column.fill_null(0).cast("float64")

    def of_members(value: Any) -> Any:
        return ibis.ifelse(member, value, none)

    analysed = counted(j.analysed)
    return j.select(
        *features.columns,
        last_score=j.last_score.cast("float64"),
        detractor=ibis.ifelse(
            j.last_score.isnull(),
            none,
            ibis.ifelse((span > 0) & ((j.last_score - j.lo) / span < churn.DETRACTOR_SHARE), 1.0, 0.0),
        ),
        support_contacts_90d=counted(j.support_contacts_90d),
        support_contacts_365d=counted(j.support_contacts_365d),
        complaints_90d=counted(j.complaints_90d),
        complaints_365d=counted(j.complaints_365d),
        handovers_365d=counted(j.handovers_365d),
        open_handovers=counted(j.open_handovers),
        member=ibis.ifelse(member, 1.0, 0.0),
        tier_rank=of_members(j["rank"].fill_null(0.0).cast("float64")),
        points_balance=of_members(counted(j.held)),
        points_redeemed_90d=of_members(-counted(j.redeemed_90d)),
        points_redeemed_365d=of_members(-counted(j.redeemed_365d)),
        days_since_redemption=of_members(
            (ibis.literal(end, "int64") - j.last_redeemed.fill_null(j.enrolled)).cast("float64")
        ),
        negative_items_180d=counted(j.negative),
        negative_share_180d=ibis.ifelse(analysed > 0, counted(j.negative) / analysed, none),
        **{column: counted(j[column]) for column in themes},
        gone=ibis.ifelse(j.last_cancel.notnull() & (j.last_cancel >= j.last_day), 1, 0),
    )


Columns = pd.DataFrame | dict[str, npt.NDArray[Any]]


def _floats(values: Any) -> npt.NDArray[np.float64]:
    """A column as float64, missing values NaN (a pandas column or an Arrow column's numpy array)."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values, dtype=np.float64)


def batch_columns(batch: pa.RecordBatch | pa.Table) -> dict[str, npt.NDArray[Any]]:
    """An Arrow batch as numpy columns (zero-copy where Arrow allows it; a column with missing values as
    float64 with NaN), what ``Scorer.score_columns`` reads: no pandas frame in between."""
    return {
        name: column.to_numpy(zero_copy_only=False)
        for name, column in zip(batch.schema.names, batch.columns, strict=True)
    }


def churn_frame(features: Columns, alive: np.ndarray) -> pd.DataFrame:
    """The classifier's input from rows of ``feature_expression`` (a frame, or ``batch_columns``):
    ``churn.FEATURES`` in order (the survey features missing without the signal files), then
    ``churn.SIGNAL_FEATURES`` when the rows have them. One float64 block, a feature's values contiguous (as
    pandas keeps a block): the classifier and the reasons read it without copying it column by column."""
    themes = [name for name in features if str(name).startswith(churn.THEME_PREFIX)]
    names = [*churn.FEATURES, *(churn.SIGNAL_FEATURES if "member" in features else ()), *themes]
    ids = np.asarray(features["customer_id"])
    block = np.empty((len(names), len(ids)), dtype=np.float64)
    sources = {"frequency": "purchase_days", "monetary": "mean_value"}
    for i, name in enumerate(names):
        if name == "probability_alive":
            block[i] = alive
        elif name == "monetary":
            block[i] = np.round(_floats(features["mean_value"]), churn.MONETARY_DECIMALS)
        elif sources.get(name, name) in features:
            block[i] = _floats(features[sources.get(name, name)])
        else:
            block[i] = np.nan
    return pd.DataFrame(block.T, columns=names, index=pd.Index(ids, name="customer_id"), copy=False)


def model_columns(model: Any, x: pd.DataFrame) -> pd.DataFrame:
    """``x`` with the columns ``model`` was fitted on, in its order (a nine-feature model on a frame with the
    signal features, say)."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return x
    if len(names) == x.shape[1] and all(str(n) == c for n, c in zip(names, x.columns, strict=True)):
        return x
    missing = [str(n) for n in names if n not in x.columns]
    if missing:
        raise PatronError("churn.missing_features", features=", ".join(missing))
    return x[[str(n) for n in names]]


@dataclass(frozen=True)
class Scorer:
    """Fitted models and the CLV horizon; ``churn_model`` is a fitted classifier over ``churn.FEATURES``
    (None: no churn risk)."""

    purchase: TransactionModel
    spend: GammaGammaModel
    churn_model: Any = None
    months: int = 12
    discount_rate: float = 0.01
    #: OpenMP threads of the classifier on a batch: one by default, as ``churn.threads_for`` gives small
    #: tables (100,000 customers on two cores shared with other work: 0.76 s with one thread, 2.57 s with two)
    threads: int | None = 1
    #: each feature's training median (``TrainedChurn.reference``): with it, each customer's top ``reasons``
    #: reasons, their sentences in ``locale``
    reference: pd.Series | None = None
    reasons: int = 3
    locale: str | None = None
    #: {theme: {locale: name}} for the theme features' sentences (``reasons_array``)
    theme_names: Mapping[str, Mapping[str, str]] | None = None
    #: the ``cancelled`` definition: customers already gone (``gone`` = 1) get no churn risk
    skip_gone: bool = False

    def _fitted(self, model: Any, frame: pd.DataFrame) -> Any:
        """The fitted model's parameters over a new frame (the models predict for the frame they hold)."""
        fresh = type(model)(frame)
        fresh.params = dict(model.params)
        return fresh

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores of a batch of ``feature_expression`` rows as a frame (columns of ``SCORE_SCHEMA``)."""
        scores = self.score_columns({str(name): features[name] for name in features.columns})
        reasons = scores.pop("reasons")
        return pd.DataFrame({**scores, "reasons": pd.arrays.ArrowExtensionArray(reasons)})

    def score_columns(self, features: dict[str, Any]) -> dict[str, Any]:
        """Scores of a batch of ``feature_expression`` rows given as numpy columns (``batch_columns``): the
        columns of ``SCORE_SCHEMA`` as numpy arrays, ``reasons`` an Arrow array.

        Customers with the same (frequency, recency, T) have the same probability alive and expected
        purchases: those are computed once per distinct triple in the batch, and the CLV's monthly expected
        purchases in one ``purchase_curve`` call (the horizons share their work)."""
        if isinstance(self.months, bool) or not isinstance(self.months, int | np.integer) or self.months < 1:
            raise PatronError("clv.bad_horizon", horizon=str(self.months))
        if not (np.isfinite(self.discount_rate) and self.discount_rate > -1):
            raise PatronError("clv.bad_discount_rate", rate=str(self.discount_rate))
        ids = np.asarray(features["customer_id"], dtype=np.int64)
        frequency = np.asarray(features["frequency"], dtype=np.int64)
        recency, age = _floats(features["recency"]), _floats(features["T"])
        monetary = _floats(features["monetary_value"])
        codes, firsts = distinct_rows([frequency.astype(np.float64), recency + 0.0, age + 0.0])
        triples = pd.DataFrame({"customer_id": np.arange(firsts.size), "frequency": frequency[firsts],
                                "recency": recency[firsts], "T": age[firsts]})  # fmt: skip
        purchase = self._fitted(self.purchase, triples)
        alive = purchase.expected_probability_alive()["probability_alive"].to_numpy()[codes]
        months = range(1, self.months + 1)
        curve = purchase.purchase_curve(None, [30.0 * month for month in months])
        per_unit = np.zeros(firsts.size)
        previous = np.zeros(firsts.size)
        for month in months:  # customer_lifetime_value's sum, with a spend of 1
            cumulative = curve[:, month - 1]
            per_unit += (cumulative - previous) / (1 + self.discount_rate) ** month
            previous = cumulative
        summary = pd.DataFrame({"customer_id": ids, "frequency": frequency, "monetary_value": monetary})
        expected_spend = (
            self._fitted(self.spend, summary).expected_customer_spend()["expected_spend"].to_numpy()
        )
        value = expected_spend * per_unit[codes]
        why: pa.Array | None = None
        if self.churn_model is not None and len(ids):
            x = model_columns(self.churn_model, churn_frame(features, alive))
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

            with threadpool_limits(limits=self.threads, user_api="openmp"):
                if self.reference is not None and self.reasons > 0:
                    contrib, risk = contributions(self.churn_model, x, self.reference)
                    why = reasons_array(contrib, x, self.reasons, self.locale, self.theme_names)
                else:
                    risk = predict_risk(self.churn_model, x)
            if self.skip_gone and "gone" in features:
                gone = np.asarray(features["gone"]) == 1
                risk = np.where(gone, np.nan, risk)
                if why is not None:
                    why = _without(why, gone)
        else:
            risk = np.full(len(ids), np.nan)
        for name, column in (("probability alive", alive), ("CLV", value)):
            if not np.isfinite(column).all():
                raise PatronError("clv.not_converged", model=self.purchase.name, reason=f"{name} not finite")
        return {
            "customer_id": ids,
            "frequency": frequency,
            "recency_days": recency,
            "age_days": age,
            "monetary_value": monetary,
            "probability_alive": alive,
            "expected_purchases": curve[:, -1][codes],
            "expected_spend": expected_spend,
            "clv": value,
            "churn_risk": risk,
            "value_at_risk": risk * value,
            "reasons": why if why is not None else pa.nulls(len(ids), REASON_TYPE),
        }


def split_points(model: Any) -> list[tuple[int, npt.NDArray[np.float64]]] | None:
    """Each feature a tree of a fitted ``HistGradientBoostingClassifier`` splits on, with the sorted thresholds
    it is split at; None for another model or one with categorical splits."""
    predictors = getattr(model, "_predictors", None)
    if not predictors or getattr(model, "_preprocessor", None) is not None:
        return None
    found: dict[int, set[float]] = {}
    try:
        for per_class in predictors:
            for predictor in per_class:
                nodes = predictor.nodes
                inner = nodes[nodes["is_leaf"] == 0]
                if inner["is_categorical"].any():
                    return None
                for feature, threshold in zip(inner["feature_idx"], inner["num_threshold"], strict=True):
                    found.setdefault(int(feature), set()).add(float(threshold))
    except (AttributeError, KeyError, ValueError):
        return None
    return [
        (feature, np.asarray(sorted(values), dtype=np.float64)) for feature, values in sorted(found.items())
    ]


def predict_risk(model: Any, x: pd.DataFrame) -> npt.NDArray[np.float64]:
    """``model.predict_proba(x)[:, 1]``, computed once per group of rows that every tree sends down the same
    path: a tree goes left where value ≤ threshold (missing values their own way), so rows with the same count
    of thresholds below each value, and missing in the same features, get the same probability. In the
    benchmark a batch of 100,000 customers has about 54,000 such groups. They are predicted by the trees as
    tables (``_Forest.risk``, bit for bit ``predict_proba``'s: 0.04–0.05 s a batch against 0.22 s), or by
    ``predict_proba`` for a model the tables do not cover."""
    points = split_points(model)
    if points is None or len(x) < 2:
        return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)
    values = x.to_numpy(dtype=np.float64)
    sides = _sides(points, values)
    if not sides:
        return np.asarray(model.predict_proba(x.iloc[:1])[:, 1], dtype=np.float64).repeat(len(x))
    codes, firsts = distinct_rows(sides)
    forest = _forest(model)
    if forest is not None:
        return forest.risk(_side_matrix(sides, firsts))[codes]
    rows = pd.DataFrame(values[firsts], columns=x.columns, copy=False)  # the feature names, as fitted
    return np.asarray(model.predict_proba(rows)[:, 1], dtype=np.float64)[codes]


def _sides(points: list[tuple[int, npt.NDArray[np.float64]]], values: npt.NDArray[np.float64]) -> list[Any]:
    """Per split feature, each row's count of thresholds below its value (-1 where missing)."""
    sides = []
    for feature, thresholds in points:
        column = values[:, feature]
        side = np.searchsorted(thresholds, column, side="left").astype(np.float64)
        side[np.isnan(column)] = -1.0
        sides.append(side)
    return sides


def _side_matrix(sides: list[Any], rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
    """The ``rows`` of ``_sides``' columns as one integer matrix (split features × rows)."""
    return np.stack([side[rows] for side in sides]).astype(np.int32)


def contributions(
    model: Any, x: pd.DataFrame, reference: pd.Series
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``churn.contributions`` (each feature's risk minus the risk with it set to ``reference``) as an array,
    and the risk (bit for bit), computed once per group of rows every tree sends the same way (as
    ``predict_risk``), every feature swapped at once by ``_Forest.contributions`` (the contributions equal
    ``churn.contributions``' within about 1e-16, and exactly 0 where no tree's output changes)."""
    points = split_points(model)
    reference = reference.reindex(x.columns)
    forest = _forest(model) if points and len(x) >= 2 else None
    if points is None or forest is None:
        base = np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)
        return churn.contributions(model, x, reference).to_numpy(dtype=np.float64), base
    sides = _sides(points, x.to_numpy(dtype=np.float64))
    codes, firsts = distinct_rows(sides)
    out, risk = forest.contributions(
        _side_matrix(sides, firsts), reference.to_numpy(dtype=np.float64), x.shape[1]
    )
    return out[codes], risk[codes]


_FORESTS: weakref.WeakKeyDictionary[Any, tuple[Any, _Forest | None]] = weakref.WeakKeyDictionary()


def _forest(model: Any) -> _Forest | None:
    """``_Forest.of(model)``, made once per fitted model (a batch of 100,000 customers reuses it)."""
    try:
        known = _FORESTS.get(model)
    except TypeError:  # not weakly referable
        return _Forest.of(model)
    trees = getattr(model, "_predictors", None)
    if known is None or known[0] is not trees:
        known = (trees, _Forest.of(model))
        _FORESTS[model] = known
    return known[1]


#: a tree with more inner nodes than this is predicted by scikit-learn (each tree's table has 2^nodes entries)
MAX_TABLE_NODES = 16
#: rows a pass of ``_Forest`` holds at once (its arrays: about rows × trees × 12 bytes)
FOREST_ROWS = 8192


@dataclass(frozen=True)
class _Forest:
    """A binary ``HistGradientBoostingClassifier`` as tables, for whole arrays of rows at once.

    Each tree's inner nodes are numbered (at most ``MAX_TABLE_NODES``); a row's path through the tree is
    decided by the bits "goes left at node i", and its leaf is looked up in a table of all 2^nodes bit
    patterns. The bits a feature decides depend only on the row's side of each split point of that feature
    (``_sides``): per split feature a table gives, for each side, its bits in every tree (``point_bits``), so a
    row's patterns are the sum of one row of each table. Setting a feature to the reference value replaces
    that feature's bits by the reference's, which gives another leaf of the same table.

    For a given reference, the patterns of a tree that reach the same leaf and the same leaf with each of the
    tree's features swapped are one class (``_Classes``): a class is a row of numbers (the leaf's value, then
    per split feature the change of the tree's output when that feature is swapped, exactly 0 when the leaf
    stays). A row's raw score and every feature's change of it are then the sum over the trees of the row's
    classes: one sparse matrix (rows × classes, a 1 per tree) times the class table, summed in the model's
    order (baseline, then tree by tree), so the risk is ``predict_proba``'s bit for bit."""

    model: Any
    points: list[tuple[int, npt.NDArray[np.float64]]]
    #: per split feature (``points``), per side + 1 (0: missing), each tree's bits that feature decides
    point_bits: list[npt.NDArray[np.uint16]]
    #: per tree: its pairs' split feature (position in ``points``), bits table (side + 1) and mask of bits
    tree_pairs: list[list[tuple[int, npt.NDArray[np.uint16], int]]]
    #: per tree, each bit pattern's leaf (node index) and the nodes' values
    tree_leaf: list[npt.NDArray[np.int64]]
    tree_value: list[npt.NDArray[np.float64]]
    #: each tree's first entry in a table over every tree's patterns
    pattern_offset: npt.NDArray[np.int32]
    classes: dict[Any, _Classes] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, model: Any) -> _Forest | None:
        """None for another kind of model, categorical splits or a tree too large for its table."""
        points = split_points(model)
        if not points:
            return None
        try:
            if model.n_trees_per_iteration_ != 1 or any(len(per) != 1 for per in model._predictors):
                return None
            trees = [per[0].nodes for per in model._predictors]
        except (AttributeError, TypeError):
            return None
        position = {feature: i for i, (feature, _) in enumerate(points)}
        point_bits = [np.zeros((t.size + 2, len(trees)), dtype=np.uint16) for _, t in points]
        tree_pairs: list[list[tuple[int, npt.NDArray[np.uint16], int]]] = []
        tree_leaf: list[npt.NDArray[np.int64]] = []
        tree_value: list[npt.NDArray[np.float64]] = []
        for t, nodes in enumerate(trees):
            inner = np.flatnonzero(nodes["is_leaf"] == 0)
            if inner.size > MAX_TABLE_NODES:
                return None
            bit = np.zeros(len(nodes), dtype=np.int64)
            bit[inner] = np.arange(inner.size)
            pairs = []
            for feature in sorted({int(f) for f in nodes["feature_idx"][inner]}):
                thresholds = points[position[feature]][1]
                table = np.zeros(thresholds.size + 2, dtype=np.uint16)  # side -1 (missing), 0, …, n
                side = np.arange(-1, thresholds.size + 1)
                mask = 0
                for node in inner[nodes["feature_idx"][inner] == feature]:
                    j = int(np.searchsorted(thresholds, nodes["num_threshold"][node]))
                    left = np.where(side < 0, bool(nodes["missing_go_to_left"][node]), side <= j)
                    table |= (left.astype(np.uint16) << np.uint16(bit[node])).astype(np.uint16)
                    mask |= 1 << int(bit[node])
                pairs.append((position[feature], table, mask))
                point_bits[position[feature]][:, t] = table
            patterns = np.arange(1 << inner.size, dtype=np.int64)
            node = np.zeros(patterns.size, dtype=np.int64)
            for _ in range(int(nodes["depth"].max()) if len(nodes) > 1 else 0):
                goes_left = (patterns >> bit[node]) & 1 == 1
                step = np.where(goes_left, nodes["left"][node], nodes["right"][node]).astype(np.int64)
                node = np.where(nodes["is_leaf"][node] == 1, node, step)
            tree_pairs.append(pairs)
            tree_leaf.append(node)
            tree_value.append(np.asarray(nodes["value"], dtype=np.float64))
        sizes = [leaf.size for leaf in tree_leaf]
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)
        return cls(model, points, point_bits, tree_pairs, tree_leaf, tree_value, offset)

    def _classes(self, reference_side: tuple[int, ...] | None) -> _Classes:
        """The class tables for a reference (each split feature's side; None: the risk alone), made once."""
        known = self.classes.get(reference_side)
        if known is not None:
            return known
        width = 1 + (len(self.points) if reference_side is not None else 0)
        baseline = np.zeros((1, width), dtype=np.float64)
        baseline[0, 0] = self._start(1)[0]
        rows: list[npt.NDArray[np.float64]] = [baseline]  # class 0: the baseline, first in every row's sum
        of_pattern: list[npt.NDArray[np.int32]] = []
        used = 1
        for pairs, leaf, value in zip(self.tree_pairs, self.tree_leaf, self.tree_value, strict=True):
            patterns = np.arange(leaf.size, dtype=np.int64)
            keys = [leaf]
            if reference_side is not None:
                for point, table, mask in pairs:
                    reference_bits = int(table[reference_side[point] + 1])
                    keys.append(leaf[(patterns & ~mask) | reference_bits])
            inverse, firsts = distinct_rows([key.astype(np.float64) for key in keys])
            table_rows = np.zeros((firsts.size, width), dtype=np.float64)
            table_rows[:, 0] = value[leaf[firsts]]
            if reference_side is not None:
                for k, (point, _, _) in enumerate(pairs):
                    table_rows[:, 1 + point] = value[keys[1 + k][firsts]] - value[leaf[firsts]]
            rows.append(table_rows)
            of_pattern.append((inverse + used).astype(np.int32))
            used += firsts.size
        made = _Classes(np.concatenate(of_pattern), np.concatenate(rows))
        self.classes[reference_side] = made
        return made

    def _start(self, size: int) -> npt.NDArray[np.float64]:
        raw = np.zeros((size, 1), dtype=self.model._baseline_prediction.dtype, order="F")
        raw += self.model._baseline_prediction
        return np.ascontiguousarray(raw[:, 0])

    def _risk(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(self.model._loss.predict_proba(raw.reshape(-1, 1))[:, 1], dtype=np.float64)

    def _sums(self, sides: npt.NDArray[np.int32], classes: _Classes) -> npt.NDArray[np.float64]:
        """Each row's sums of its classes' rows (rows × class table width; column 0 the raw score), from the
        rows' sides (split features × rows)."""
        from scipy.sparse import csr_matrix

        size, trees = sides.shape[1], self.pattern_offset.size
        patterns = np.zeros((size, trees), dtype=np.uint16)
        for point, bits in enumerate(self.point_bits):
            patterns += bits[sides[point] + 1]  # a tree's bits from different features are disjoint
        found = np.empty((size, trees + 1), dtype=np.int32)
        found[:, 0] = 0
        np.add(patterns, self.pattern_offset, out=found[:, 1:], dtype=np.int32, casting="unsafe")
        np.take(classes.of_pattern, found[:, 1:], out=found[:, 1:])
        ones = np.ones(found.size, dtype=np.float64)
        starts = np.arange(0, found.size + 1, trees + 1, dtype=np.int32)
        matrix = csr_matrix((ones, found.reshape(-1), starts), shape=(size, classes.table.shape[0]))
        # scipy's CSR product adds each row's entries in their order: 0 + baseline + tree 1 + tree 2 + …,
        # scikit-learn's order (1 × a value is that value exactly)
        return np.asarray(matrix @ classes.table, dtype=np.float64)

    def risk(self, sides: npt.NDArray[np.int32]) -> npt.NDArray[np.float64]:
        """``predict_proba``'s risk (bit for bit) of rows given by their sides (split features × rows)."""
        classes = self._classes(None)
        risk = np.empty(sides.shape[1], dtype=np.float64)
        for lo in range(0, sides.shape[1], FOREST_ROWS):
            sums = self._sums(sides[:, lo : lo + FOREST_ROWS], classes)
            risk[lo : lo + FOREST_ROWS] = self._risk(sums[:, 0])
        return risk

    def contributions(
        self, sides: npt.NDArray[np.int32], reference: npt.NDArray[np.float64], features: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``churn.contributions`` (rows × ``features``) and the risk, from the rows' sides (split features ×
        rows); ``reference`` is each feature's reference value (by the model's feature index). A swapped
        row's raw score is the row's plus, over the trees that split on the feature, the change of the tree's
        output: equal to ``predict_proba``'s within rounding (about 1e-16), and exactly the row's (a
        contribution of exactly 0) when no tree's output changes."""
        reference_side = tuple(-1 if np.isnan(reference[f]) else int(np.searchsorted(t, reference[f]))
                               for f, t in self.points)  # fmt: skip
        classes = self._classes(reference_side)
        rows = sides.shape[1]
        out = np.zeros((rows, features), dtype=np.float64)
        risk = np.empty(rows, dtype=np.float64)
        columns = [f for f, _ in self.points]
        for lo in range(0, rows, FOREST_ROWS):
            sums = self._sums(sides[:, lo : lo + FOREST_ROWS], classes)
            raw = np.ascontiguousarray(sums[:, 0])
            base = self._risk(raw)
            risk[lo : lo + FOREST_ROWS] = base
            moved = sums[:, 1:] + raw[:, None]
            swapped = self._risk(moved.ravel()).reshape(moved.shape)
            out[lo : lo + FOREST_ROWS, columns] = base[:, None] - swapped
        return out, risk


@dataclass(frozen=True)
class _Classes:
    """``_Forest``'s classes for one reference: each tree's patterns' class (offset by the tree's first
    pattern) and the class table (classes × (1 + split features); class 0 the baseline)."""

    of_pattern: npt.NDArray[np.int32]
    table: npt.NDArray[np.float64]


def reasons_array(
    contrib: npt.NDArray[np.float64], x: pd.DataFrame, n: int, locale: str | None,
    theme_names: Mapping[str, Mapping[str, str]] | None = None,
) -> pa.Array:  # fmt: skip
    """``churn.top_reasons`` of every row as an Arrow list of (feature, contribution, text), the sentences
    (``churn.reason_text``) in ``locale``: the same features, order and rules, without a Python loop over the
    rows (the sentence is made once per distinct ``churn.reason_param_keys``, the column gathered by Arrow).
    ``theme_names`` ({theme: {locale: name}}, the workspace's taxonomy) names a theme feature's theme; a theme
    it does not know is named by its key."""
    names = [str(c) for c in x.columns]
    values = x.to_numpy(dtype=np.float64)
    usable = (contrib >= churn.MIN_CONTRIBUTION) & ~np.isnan(values)
    for name, stated in churn.STATED_WHEN.items():
        if name in names:
            usable[:, names.index(name)] &= values[:, names.index(name)] == stated
    if "recency_ratio" in names and "usual_gap_days" in names:  # the ratio's sentence names the gap already
        ratio, gap = names.index("recency_ratio"), names.index("usual_gap_days")
        usable[:, gap] &= ~(usable[:, ratio] & (contrib[:, ratio] > contrib[:, gap]))
    # highest contribution first, ties by name from the last (churn.top_reasons sorts (value, name) reversed):
    # n passes of argmax over the columns in that name order (argmax takes the first of equal values, as a
    # stable sort would); a row's picks stop at its first unusable one
    by_name = np.asarray(sorted(range(len(names)), key=lambda i: names[i], reverse=True))
    ranked = np.where(usable, contrib, -np.inf)[:, by_name]
    everyone = np.arange(len(ranked))
    order = np.empty((len(ranked), min(n, len(names))), dtype=np.int64)
    picked = np.empty(order.shape, dtype=np.bool_)
    for slot in range(order.shape[1]):
        best = np.argmax(ranked, axis=1)
        picked[:, slot] = ranked[everyone, best] > -np.inf
        ranked[everyone, best] = -np.inf
        order[:, slot] = by_name[best]
    if order.shape[1] > 1:
        picked = np.logical_and.accumulate(picked, axis=1)
    counts = picked.sum(axis=1)
    rows, slots = np.nonzero(picked)  # row-major: each row's picks in rank order
    features = order[rows, slots]
    # each distinct sentence made once, the column gathered from them by Arrow (no Python string a row)
    said_index = np.empty(rows.size, dtype=np.int32)
    sentences: list[str] = []
    for index, name in enumerate(names):
        mine = np.flatnonzero(features == index)
        if not mine.size:
            continue
        read = [name, *(r for r in churn.REASON_READS.get(name, ()) if r in names)]
        columns = {r: values[rows[mine], names.index(r)] for r in read}
        codes, firsts = distinct_rows(churn.reason_param_keys(name, columns))
        params = churn.reason_param_columns(name, {r: column[firsts] for r, column in columns.items()})
        if name.startswith(churn.THEME_PREFIX):  # the theme named in the reader's language
            known = dict((theme_names or {}).get(name[len(churn.THEME_PREFIX) :], {}))
            said = [churn.reason_text({"feature": name, "params": {**dict(zip(params, row, strict=True)),
                                                                   "names": known}}, locale)
                    for row in zip(*params.values(), strict=True)]  # fmt: skip
        else:
            said = translate_rows(f"churn.reason.{name}", locale, params)
        said_index[mine] = codes + len(sentences)
        sentences.extend(said)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    items = pa.StructArray.from_arrays(
        [
            pa.array(names, pa.string()).take(pa.array(features.astype(np.int32))),
            pa.array(np.round(contrib[rows, features], 4), pa.float64()),
            pa.array(sentences, pa.string()).take(pa.array(said_index)),
        ],
        fields=list(REASON_TYPE.value_type),
    )
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=REASON_TYPE)


def _without(reasons: pa.Array, drop: npt.NDArray[np.bool_]) -> pa.Array:
    """``reasons`` with the rows of ``drop`` null."""
    import pyarrow.compute as pc

    return pc.if_else(pa.array(drop), pa.nulls(len(reasons), REASON_TYPE), reasons)


def feature_batches(expression: ir.Table, chunk: int = CHUNK) -> Iterator[pa.RecordBatch]:
    """The feature table in Arrow batches of at most ``chunk`` customers (the query compiled once)."""
    backend = expression._find_backend()
    if backend.name == "duckdb":  # Ibis 12 calls a cursor method DuckDB 1.4 renamed (to_arrow_reader)
        reader: Any = backend.con.sql(str(backend.compile(expression))).to_arrow_reader(chunk)
    else:
        reader = expression.to_pyarrow_batches(chunk_size=chunk)
    for batch in reader:
        if batch.num_rows:
            yield batch


def score_to_parquet(
    expression: ir.Table, scorer: Scorer, out: Path, chunk: int = CHUNK, about: dict[str, Any] | None = None
) -> int:
    """Score every customer of ``feature_expression`` batch by batch into ``out``; returns the customers.
    ``about`` is kept as JSON in the file's metadata (key ``patron``): how the scores were made."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    schema = SCORE_SCHEMA
    if about is not None:
        schema = schema.with_metadata({"patron": json.dumps(about, default=str)})
    with pq.ParquetWriter(out, schema, compression="zstd", use_dictionary=DICTIONARY_COLUMNS) as writer:
        for batch in feature_batches(expression, chunk):
            scores = scorer.score_columns(batch_columns(batch))
            writer.write_batch(
                pa.RecordBatch.from_arrays([scores[f.name] for f in SCORE_SCHEMA], schema=SCORE_SCHEMA)
            )
            rows += batch.num_rows
    return rows


# ------------------------------------------------------------------------------------------------ fitting


def summary_frame(expression: ir.Table) -> pd.DataFrame:
    """The RFM summary columns of ``feature_expression`` (one row a customer: what the CLV models fit on)."""
    frame: pd.DataFrame = expression.select(*SUMMARY_COLUMNS).to_pandas()
    return frame.sort_values("customer_id", ignore_index=True)


def fit_models(
    expression: ir.Table, purchase_model: type[TransactionModel]
) -> tuple[TransactionModel, GammaGammaModel]:
    """Fit the purchase model and Gamma-Gamma on the feature table's summary (as ``service.fit``)."""
    summary = summary_frame(expression)
    if summary.empty:
        raise PatronError("clv.no_orders")
    purchase = purchase_model(summary).fit()
    paying = summary[summary["monetary_value"] > 0]
    if not (paying["frequency"] > 0).any():
        raise PatronError("clv.no_repeat_buyers", model="Gamma-Gamma", customers=len(summary))
    return purchase, GammaGammaModel(paying).fit()


def training_expression(
    bought: ir.Table, *, as_of: date, window_days: int, zone: str = "UTC", every: int = 1,
    signals: SignalTables | None = None, definition: str = "inactivity",
) -> ir.Table:  # fmt: skip
    """Features at ``as_of − window_days`` with ``churned`` as ``churn.labels`` gives it: with ``inactivity``,
    1 for no purchase in the window up to ``as_of``; with ``cancelled`` (needs ``signals``), 1 for a
    cancellation in that window, customers already gone at the cut-off left out. One customer in ``every``
    (customer_id divisible by it: the same sample on every engine)."""
    rule = churn.ChurnDefinition(window_days, definition)
    if rule.kind == "cancelled" and signals is None:
        raise PatronError("churn.no_cancellations", type=churn.CANCELLATION_TYPE)
    cutoff = as_of - timedelta(days=window_days)
    features = feature_expression(bought, as_of=cutoff, zone=zone, signals=signals)
    if every > 1:
        features = features.filter(features.customer_id % every == 0)
    start, stop = day_number(cutoff), day_number(as_of)
    if rule.kind == "cancelled" and signals is not None:
        it = signals.interactions
        it = it.mutate(day=_day(it.occurred_at, zone))
        later = it.filter((it.type == churn.CANCELLATION_TYPE) & (it.day > start) & (it.day <= stop))
        leavers = later.select(leaver=later.customer_id).distinct()
        kept = features.filter(features.gone == 0)
        joined = kept.left_join(leavers, kept.customer_id == leavers.leaver)
        return joined.mutate(churned=ibis.ifelse(joined.leaver.isnull(), 0, 1)).drop("leaver")
    days = purchase_days(bought, zone=zone)
    later_days = days.filter((days.day > start) & (days.day <= stop))
    buyers = later_days.select(buyer=later_days.customer_id).distinct()
    joined = features.left_join(buyers, features.customer_id == buyers.buyer)
    return joined.mutate(churned=ibis.ifelse(joined.buyer.isnull(), 1, 0)).drop("buyer")


@dataclass(frozen=True)
class TrainedChurn:
    """A fitted classifier, the median of each feature over its training customers (the reasons' reference,
    as ``churn_service.train`` keeps it) and how many customers it was trained on."""

    model: Any
    reference: pd.Series
    customers: int


def training_frame(
    bought: ir.Table, purchase_model: type[TransactionModel], *, as_of: date, window_days: int = 90,
    zone: str = "UTC", every: int = 1, signals: SignalTables | None = None, definition: str = "inactivity",
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:  # fmt: skip
    """The classifier's input at ``as_of − window`` (``churn_frame``, probability alive from ``purchase_model``
    refitted at that day: ``alive_at``) and the labels of the window up to ``as_of``, by customer id."""
    cutoff = as_of - timedelta(days=window_days)
    frame = training_expression(
        bought, as_of=as_of, window_days=window_days, zone=zone, every=every, signals=signals,
        definition=definition,
    ).to_pandas()  # fmt: skip
    if frame.empty:
        raise PatronError("churn.too_little_history", cutoff=cutoff.isoformat())
    frame = frame.sort_values("customer_id", ignore_index=True)
    alive = alive_at(bought, purchase_model, cutoff=cutoff, zone=zone)
    column = (
        np.full(len(frame), np.nan)
        if alive is None
        else alive.reindex(frame["customer_id"].to_numpy()).to_numpy(dtype=np.float64)
    )
    return churn_frame(frame, column), frame["churned"].to_numpy(dtype=np.int64)


def train_churn(
    bought: ir.Table, purchase_model: type[TransactionModel], *, as_of: date, window_days: int = 90,
    zone: str = "UTC", every: int = 1, signals: SignalTables | None = None, definition: str = "inactivity",
) -> TrainedChurn:  # fmt: skip
    """The churn classifier trained on features at ``as_of − window`` (probability alive from
    ``purchase_model`` refitted at that day) with labels from the window up to ``as_of``."""
    x, y = training_frame(bought, purchase_model, as_of=as_of, window_days=window_days, zone=zone, every=every,
                          signals=signals, definition=definition)  # fmt: skip
    with churn.threads_for(len(x)):
        model = churn.fit(x, y)
    return TrainedChurn(model, x.median(), len(x))


def alive_at(
    bought: ir.Table, purchase_model: type[TransactionModel], *, cutoff: date, zone: str = "UTC"
) -> pd.Series | None:
    """Probability alive at ``cutoff`` by customer id, from ``purchase_model`` fitted on every customer's
    purchases up to ``cutoff`` (as ``churn_service`` refits at each cut-off, so no later purchase leaks into
    the feature); None when the fit cannot be made or gives a value that is not finite (the feature is then
    missing, as on the stored path)."""
    summary = summary_frame(feature_expression(bought, as_of=cutoff, zone=zone))
    if summary.empty:
        return None
    try:
        fitted = purchase_model(summary).fit()
    except PatronError:
        return None
    alive = fitted.expected_probability_alive()["probability_alive"].to_numpy(dtype=np.float64)
    if not np.isfinite(alive).all():
        return None
    return pd.Series(alive, index=summary["customer_id"].to_numpy(), name="probability_alive")


def fit_churn(
    bought: ir.Table, purchase_model: type[TransactionModel], *, as_of: date, window_days: int = 90,
    zone: str = "UTC", every: int = 1, signals: SignalTables | None = None, definition: str = "inactivity",
) -> Any:  # fmt: skip
    """``train_churn``'s classifier only."""
    return train_churn(
        bought, purchase_model, as_of=as_of, window_days=window_days, zone=zone, every=every, signals=signals,
        definition=definition,
    ).model  # fmt: skip


# ------------------------------------------------------------------------------------------ one command

#: the churn classifier trains on about this many customers (one in ``every``): the rest only cost time
TRAIN_CUSTOMERS = 100_000


@dataclass(frozen=True)
class ExportScores:
    customers: int
    purchase: TransactionModel
    spend: GammaGammaModel
    #: customers the churn classifier was trained on (0: no churn risk, ``churn_error`` says why)
    trained: int
    churn_error: PatronError | None
    cutoff: date
    #: the signal files the folder lacks (the classifier is then the nine-feature one, survey features missing)
    missing_files: list[str] = field(default_factory=list)
    #: the out-of-time evaluation (None when there is no earlier window to train on: ``evaluation_error``)
    evaluation: churn.Evaluation | None = None
    evaluation_error: PatronError | None = None
    definition: str = "inactivity"


def score_export(
    folder: Path, out: Path, *, as_of: date, workspace_id: int | None = None, zone: str = "UTC",
    currency: str = "TWD", purchase_model: type[TransactionModel], months: int = 12, discount_rate: float = 0.01,
    window_days: int = 90, engine: str = "duckdb", chunk: int = CHUNK, definition: str = "inactivity",
    reasons: int = 3, locale: str | None = None, theme_names: Mapping[str, Mapping[str, str]] | None = None,
) -> ExportScores:  # fmt: skip
    """``patron clv score --parquet``: fit the purchase model and Gamma-Gamma on the export's orders up to
    ``as_of``, train the churn classifier at ``as_of − window_days`` (on about TRAIN_CUSTOMERS customers,
    probability alive from the purchase model refitted at each training cut-off), evaluate it out of time (the same classifier trained a window earlier, tested on that training table),
    and write every customer's scores and top ``reasons`` (sentences in ``locale``, themes named by
    ``theme_names``) to ``out``. Without enough
    history for churn, the CLV scores are still written (``churn_risk`` missing). A folder without the signal
    files (exported before them) gives the nine-feature model and names them in ``missing_files``."""
    rule = churn.ChurnDefinition(window_days, definition)
    missing = missing_signal_files(folder)
    con = open_orders(folder, engine)
    signals = None if missing else SignalTables.of(con)
    if signals is not None:  # the same theme columns at every cut-off, chosen at the first (as churn_service)
        first = as_of - timedelta(days=2 * window_days)
        signals = replace(signals, themes=top_negative_themes(signals, first, zone=zone))
    bought = purchases(con, workspace_id=workspace_id, currency=currency)
    features = feature_expression(bought, as_of=as_of, zone=zone, signals=signals)
    purchase, spend = fit_models(features, purchase_model)
    customers = int(features.count().execute())
    every = max(1, customers // TRAIN_CUSTOMERS)
    cutoff = as_of - timedelta(days=window_days)
    error: PatronError | None = None
    evaluation, evaluation_error = None, None
    classifier, reference = None, None
    trained = 0
    common = {"window_days": window_days, "zone": zone, "every": every, "signals": signals,
              "definition": rule.kind}  # fmt: skip
    try:
        x, y = training_frame(bought, purchase_model, as_of=as_of, **common)  # type: ignore[arg-type]
        with churn.threads_for(len(x)):
            classifier = churn.fit(x, y)
        trained, reference = len(x), x.median()
    except PatronError as exc:
        error, trained = exc, 0
    if classifier is not None:
        try:
            earlier_x, earlier_y = training_frame(bought, purchase_model, as_of=cutoff, **common)  # type: ignore[arg-type]
            with churn.threads_for(len(earlier_x)):
                held = churn.fit(earlier_x, earlier_y)
                evaluation = churn.evaluate(
                    y, predict_risk(held, model_columns(held, x)), None, train_customers=len(earlier_x),
                    train_cutoff=cutoff - timedelta(days=window_days), test_cutoff=cutoff,
                )  # fmt: skip
        except PatronError as exc:
            evaluation_error = exc
    scorer = Scorer(purchase, spend, classifier, months=months, discount_rate=discount_rate, reference=reference,
                    reasons=reasons, locale=locale, theme_names=theme_names,
                    skip_gone=rule.kind == "cancelled")  # fmt: skip
    about = {
        "as_of": as_of.isoformat(), "purchase_model": purchase.name, "months": months, "discount_rate": discount_rate,
        "churn_definition": rule.kind, "window_days": window_days, "churn_customers": trained,
        "churn_features": list(getattr(classifier, "feature_names_in_", [])),
        "churn_evaluation": evaluation.as_dict() if evaluation is not None else None,
        "missing_files": missing,
    }  # fmt: skip
    written = score_to_parquet(features, scorer, out, chunk, about)
    return ExportScores(written, purchase, spend, trained, error, cutoff, missing, evaluation, evaluation_error,
                        rule.kind)  # fmt: skip
