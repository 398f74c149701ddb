"""Scoring N customers (RFM summary + churn features in the engine, then CLV and churn risk in batches) from
orders in Parquet, beside what a user would otherwise run: pandas groupby over all the orders and the models'
numpy over the whole frame, in the same run.

    python bench/scoring.py [--customers 1000000] [--data /tmp/patron-scoring] [--spark] [--no-signals]

The orders are generated (seeded) from the published CDNOW estimates, in days: BG/NBD r 0.243, α 4.414·7,
a 0.793, b 2.426 (purchase days over 78 weeks, first ones in the first 12), 1 + Poisson(0.3) orders a
purchase day, order values from Gamma-Gamma p 6.25, q 3.74, γ 15.44 (dollars); 2 % of orders cancelled.
Beside the orders, the churn features' sources as ``patron export parquet`` writes them (``--no-signals``:
orders only, the nine-feature model): NPS answers of 30 % of customers, support contacts, complaints and
cancellations, assistant hand-overs, loyalty members (40 %) with earn and redeem entries and tier moves, and
analysed feedback items — about 3 rows a customer, drawn at random (the classifier gets noise to split on,
the worst case for the number of distinct tree paths). Scoring uses those parameters as the fitted ones (``--fit`` fits them on the data first and reports the
time) and a churn classifier trained once, before the timed runs, on one customer in ten.

Each phase runs in its own process so its peak RSS (ru_maxrss) is its own: ``duckdb`` (and ``spark``) score
through ``patron.analytics.scoring`` into a Parquet file; ``pandas`` reads every order (and signal row) into pandas, groups
them (``churn.feature_table`` and a lifetimes-style summary) and runs the same models on the full frame.
``duckdb`` runs twice: without reasons (the bar: summary + CLV + churn risk) and with each customer's top
three reasons and their sentences (``reasons``).
The load average is printed before and after: other work shares this machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

START = date(1997, 1, 1)
HORIZON_DAYS = 546  # 78 weeks
AS_OF = START + timedelta(days=HORIZON_DAYS - 1)
BGNBD = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
WINDOW = 90


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def generate(customers: int, folder: Path, seed: int = 16) -> int:
    """orders.parquet as ``patron export parquet`` writes it; returns the orders written."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(BGNBD["r"], 1 / BGNBD["alpha"], customers)
    dropout = rng.beta(BGNBD["a"], BGNBD["b"], customers)
    nu = rng.gamma(GAMMA_GAMMA["q"], 1 / GAMMA_GAMMA["v"], customers)
    day = rng.integers(0, 84, customers).astype(np.float64)
    who, when = [np.arange(customers)], [np.floor(day)]
    active = np.arange(customers)
    while True:
        active = active[rng.random(active.size) >= dropout[active]]  # dropped out after the last purchase
        with np.errstate(divide="ignore"):
            day[active] += rng.exponential(1.0, active.size) / rate[active]
        active = active[day[active] < HORIZON_DAYS]
        if not active.size:
            break
        who.append(active)
        when.append(np.floor(day[active]))
    buyer, purchase_day = np.concatenate(who), np.concatenate(when)
    per_day = 1 + rng.poisson(0.3, buyer.size)
    buyer, purchase_day = np.repeat(buyer, per_day), np.repeat(purchase_day, per_day)
    order = np.argsort(purchase_day, kind="stable")
    buyer, purchase_day = buyer[order], purchase_day[order]
    n = buyer.size
    value = rng.gamma(GAMMA_GAMMA["p"], 1 / nu[buyer])
    seconds = rng.integers(0, 86_400, n)
    epoch = (START - date(1970, 1, 1)).days * 86_400
    moments = ((epoch + purchase_day.astype(np.int64) * 86_400 + seconds) * 1_000_000).astype(
        "datetime64[us]"
    )
    status = np.where(rng.random(n) < 0.02, "cancelled", "completed")
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "workspace_id": pa.array(np.ones(n, dtype=np.int64)), "customer_id": pa.array(buyer.astype(np.int64) + 1),
        "ordered_at": pa.array(moments), "status": pa.array(status), "channel": pa.array(np.full(n, "web")),
        "total_minor": pa.array(np.maximum(1, np.round(value * 100)).astype(np.int64)),
        "currency": pa.array(np.full(n, "USD")), "segment": pa.array(np.full(n, "member")),
    })  # fmt: skip
    pq.write_table(table, folder / "orders.parquet", row_group_size=500_000, compression="zstd")
    return n


