"""Scoring from a Parquet export on DuckDB and on Spark local mode gives the scores of the operational path
(``workspace_summary`` on SQLite, ``churn.feature_table`` over ``orders_frame``) for the same customers."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

from patron.analytics import churn, churn_service, scoring
from patron.analytics import service as clv_service
from patron.analytics.clv import customer_lifetime_value
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.importers import import_file
from patron.metrics.engine import connect
from patron.metrics.export import export_parquet
from tests.analytics.test_service import END, _simulated_orders
from tests.factories import ORDER_HEADER, make_workspace, write_csv
from tests.metrics.test_spark import spark_ready

__all__ = ["spark_ready"]
CUSTOMERS = 2_000
WINDOW = 90


@dataclass(frozen=True)
class World:
    workspace: Workspace
    folder: Path
    scorer: scoring.Scorer
    expected: pd.DataFrame
    labels: pd.Series
    #: the classifier's input at END and its training medians (the reasons' reference)
    x: pd.DataFrame
    reference: pd.Series
    #: the stored path's probability alive at the training and the evaluation's cut-off (refitted at each)
    alive: dict[date, pd.Series | None]


def _stored_alive(con: Any, workspace: Workspace, cutoff: date) -> pd.Series | None:
    """``churn_service``'s probability alive at ``cutoff``: BG/NBD refitted on the purchases up to it (None
    when that fit cannot be made)."""
    alive = churn_service._alive_at(con, workspace, cutoff, "bgnbd")
    return None if alive is None else alive.set_index("customer_id")["probability_alive"].sort_index()


@pytest.fixture(scope="module")
def world(sqlite_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> World:
    """2,000 simulated customers of a Taipei workspace on SQLite; the scores of the operational path."""
    tmp = tmp_path_factory.mktemp("scoring")
    workspace = make_workspace(sqlite_engine)
    customers = write_csv(tmp / "c.csv", ("external_id",), [(f"C{i:04d}",) for i in range(CUSTOMERS)])
    import_file(sqlite_engine, workspace_slug=workspace.slug, kind="customers", path=customers)
    orders = write_csv(tmp / "o.csv", ORDER_HEADER, _simulated_orders(CUSTOMERS, seed=7))
    import_file(sqlite_engine, workspace_slug=workspace.slug, kind="orders", path=orders)
    con = connect(sqlite_engine.url.render_as_string(hide_password=False))
    fitted = clv_service.fit(con, workspace, observation_end=END)
    assert fitted.spend is not None
    summary = fitted.summary
    with transaction(sqlite_engine) as session:
        frame = churn_service.orders_frame(session, workspace)
    no_answers = pd.DataFrame(columns=["customer_id", "day", "score", "scale_min", "scale_max"])
    cutoff = END - timedelta(days=WINDOW)
    stored_alive = {c: _stored_alive(con, workspace, c) for c in (cutoff, cutoff - timedelta(days=WINDOW))}
    at_cutoff = stored_alive[cutoff]
    assert at_cutoff is not None  # identified at END − window (not at END − 2·window: half a year of data)
    train_x = churn.feature_table(
        frame, no_answers, cutoff, at_cutoff.rename_axis("customer_id").reset_index()
    )
    labels = churn.labels(frame, cutoff, churn.ChurnDefinition(WINDOW)).reindex(train_x.index)
    classifier = churn.fit(train_x, labels)
    alive = fitted.purchase.expected_probability_alive(summary)
    x = churn.feature_table(frame, no_answers, END, alive).reindex(summary["customer_id"])
    spend = fitted.spend.expected_customer_spend(summary)
    value = customer_lifetime_value(
        fitted.purchase, summary, expected_spend=spend, months=6, discount_rate=0.01
    )
    risk = classifier.predict_proba(x)[:, 1]
    expected = pd.DataFrame({
        "customer_id": summary["customer_id"], "frequency": summary["frequency"], "recency_days": summary["recency"],
        "age_days": summary["T"], "monetary_value": summary["monetary_value"],
        "probability_alive": alive["probability_alive"],
        "expected_purchases": fitted.purchase.expected_purchases(summary, future_t=180.0)["expected_purchases"],
        "expected_spend": spend["expected_spend"], "clv": value["clv"], "churn_risk": risk,
        "value_at_risk": risk * value["clv"].to_numpy(),
    })  # fmt: skip
    export_parquet(con, workspace.id, tmp / "export", zone=workspace.timezone)
    scorer = scoring.Scorer(fitted.purchase, fitted.spend, classifier, months=6, discount_rate=0.01)
    return World(workspace, tmp / "export", scorer, expected, labels, x, train_x.median(), stored_alive)


def _scored(world: World, engine: str, out: Path, scorer: scoring.Scorer | None = None) -> pd.DataFrame:
    con = scoring.open_orders(world.folder, engine)
    bought = scoring.purchases(con, workspace_id=world.workspace.id, currency=world.workspace.currency)
    features = scoring.feature_expression(bought, as_of=END, zone=world.workspace.timezone)
    written = scoring.score_to_parquet(features, scorer or world.scorer, out, chunk=700)  # three batches
    assert written == len(world.expected)
    return pd.read_parquet(out).sort_values("customer_id", ignore_index=True)


def _assert_same(found: pd.DataFrame, expected: pd.DataFrame) -> None:
    found = found.drop(columns="reasons")
    expected = expected.drop(columns="reasons", errors="ignore")
    assert list(found.columns) == list(expected.columns)
    assert np.array_equal(found["customer_id"].to_numpy(), expected["customer_id"].to_numpy())
    assert np.array_equal(found["frequency"].to_numpy(), expected["frequency"].to_numpy())
    for name in expected.columns[2:]:
        ours, theirs = found[name].to_numpy(dtype=np.float64), expected[name].to_numpy(dtype=np.float64)
        assert np.isfinite(ours).all(), name
        assert np.allclose(ours, theirs, rtol=1e-9, atol=0.0), (
            name,
            np.max(np.abs(ours - theirs) / np.abs(theirs)),
        )


def test_duckdb_scores_are_the_operational_scores(world: World, tmp_path: Path) -> None:
    found = _scored(world, "duckdb", tmp_path / "scores.parquet")
    assert len(found) > 1_900 and (found["frequency"] > 0).sum() > 300
    _assert_same(found, world.expected)


def test_spark_scores_are_the_duckdb_and_operational_scores(
    spark_ready: None, world: World, tmp_path: Path
) -> None:
    on_spark = _scored(world, "spark", tmp_path / "spark.parquet")
    _assert_same(on_spark, world.expected)
    _assert_same(on_spark, _scored(world, "duckdb", tmp_path / "duckdb.parquet"))
    con = scoring.open_orders(world.folder, "spark")
    bought = scoring.purchases(con, workspace_id=world.workspace.id, currency=world.workspace.currency)
    labels = scoring.training_expression(bought, as_of=END, window_days=WINDOW, zone=world.workspace.timezone)
    found = (
        labels.select("customer_id", "churned").to_pandas().set_index("customer_id")["churned"].sort_index()
    )
    assert found.to_dict() == world.labels.to_dict()


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_probability_alive_is_refitted_at_each_cutoff(
    world: World, engine: str, request: pytest.FixtureRequest
) -> None:
    """The training tables of the final model (cut-off END − window) and of the evaluation (END − 2·window)
    carry the stored path's probability alive: BG/NBD refitted on the purchases up to that cut-off, not the
    parameters fitted at END (which know the purchases after it). At END − 2·window (half a year of data) the
    fit cannot pin down b: the feature is missing there, on both paths."""
    if engine == "spark":
        request.getfixturevalue("spark_ready")
    con = scoring.open_orders(world.folder, engine)
    ws = world.workspace
    bought = scoring.purchases(con, workspace_id=ws.id, currency=ws.currency)
    frames = {
        as_of - timedelta(days=WINDOW): scoring.training_frame(
            bought, type(world.scorer.purchase), as_of=as_of, window_days=WINDOW, zone=ws.timezone
        )[0]
        for as_of in (END, END - timedelta(days=WINDOW))
    }
    cutoff, earlier = END - timedelta(days=WINDOW), END - timedelta(days=2 * WINDOW)
    x, stored = frames[cutoff], world.alive[cutoff]
    assert stored is not None and len(x) > 1_000 and set(x.index) <= set(stored.index)
    ours, theirs = x["probability_alive"].to_numpy(), stored.reindex(x.index).to_numpy()
    assert np.isfinite(ours).all()
    assert np.allclose(ours, theirs, rtol=1e-6, atol=0.0), np.max(np.abs(ours - theirs) / theirs)
    # the parameters fitted at END give other values at the cut-off: the leak the refit closes
    leaked = type(world.scorer.purchase)(
        scoring.summary_frame(scoring.feature_expression(bought, as_of=cutoff, zone=ws.timezone))
    )
    leaked.params = dict(world.scorer.purchase.params)
    old = leaked.expected_probability_alive().set_index("customer_id")["probability_alive"].reindex(x.index)
    assert np.max(np.abs(old.to_numpy() - theirs)) > 1e-3
    assert world.alive[earlier] is None
    assert len(frames[earlier]) > 1_000 and frames[earlier]["probability_alive"].isna().all()


def test_training_labels_and_fit_on_duckdb(world: World) -> None:
    """The training table's labels are ``churn.labels``; the models fitted on the export are the ones fitted
    on SQLite."""
    con = scoring.open_orders(world.folder)
    bought = scoring.purchases(con, workspace_id=world.workspace.id, currency=world.workspace.currency)
    table = scoring.training_expression(bought, as_of=END, window_days=WINDOW, zone=world.workspace.timezone)
    found = (
        table.select("customer_id", "churned").to_pandas().set_index("customer_id")["churned"].sort_index()
    )
    assert found.to_dict() == world.labels.to_dict()
    features = scoring.feature_expression(bought, as_of=END, zone=world.workspace.timezone)
    purchase, spend = scoring.fit_models(features, type(world.scorer.purchase))
    assert purchase.params == pytest.approx(world.scorer.purchase.params, rel=1e-6)
    assert spend.params == pytest.approx(world.scorer.spend.params, rel=1e-6)
    sampled = scoring.training_expression(bought, as_of=END, window_days=WINDOW, every=4).to_pandas()
    assert len(sampled) and (sampled["customer_id"] % 4 == 0).all()
    classifier = scoring.fit_churn(
        bought, type(purchase), as_of=END, window_days=WINDOW, zone=world.workspace.timezone
    )
    assert classifier.predict_proba(
        scoring.churn_frame(features.to_pandas().head(5), np.full(5, 0.5))
    ).shape == (5, 2)


def test_a_folder_without_orders_is_named(tmp_path: Path) -> None:
    with pytest.raises(PatronError) as missing:
        scoring.open_orders(tmp_path)
    assert missing.value.code == "metrics.parquet_missing_files"
    with pytest.raises(PatronError) as engine:
        scoring.open_orders(tmp_path, "polars")
    assert engine.value.code == "import.bad_format"


def test_the_command_scores_an_export_into_a_file(
    sqlite_engine: Engine, world: World, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from patron.cli import app
    from patron.core.db import set_engine

    out = tmp_path / "scores.parquet"
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "250"})
    set_engine(sqlite_engine)
    try:
        missing = runner.invoke(
            app, ["clv", "score", "--parquet", str(world.folder), "-w", world.workspace.slug]
        )
        answer = runner.invoke(app, ["clv", "score", "--parquet", str(world.folder), "--out", str(out), "--months",
                                     "6", "--as-of", END.isoformat(), "-w", world.workspace.slug])  # fmt: skip
        chinese = runner.invoke(app, ["clv", "score", "--parquet", str(world.folder), "--lang", "zh-Hant",
                                      "-w", world.workspace.slug])  # fmt: skip
    finally:
        set_engine(None)
    assert missing.exit_code != 0 and "--out" in missing.output
    assert "--out" in chinese.output and "Parquet 檔案" in chinese.output
    assert answer.exit_code == 0, answer.output
    count = len(world.expected)
    assert f"{count} customers scored with BG/NBD and Gamma-Gamma (orders to {END})" in answer.output
    assert "Churn risk from a classifier trained on" in answer.output
    assert "Out-of-time evaluation: trained at 2025-07-04, tested at 2025-10-02" in answer.output
    assert "exported before" not in answer.output
    found = pd.read_parquet(out).sort_values("customer_id", ignore_index=True)
    assert np.array_equal(found["customer_id"].to_numpy(), world.expected["customer_id"].to_numpy())
    # the models are refitted on the export: the same estimates to the optimiser's precision
    assert np.allclose(found["clv"], world.expected["clv"], rtol=1e-5)
    assert found["churn_risk"].between(0, 1).all()
    about = json.loads(pq.read_schema(out).metadata[b"patron"])
    assert (
        about["churn_definition"] == "inactivity" and about["churn_evaluation"]["test_cutoff"] == "2025-10-02"
    )
    assert 0.5 < about["churn_evaluation"]["auc"] <= 1 and len(about["churn_features"]) == 23
    said = [r["text"] for reasons in found["reasons"] for r in reasons]
    assert len(said) > 1_000 and "No purchase for 298 days" in said


def test_an_older_export_gives_the_nine_feature_model_with_a_warning(
    sqlite_engine: Engine, world: World, tmp_path: Path
) -> None:
    """A folder exported before the signal files: scored all the same, the missing files named."""
    from typer.testing import CliRunner

    from patron.cli import app
    from patron.core.db import set_engine

    old = tmp_path / "old"
    old.mkdir()
    (old / "orders.parquet").write_bytes((world.folder / "orders.parquet").read_bytes())
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "250"})
    set_engine(sqlite_engine)
    try:
        answer = runner.invoke(app, ["clv", "score", "--parquet", str(old), "--out", str(tmp_path / "s.parquet"),
                                     "--as-of", END.isoformat(), "--reasons", "0", "-w", world.workspace.slug])  # fmt: skip
    finally:
        set_engine(None)
    assert answer.exit_code == 0, answer.output
    flat = " ".join(answer.output.split())
    assert (
        "was exported before the survey, service, loyalty and feedback files (survey_scores.parquet," in flat
    )
    found = pd.read_parquet(tmp_path / "s.parquet")
    assert found["churn_risk"].between(0, 1).all() and found["reasons"].isna().all()


def test_risk_is_computed_once_per_path_through_the_trees(world: World) -> None:
    """Rows every tree sends the same way share one prediction: the same numbers, bit for bit."""
    x = world.scorer.churn_model  # the classifier trained on the SQLite path
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.gamma(2.0, 20.0, (5_000, len(churn.FEATURES))), columns=list(churn.FEATURES))
    frame.iloc[::7, 3] = np.nan
    frame["last_score"] = np.nan
    assert np.array_equal(scoring.predict_risk(x, frame), x.predict_proba(frame)[:, 1])
    points = scoring.split_points(x)
    assert points is not None and all(np.all(np.diff(t) > 0) for _, t in points)

    class Constant:
        def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
            return np.tile([0.75, 0.25], (len(rows), 1))

    assert scoring.split_points(Constant()) is None
    assert scoring.predict_risk(Constant(), frame).tolist() == [0.25] * len(frame)


def test_pareto_nbd_scores_without_a_churn_model(world: World, tmp_path: Path) -> None:
    from patron.analytics.clv import ParetoNBDModel

    e = world.expected
    summary = pd.DataFrame({"customer_id": e["customer_id"], "frequency": e["frequency"], "recency": e["recency_days"],
                            "T": e["age_days"], "monetary_value": e["monetary_value"]})  # fmt: skip
    purchase = ParetoNBDModel(summary).fit()
    spend = world.scorer.spend.expected_customer_spend(summary)
    value = customer_lifetime_value(purchase, summary, expected_spend=spend, months=3, discount_rate=0.02)
    scorer = scoring.Scorer(purchase, world.scorer.spend, None, months=3, discount_rate=0.02)
    con = scoring.open_orders(world.folder)
    bought = scoring.purchases(con, workspace_id=world.workspace.id, currency=world.workspace.currency)
    features = scoring.feature_expression(bought, as_of=END, zone=world.workspace.timezone)
    scoring.score_to_parquet(features, scorer, tmp_path / "pareto.parquet", chunk=1_000)
    found = pd.read_parquet(tmp_path / "pareto.parquet").sort_values("customer_id", ignore_index=True)
    alive = purchase.expected_probability_alive(summary)["probability_alive"].to_numpy()
    assert np.allclose(found["probability_alive"], alive, rtol=1e-9, atol=0.0)
    assert np.allclose(found["clv"], value["clv"], rtol=1e-9, atol=0.0)
    assert found["churn_risk"].isna().all() and found["value_at_risk"].isna().all()


def test_reasons_are_the_stored_paths(world: World, tmp_path: Path) -> None:
    """Each customer's top reasons (features, contributions, sentences in Traditional Chinese) are those
    ``churn.top_reasons`` and ``churn.reason_text`` give over the same classifier and reference."""
    scorer = dataclasses.replace(world.scorer, reference=world.reference, locale="zh-Hant")
    found = _scored(world, "duckdb", tmp_path / "reasons.parquet", scorer)
    _assert_same(found, world.expected)
    model, x = world.scorer.churn_model, world.x
    contrib = churn.contributions(model, x, world.reference)
    expected = churn.top_reasons(contrib, x)
    assert sum(map(len, expected)) > 1_000
    for customer, ours, theirs in zip(found["customer_id"], found["reasons"], expected, strict=True):
        assert [r["feature"] for r in ours] == [r["feature"] for r in theirs], customer
        assert [r["contribution"] for r in ours] == pytest.approx(
            [r["contribution"] for r in theirs], abs=1e-4
        )
        assert [r["text"] for r in ours] == [churn.reason_text(r, "zh-Hant") for r in theirs]
    # the risk is predict_proba's bit for bit; the contributions within rounding, and exactly 0 where they are
    assert scoring._Forest.of(model) is not None  # the trees as tables, not predict_proba per feature
    ours_c, risk = scoring.contributions(model, x, world.reference)
    assert np.array_equal(risk, model.predict_proba(x)[:, 1])
    assert np.allclose(ours_c, contrib.to_numpy(), rtol=0.0, atol=1e-12)
    assert np.array_equal(ours_c == 0.0, contrib.to_numpy() == 0.0)


def test_theme_reasons_name_the_theme_in_the_readers_language() -> None:
    """A theme feature's sentence names the theme as the workspace's taxonomy does in the reader's language
    (English when the language has no name), and by its key when the taxonomy does not know it: the same
    sentences ``churn.reason_text`` gives the stored path's reasons."""
    x = pd.DataFrame({"negative_theme_delivery": [2.0, 1.0], "negative_theme_refunds": [0.0, 3.0]})
    contrib = np.asarray([[0.20, 0.0], [0.05, 0.10]])
    names = {"delivery": {"en": "Delivery", "zh-Hant": "配送", "zh-Hans": "配送"}}
    got = {
        locale: scoring.reasons_array(contrib, x, 2, locale, names).to_pylist()
        for locale in ("zh-Hant", "en")
    }
    assert [r["text"] for r in got["zh-Hant"][0]] == ["近 180 天對「配送」的負面意見：2 則"]
    assert [r["text"] for r in got["zh-Hant"][1]] == [
        "近 180 天對「refunds」的負面意見：3 則",
        "近 180 天對「配送」的負面意見：1 則",
    ]
    assert [r["text"] for r in got["en"][1]] == [
        "Negative comments about refunds in the last 180 days: 3",
        "Negative comments about Delivery in the last 180 days: 1",
    ]
    stored = churn.top_reasons(pd.DataFrame(contrib, columns=x.columns), x, theme_names=names)
    assert [[churn.reason_text(r, "zh-Hant") for r in row] for row in stored] == [
        [r["text"] for r in row] for row in got["zh-Hant"]
    ]
    unnamed = scoring.reasons_array(contrib, x, 1, "en").to_pylist()
    assert unnamed[0][0]["text"] == "Negative comments about delivery in the last 180 days: 2"


