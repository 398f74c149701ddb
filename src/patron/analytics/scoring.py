"""Scoring at scale: every customer's RFM summary, churn behaviour features, CLV and churn risk, from orders in
Parquet (a ``patron export parquet`` folder) on DuckDB or Spark, written to one Parquet file.

The per-customer feature table is one Ibis expression run where the orders are (the engine aggregates them;
no order reaches Python). Its rows stream out in Arrow record batches of ``CHUNK`` customers; each batch is
scored with fitted models (vectorised numpy for BG/NBD, MBG/NBD or Pareto/NBD with Gamma-Gamma; the
classifier's ``predict_proba`` for churn risk) and written out before the next is read, so memory grows
with the batch, not with the orders or the customers.

The definitions are those of ``clv.summary`` (frequency, recency, T, monetary_value: ``workspace_summary``
gives the same numbers on SQLite and PostgreSQL) and of ``churn.behaviour_features`` (recency_days,
purchase days, mean value a purchase day, usual gap, recency ratio, 90-day trend); the tests check both on
the same data. Survey answers are not in the export per customer, so ``last_score`` and ``detractor`` are
missing here (the classifier handles missing values); nor are interactions, the loyalty ledger or feedback, so
the classifier here is over ``churn.FEATURES`` only (not ``churn.SIGNAL_FEATURES``: docs/churn.md, "Not yet").
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
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
from patron.analytics.clv import GammaGammaModel, TransactionModel, customer_lifetime_value
from patron.analytics.clv.base import distinct_rows
from patron.analytics.clv.summary import day_number, purchase_days
from patron.commerce.service import NON_REVENUE_STATUSES
from patron.core.errors import PatronError
from patron.core.money import minor_unit_exponent

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
    ]
)


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
    return con


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


def feature_expression(bought: ir.Table, *, as_of: date, zone: str = "UTC") -> ir.Table:
    """One row a customer with a purchase on or before ``as_of``: the RFM summary in days (frequency, recency,
    T, monetary_value as ``clv.summary``) and the churn behaviour features (as ``churn.behaviour_features``),
    in one pass over the purchase days."""
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
    return per.select(
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
    )


def churn_frame(features: pd.DataFrame, alive: np.ndarray) -> pd.DataFrame:
    """The classifier's input (``churn.FEATURES``, in order) from rows of ``feature_expression``."""
    return pd.DataFrame(
        {
            "recency_days": features["recency_days"].to_numpy(dtype=np.float64),
            "frequency": features["purchase_days"].to_numpy(dtype=np.float64),
            "monetary": np.round(features["mean_value"].to_numpy(dtype=np.float64), churn.MONETARY_DECIMALS),
            "usual_gap_days": features["usual_gap_days"].to_numpy(dtype=np.float64, na_value=np.nan),
            "recency_ratio": features["recency_ratio"].to_numpy(dtype=np.float64, na_value=np.nan),
            "trend": features["trend"].to_numpy(dtype=np.float64),
            "last_score": np.nan,
            "detractor": np.nan,
            "probability_alive": alive,
        },
        index=pd.Index(features["customer_id"].to_numpy(), name="customer_id"),
    )


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

    def _fitted(self, model: Any, frame: pd.DataFrame) -> Any:
        """The fitted model's parameters over a new frame (the models predict for the frame they hold)."""
        fresh = type(model)(frame)
        fresh.params = dict(model.params)
        return fresh

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores of a batch of ``feature_expression`` rows (columns of ``SCORE_SCHEMA``).

        Customers with the same (frequency, recency, T) have the same probability alive and expected
        purchases: those are computed once per distinct triple in the batch."""
        summary = features[list(SUMMARY_COLUMNS)].reset_index(drop=True)
        keys = summary[["frequency", "recency", "T"]]
        codes, distinct = _distinct(keys)
        triples = distinct.assign(customer_id=np.arange(len(distinct)))
        purchase = self._fitted(self.purchase, triples)
        alive = purchase.expected_probability_alive()["probability_alive"].to_numpy()[codes]
        purchases = purchase.expected_purchases(future_t=30.0 * self.months)["expected_purchases"].to_numpy()
        spend = self._fitted(self.spend, summary).expected_customer_spend()
        ones = pd.DataFrame({"customer_id": triples["customer_id"], "expected_spend": 1.0})
        per_unit = customer_lifetime_value(purchase, triples, expected_spend=ones, months=self.months,
                                           discount_rate=self.discount_rate, time_unit="D")["clv"].to_numpy()  # fmt: skip
        expected_spend = spend["expected_spend"].to_numpy()
        value = expected_spend * per_unit[codes]
        if self.churn_model is not None and len(summary):
            x = churn_frame(features, alive)
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

            with threadpool_limits(limits=self.threads, user_api="openmp"):
                risk = predict_risk(self.churn_model, x)
        else:
            risk = np.full(len(summary), np.nan)
        for name, column in (("probability alive", alive), ("CLV", value)):
            if not np.isfinite(column).all():
                raise PatronError("clv.not_converged", model=self.purchase.name, reason=f"{name} not finite")
        return pd.DataFrame(
            {
                "customer_id": summary["customer_id"].to_numpy(dtype=np.int64),
                "frequency": summary["frequency"].to_numpy(dtype=np.int64),
                "recency_days": summary["recency"].to_numpy(dtype=np.float64),
                "age_days": summary["T"].to_numpy(dtype=np.float64),
                "monetary_value": summary["monetary_value"].to_numpy(dtype=np.float64),
                "probability_alive": alive,
                "expected_purchases": purchases[codes],
                "expected_spend": expected_spend,
                "clv": value,
                "churn_risk": risk,
                "value_at_risk": risk * value,
            }
        )


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
    benchmark a batch of 100,000 customers has about 34,000 such groups."""
    points = split_points(model)
    if points is None or len(x) < 2:
        return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)
    values = x.to_numpy(dtype=np.float64)
    sides = []
    for feature, thresholds in points:
        column = values[:, feature]
        side = np.searchsorted(thresholds, column, side="left").astype(np.float64)
        side[np.isnan(column)] = -1.0
        sides.append(side)
    if not sides:
        return np.asarray(model.predict_proba(x.iloc[:1])[:, 1], dtype=np.float64).repeat(len(x))
    codes, firsts = distinct_rows(sides)
    return np.asarray(model.predict_proba(x.iloc[firsts])[:, 1], dtype=np.float64)[codes]