def _moments(rng: np.random.Generator, size: int) -> Any:
    """``size`` UTC times spread over the 78 weeks."""
    epoch = (START - date(1970, 1, 1)).days * 86_400
    seconds = epoch + rng.integers(0, HORIZON_DAYS * 86_400, size)
    return (seconds * 1_000_000).astype("datetime64[us]")


def generate_signals(customers: int, folder: Path, seed: int = 17) -> int:
    """The signal files (``export.SIGNAL_FILES``' columns) at random; returns the rows written."""
    rng = np.random.default_rng(seed)

    def who(share: float, most: int) -> Any:
        ids = np.flatnonzero(rng.random(customers) < share) + 1
        return np.repeat(ids, rng.integers(1, most + 1, ids.size)).astype(np.int64)

    def write(name: str, columns: dict[str, Any]) -> int:
        table = pa.table(columns)
        order = [("customer_id", "ascending")]
        pq.write_table(table.sort_by(order), folder / f"{name}.parquet", compression="zstd")
        return int(table.num_rows)

    rows = 0
    c = who(0.3, 2)
    when = _moments(rng, c.size)
    order = np.lexsort((when, c))
    rows += write("survey_scores", {
        "answer_id": pa.array(np.arange(1, c.size + 1, dtype=np.int64)), "customer_id": pa.array(c[order]),
        "completed_at": pa.array(when[order]), "question_type": pa.array(np.full(c.size, "nps")),
        "score": pa.array(rng.integers(0, 11, c.size).astype(np.float64)),
        "scale_min": pa.array(np.zeros(c.size)), "scale_max": pa.array(np.full(c.size, 10.0)),
    })  # fmt: skip
    c = who(0.35, 3)
    kinds = np.asarray(["support_contact", "complaint", "subscription_cancelled"])
    rows += write("interactions", {"customer_id": pa.array(c), "occurred_at": pa.array(_moments(rng, c.size)),
                                   "type": pa.array(kinds[rng.choice(3, c.size, p=[0.7, 0.25, 0.05])])})  # fmt: skip
    c = who(0.05, 1)
    opened = _moments(rng, c.size)
    closed = opened + (rng.integers(1, 10, c.size) * 86_400 * 1_000_000).astype("timedelta64[us]")
    rows += write("handovers", {"customer_id": pa.array(c), "created_at": pa.array(opened),
                                "closed_at": pa.array(closed, mask=rng.random(c.size) < 0.2)})  # fmt: skip
    members = np.flatnonzero(rng.random(customers) < 0.4).astype(np.int64) + 1
    rows += write("loyalty_members", {"customer_id": pa.array(members),
                                      "enrolled_at": pa.array(_moments(rng, members.size))})  # fmt: skip
    c = np.repeat(members, rng.integers(1, 6, members.size))
    redeem = rng.random(c.size) < 0.25
    points = np.where(redeem, -rng.integers(10, 200, c.size), rng.integers(10, 300, c.size))
    rows += write("loyalty_entries", {
        "customer_id": pa.array(c), "created_at": pa.array(_moments(rng, c.size)),
        "kind": pa.array(np.where(redeem, "redeem", "earn")), "points": pa.array(points.astype(np.int64)),
        "debt_delta": pa.array(np.zeros(c.size, dtype=np.int64)),
    })  # fmt: skip
    c = members[rng.random(members.size) < 0.25]
    rows += write("loyalty_tier_moves", {
        "move_id": pa.array(np.arange(1, c.size + 1, dtype=np.int64)), "customer_id": pa.array(c),
        "created_at": pa.array(_moments(rng, c.size)), "rank": pa.array(rng.integers(0, 3, c.size).astype(np.float64)),
    })  # fmt: skip
    c = who(0.15, 2)
    sentiments = np.asarray(["negative", "neutral", "positive"])
    rows += write("feedback_items", {"customer_id": pa.array(c), "occurred_at": pa.array(_moments(rng, c.size)),
                                     "sentiment": pa.array(sentiments[rng.choice(3, c.size, p=[0.3, 0.3, 0.4])])})  # fmt: skip
    return rows