def test_customers_gone_at_the_cutoff_get_no_risk_under_the_cancelled_definition(world: World) -> None:
    """With ``skip_gone`` (the ``cancelled`` definition) a customer who had cancelled gets no risk and no
    reasons; the others are scored as usual."""
    con = scoring.open_orders(world.folder)
    bought = scoring.purchases(con, workspace_id=world.workspace.id, currency=world.workspace.currency)
    batch = scoring.feature_expression(bought, as_of=END, zone=world.workspace.timezone).to_pandas().head(40)
    gone = np.arange(40) % 4 == 0
    scorer = dataclasses.replace(world.scorer, reference=world.reference, skip_gone=True)
    found = scorer.score(batch.assign(gone=gone.astype(int)))
    usual = scorer.score(batch)
    assert found["churn_risk"].isna().tolist() == gone.tolist()
    assert np.array_equal(found["churn_risk"][~gone], usual["churn_risk"][~gone])
    assert found["reasons"][gone].isna().all() and found["value_at_risk"][gone].isna().all()
    assert not usual["reasons"].isna().any()


def test_contributions_of_a_one_split_tree_by_hand() -> None:
    """One tree, one split (a ≤ 0.5), balanced classes: the baseline is logit(0.5) = 0 and each leaf's value is
    the learning rate times −(sum of gradients)/(sum of hessians) = 0.1 · ∓0.5·20/(0.25·20) = ∓0.2. A customer
    with a = 1 against the reference a = 0 contributes expit(0.2) − expit(−0.2) = 0.09966799…; b is never
    split on and contributes 0; a customer on the reference's side contributes exactly 0."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    a = np.repeat([0.0, 1.0], 20)
    x = pd.DataFrame({"a": a, "b": np.tile([3.0, 7.0], 20)})
    model = HistGradientBoostingClassifier(
        max_iter=1, learning_rate=0.1, l2_regularization=0.0, min_samples_leaf=1, max_leaf_nodes=2
    ).fit(x, (a > 0.5).astype(int))
    rows = pd.DataFrame({"a": [1.0, 0.0, 0.7], "b": [3.0, 7.0, 5.0]})
    contrib, risk = scoring.contributions(model, rows, pd.Series({"a": 0.0, "b": 5.0}))
    by_hand = 1 / (1 + np.exp(-0.2)) - 1 / (1 + np.exp(0.2))
    assert by_hand == pytest.approx(0.0996679946, abs=1e-10)
    assert contrib[:, 0] == pytest.approx([by_hand, 0.0, by_hand], abs=1e-12)
    assert contrib[1, 0] == 0.0 and (contrib[:, 1] == 0.0).all()
    assert risk == pytest.approx(1 / (1 + np.exp([-0.2, 0.2, -0.2])), abs=1e-12)


def test_contributions_equal_the_one_at_a_time_contrast_with_missing_values() -> None:
    """``_Forest`` against ``churn.contributions`` (predict_proba with each feature swapped) on a model fitted
    with missing values, rows and reference with missing values, within rounding."""
    rng = np.random.default_rng(8)
    x = pd.DataFrame(rng.normal(size=(2_000, 5)), columns=list("abcde"))
    x.iloc[::5, 1] = np.nan
    y = ((x["a"] + x["b"].fillna(1.0) + rng.normal(0, 0.5, len(x))) > 0).astype(int)
    model = churn.new_classifier().set_params(max_iter=30).fit(x, y)
    rows = pd.DataFrame(rng.normal(size=(500, 5)), columns=list("abcde"))
    rows.iloc[::3, 1] = np.nan
    for reference in (x.median(), x.median().where(x.columns != "b")):  # then b's reference missing
        ours, risk = scoring.contributions(model, rows, reference)
        theirs = churn.contributions(model, rows, reference).to_numpy()
        assert np.allclose(ours, theirs, rtol=0.0, atol=1e-12) and np.array_equal(ours == 0, theirs == 0)
        assert np.array_equal(risk, model.predict_proba(rows)[:, 1])
        assert (ours != 0).any()