def _distinct(keys: pd.DataFrame) -> tuple[npt.NDArray[np.int64], pd.DataFrame]:
    """Codes of each row's distinct (frequency, recency, T) and the distinct rows."""
    values = [np.ascontiguousarray(keys[name].to_numpy(dtype=np.float64)) + 0.0 for name in keys.columns]
    codes, firsts = distinct_rows(values)
    distinct = keys.iloc[firsts].reset_index(drop=True)
    return codes, distinct.astype({"frequency": "int64", "recency": "float64", "T": "float64"})


def feature_batches(expression: ir.Table, chunk: int = CHUNK) -> Iterator[pd.DataFrame]:
    """The feature table in batches of at most ``chunk`` customers."""
    backend = expression._find_backend()
    if backend.name == "duckdb":  # Ibis 12 calls a cursor method DuckDB 1.4 renamed (to_arrow_reader)
        reader: Any = backend.con.sql(str(backend.compile(expression))).to_arrow_reader(chunk)
    else:
        reader = expression.to_pyarrow_batches(chunk_size=chunk)
    for batch in reader:
        if batch.num_rows:
            yield batch.to_pandas()


def score_to_parquet(expression: ir.Table, scorer: Scorer, out: Path, chunk: int = CHUNK) -> int:
    """Score every customer of ``feature_expression`` batch by batch into ``out``; returns the customers."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with pq.ParquetWriter(out, SCORE_SCHEMA, compression="zstd") as writer:
        for features in feature_batches(expression, chunk):
            scores = scorer.score(features)
            writer.write_table(pa.Table.from_pandas(scores, schema=SCORE_SCHEMA, preserve_index=False))
            rows += len(scores)
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
    bought: ir.Table, *, as_of: date, window_days: int, zone: str = "UTC", every: int = 1
) -> ir.Table:
    """Features at ``as_of − window_days`` with ``churned`` (1: no purchase in the window up to ``as_of``),
    for one customer in ``every`` (customer_id divisible by it: the same sample on every engine)."""
    cutoff = as_of - timedelta(days=window_days)
    features = feature_expression(bought, as_of=cutoff, zone=zone)
    if every > 1:
        features = features.filter(features.customer_id % every == 0)
    days = purchase_days(bought, zone=zone)
    later = days.filter((days.day > day_number(cutoff)) & (days.day <= day_number(as_of)))
    buyers = later.select(buyer=later.customer_id).distinct()
    joined = features.left_join(buyers, features.customer_id == buyers.buyer)
    return joined.mutate(churned=ibis.ifelse(joined.buyer.isnull(), 1, 0)).drop("buyer")


def fit_churn(
    bought: ir.Table, purchase: TransactionModel, *, as_of: date, window_days: int = 90, zone: str = "UTC",
    every: int = 1,
) -> Any:  # fmt: skip
    """The churn classifier trained on features at ``as_of − window`` (probability alive from ``purchase``'s
    parameters at that day) with labels from the window up to ``as_of``."""
    churn.ChurnDefinition(window_days)
    frame = training_expression(
        bought, as_of=as_of, window_days=window_days, zone=zone, every=every
    ).to_pandas()
    if frame.empty:
        raise PatronError(
            "churn.too_little_history", cutoff=(as_of - timedelta(days=window_days)).isoformat()
        )
    frame = frame.sort_values("customer_id", ignore_index=True)
    triples = frame[list(SUMMARY_COLUMNS[:4])]
    model = type(purchase)(triples)
    model.params = dict(purchase.params)
    alive = model.expected_probability_alive()["probability_alive"].to_numpy()
    x = churn_frame(frame, alive)
    with churn.threads_for(len(x)):
        return churn.fit(x, frame["churned"].to_numpy())


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


def score_export(
    folder: Path, out: Path, *, as_of: date, workspace_id: int | None = None, zone: str = "UTC",
    currency: str = "TWD", purchase_model: type[TransactionModel], months: int = 12, discount_rate: float = 0.01,
    window_days: int = 90, engine: str = "duckdb", chunk: int = CHUNK,
) -> ExportScores:  # fmt: skip
    """``patron clv score --parquet``: fit the purchase model and Gamma-Gamma on the export's orders up to
    ``as_of``, train the churn classifier at ``as_of − window_days`` (on about TRAIN_CUSTOMERS customers), and
    write every customer's scores to ``out``. Without enough history for churn, the CLV scores are still
    written (``churn_risk`` missing)."""
    con = open_orders(folder, engine)
    bought = purchases(con, workspace_id=workspace_id, currency=currency)
    features = feature_expression(bought, as_of=as_of, zone=zone)
    purchase, spend = fit_models(features, purchase_model)
    customers = int(features.count().execute())
    every = max(1, customers // TRAIN_CUSTOMERS)
    cutoff = as_of - timedelta(days=window_days)
    error: PatronError | None = None
    classifier = None
    trained = 0
    try:
        sample = training_expression(bought, as_of=as_of, window_days=window_days, zone=zone, every=every)
        trained = int(sample.count().execute())
        classifier = fit_churn(bought, purchase, as_of=as_of, window_days=window_days, zone=zone, every=every)
    except PatronError as exc:
        error, trained = exc, 0
    scorer = Scorer(purchase, spend, classifier, months=months, discount_rate=discount_rate)
    written = score_to_parquet(features, scorer, out, chunk)
    return ExportScores(written, purchase, spend, trained, error, cutoff)