#: the mentions' themes (keys of the shipped taxonomy) and how often an item mentions each
THEMES = {"delivery": 0.30, "price": 0.25, "product_quality": 0.20, "service": 0.15, "packaging": 0.10}


def generate_mentions(folder: Path, seed: int = 18) -> int:
    """``feedback_mentions`` for the generated feedback items: one or two themes an item, with the item's
    customer, moment and (nine times in ten) its sentiment; returns the rows written."""
    rng = np.random.default_rng(seed)
    items = pq.read_table(folder / "feedback_items.parquet")
    times = rng.integers(1, 3, items.num_rows)
    at = np.repeat(np.arange(items.num_rows), times)
    keys = np.asarray(list(THEMES))
    sentiment = items["sentiment"].to_numpy(zero_copy_only=False)[at]
    other = np.asarray(["negative", "neutral", "positive"])[rng.integers(0, 3, at.size)]
    table = pa.table({
        "customer_id": items["customer_id"].take(pa.array(at)),
        "occurred_at": items["occurred_at"].take(pa.array(at)),
        "theme": pa.array(keys[rng.choice(keys.size, at.size, p=list(THEMES.values()))]),
        "sentiment": pa.array(np.where(rng.random(at.size) < 0.9, sentiment, other)),
    })  # fmt: skip
    order = [("customer_id", "ascending"), ("occurred_at", "ascending"), ("theme", "ascending")]
    pq.write_table(table.sort_by(order), folder / "feedback_mentions.parquet", compression="zstd")
    return int(table.num_rows)


def models(summary: pd.DataFrame | None = None) -> tuple[Any, Any]:
    from patron.analytics.clv import BetaGeoModel, GammaGammaModel

    frame = summary if summary is not None else pd.DataFrame(
        {"customer_id": [1], "frequency": [0], "recency": [0.0], "T": [1.0], "monetary_value": [0.0]}
    )  # fmt: skip
    purchase, spend = BetaGeoModel(frame), GammaGammaModel(frame)
    purchase.params, spend.params = dict(BGNBD), dict(GAMMA_GAMMA)
    return purchase, spend


def phase_train(folder: Path) -> dict[str, Any]:
    from patron.analytics import scoring

    con = scoring.open_orders(folder)
    purchase, _ = models()
    start = time.perf_counter()  # the purchase model is refitted at the cut-off (as the stored path does)
    trained = scoring.train_churn(scoring.purchases(con, currency="USD"), type(purchase), as_of=AS_OF,
                                  window_days=WINDOW, every=10, signals=_signals(folder, con))  # fmt: skip
    seconds = time.perf_counter() - start
    (folder / "churn.pickle").write_bytes(pickle.dumps(trained))
    return {"train_s": seconds, "peak_mb": peak_mb(), "features": int(trained.model.n_features_in_)}


def _signals(folder: Path, con: Any) -> Any:
    """The signal tables, with the negative themes chosen at the first cut-off (as ``score_export`` does)."""
    from patron.analytics import scoring

    if scoring.missing_signal_files(folder):
        return None
    tables = scoring.SignalTables.of(con)
    return dataclasses.replace(
        tables, themes=scoring.top_negative_themes(tables, AS_OF - timedelta(days=2 * WINDOW))
    )


def phase_engine(folder: Path, engine: str, fit: bool, reasons: int = 0) -> dict[str, Any]:
    from patron.analytics import scoring
    from patron.analytics.clv import BetaGeoModel

    trained = pickle.loads((folder / "churn.pickle").read_bytes())
    purchase, spend = models()
    con = scoring.open_orders(folder, engine)
    start, cpu = time.perf_counter(), time.process_time()
    features = scoring.feature_expression(scoring.purchases(con, currency="USD"), as_of=AS_OF,
                                          signals=_signals(folder, con))  # fmt: skip
    result: dict[str, Any] = {}
    if fit:
        purchase, spend = scoring.fit_models(features, BetaGeoModel)
        result["fit_s"] = time.perf_counter() - start
        result["fitted"] = {**purchase.params, **spend.params}
    scorer = scoring.Scorer(purchase, spend, trained.model, months=12, reference=trained.reference,
                            reasons=reasons, locale="en")  # fmt: skip
    suffix = "-reasons" if reasons else ""
    rows = scoring.score_to_parquet(features, scorer, folder / f"scores-{engine}{suffix}.parquet")
    result |= {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "customers": rows,
               "peak_mb": peak_mb()}  # fmt: skip
    return result


def phase_pandas(folder: Path) -> dict[str, Any]:
    """All orders in pandas, grouped there; the models over the whole frame (one row a customer)."""
    from patron.analytics import churn
    from patron.analytics.clv import customer_lifetime_value

    classifier = pickle.loads((folder / "churn.pickle").read_bytes()).model
    start, cpu = time.perf_counter(), time.process_time()
    orders = pd.read_parquet(
        folder / "orders.parquet", columns=["customer_id", "ordered_at", "status", "total_minor"]
    )
    orders = orders[orders["status"] != "cancelled"]
    frame = pd.DataFrame({"customer_id": orders["customer_id"].to_numpy(),
                          "day": orders["ordered_at"].dt.floor("D"), "amount": orders["total_minor"] / 100})  # fmt: skip
    per_day = frame.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    grouped = per_day.groupby("customer_id")
    first, last = grouped["day"].min(), grouped["day"].max()
    count = grouped["day"].count()
    first_value = per_day.loc[per_day["day"].eq(per_day["customer_id"].map(first)), ["customer_id", "amount"]]
    total = grouped["amount"].sum()
    end = pd.Timestamp(AS_OF)
    repeats = count - 1
    summary = pd.DataFrame({
        "customer_id": count.index.to_numpy(), "frequency": repeats.to_numpy(),
        "recency": (last - first).dt.days.to_numpy(dtype=float), "T": (end - first).dt.days.to_numpy(dtype=float),
        "monetary_value": np.where(repeats > 0, (total - first_value.set_index("customer_id")["amount"])
                                   / repeats.clip(lower=1), 0.0),
    })  # fmt: skip
    purchase, spend = models(summary)
    alive = purchase.expected_probability_alive()["probability_alive"].to_numpy()
    expected = spend.expected_customer_spend()
    value = customer_lifetime_value(purchase, summary, expected_spend=expected, months=12)["clv"].to_numpy()
    answers, signals = _pandas_signals(folder)
    alive_frame = pd.DataFrame({"customer_id": summary["customer_id"], "probability_alive": alive})
    x = churn.feature_table(frame, answers, AS_OF, alive_frame, signals)
    x = x.reindex(summary["customer_id"])[list(classifier.feature_names_in_)]
    with churn.threads_for(len(x)):
        risk = classifier.predict_proba(x)[:, 1]
    out = pd.DataFrame({"customer_id": summary["customer_id"], "probability_alive": alive, "clv": value,
                        "churn_risk": risk})  # fmt: skip
    out.to_parquet(folder / "scores-pandas.parquet")
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "customers": len(out),
            "orders": len(orders), "peak_mb": peak_mb()}  # fmt: skip


def _pandas_signals(folder: Path) -> tuple[pd.DataFrame, Any]:
    """The signal files as ``churn_service.answers_frame`` and ``signals_frame`` give them (days in UTC)."""
    from patron.analytics import churn

    if not (folder / "survey_scores.parquet").is_file():
        return pd.DataFrame(columns=["customer_id", "day", "score", "scale_min", "scale_max"]), None

    def read(name: str, moment: str, *columns: str, also: tuple[str, ...] = ()) -> pd.DataFrame:
        raw = pd.read_parquet(folder / f"{name}.parquet")
        out = pd.DataFrame({"customer_id": raw["customer_id"].to_numpy(), "day": raw[moment].dt.floor("D")})
        for source, target in also:
            out[target] = raw[source].dt.floor("D")
        for column in columns:
            out[column] = raw[column].to_numpy()
        return out

    answers = read("survey_scores", "completed_at", "score", "scale_min", "scale_max")
    signals = churn.Signals(
        interactions=read("interactions", "occurred_at", "type"),
        handovers=read("handovers", "created_at", also=(("closed_at", "closed"),)),
        members=read("loyalty_members", "enrolled_at"),
        entries=read("loyalty_entries", "created_at", "kind", "points", "debt_delta"),
        tiers=read("loyalty_tier_moves", "created_at", "rank"),
        items=read("feedback_items", "occurred_at", "sentiment"),
        mentions=read("feedback_mentions", "occurred_at", "theme", "sentiment"),
    )
    themes = churn.top_negative_themes(signals.mentions, AS_OF - timedelta(days=2 * WINDOW))
    return answers, dataclasses.replace(signals, themes=themes)


def child(phase: str, folder: Path, *extra: str) -> dict[str, Any]:
    answer = subprocess.run([sys.executable, __file__, "--phase", phase, "--data", str(folder), *extra],
                            check=True, capture_output=True, text=True)  # fmt: skip
    return dict(json.loads(answer.stdout.strip().splitlines()[-1]))


def compare(folder: Path, engine: str) -> float:
    ours = pd.read_parquet(folder / f"scores-{engine}.parquet").sort_values("customer_id", ignore_index=True)
    theirs = pd.read_parquet(folder / "scores-pandas.parquet").sort_values("customer_id", ignore_index=True)
    assert np.array_equal(ours["customer_id"].to_numpy(), theirs["customer_id"].to_numpy())
    worst = 0.0
    for name in ("probability_alive", "clv", "churn_risk"):
        a, b = ours[name].to_numpy(), theirs[name].to_numpy()
        worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=Path("/tmp/patron-scoring"))
    parser.add_argument("--spark", action="store_true", help="also score on Spark local mode")
    parser.add_argument("--fit", action="store_true", help="fit BG/NBD and Gamma-Gamma on the data first")
    parser.add_argument("--no-signals", action="store_true", help="orders only: the nine-feature model")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = {"train": lambda: phase_train(args.data), "pandas": lambda: phase_pandas(args.data),
                  "duckdb": lambda: phase_engine(args.data, "duckdb", args.fit),
                  "reasons": lambda: phase_engine(args.data, "duckdb", args.fit, reasons=3),
                  "spark": lambda: phase_engine(args.data, "spark", args.fit)}[args.phase]()  # fmt: skip
        print(json.dumps(result))
        return
    folder = args.data / (str(args.customers) + ("-orders-only" if args.no_signals else ""))
    print(
        f"{datetime.now():%Y-%m-%d %H:%M} load average before: {load()} (2 cores, shared with other agents' work)"
    )
    if not (folder / "orders.parquet").is_file():
        start = time.perf_counter()
        orders = generate(args.customers, folder)
        print(
            f"generated {orders:,} orders of {args.customers:,} customers in {time.perf_counter() - start:.1f} s"
        )
    if not args.no_signals and not (folder / "survey_scores.parquet").is_file():
        start = time.perf_counter()
        signal_rows = generate_signals(args.customers, folder)
        print(f"generated {signal_rows:,} signal rows in {time.perf_counter() - start:.1f} s")
    if not args.no_signals and not (folder / "feedback_mentions.parquet").is_file():
        start = time.perf_counter()
        mention_rows = generate_mentions(folder)
        print(f"generated {mention_rows:,} feedback mentions in {time.perf_counter() - start:.1f} s")
    size = (folder / "orders.parquet").stat().st_size / 1e6
    print(
        f"orders.parquet: {pq.ParquetFile(folder / 'orders.parquet').metadata.num_rows:,} orders, {size:.0f} MB"
    )
    trained = child("train", folder)
    print(f"churn classifier ({trained['features']} features) trained on one customer in ten: "
          f"{trained['train_s']:.1f} s (not in the times below)")  # fmt: skip
    extra = ["--fit"] if args.fit else []
    engines = ["duckdb", "reasons", *(["spark"] if args.spark else [])]
    results = {engine: child(engine, folder, *extra) for engine in engines}
    results["pandas"] = child("pandas", folder)
    base = results["pandas"]["seconds"]
    for name, result in results.items():
        ratio = f", {base / result['seconds']:.1f}× faster than pandas" if name != "pandas" else ""
        fitted = f" (fit {result['fit_s']:.2f} s included)" if "fit_s" in result else ""
        print(f"  {name:7s} {result['seconds']:6.2f} s wall, {result['cpu']:6.2f} s CPU{fitted}, peak RSS {result['peak_mb']:5.0f} MB, "
              f"{result['customers']:,} customers{ratio}")  # fmt: skip
    for engine in (e for e in engines if e != "reasons"):
        if not args.fit:
            print(
                f"  {engine} vs pandas: worst relative difference {compare(folder, engine):.2g} "
                "(probability alive, CLV, churn risk)"
            )
    print(f"load average after: {load()}")
    print("(ratios are of wall times; CPU time counts every thread of the process, DuckDB's included)")


if __name__ == "__main__":
    main()
