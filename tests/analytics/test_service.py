"""``patron clv fit|score|validate`` over a workspace's orders, the stored scores and their API."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.analytics import service
from patron.analytics.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value, workspace_summary
from patron.analytics.models import ClvModel, ClvScore
from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.importers import import_file
from patron.metrics.engine import connect
from patron.web.app import create_app
from tests.factories import ORDER_HEADER, make_workspace, write_csv

START = date(2025, 1, 1)
END = date(2025, 12, 31)


def _simulated_orders(customers: int, seed: int = 16) -> list[tuple[Any, ...]]:
    """BG/NBD purchases in days (r 0.25, α 30, a 0.8, b 2.4; first purchase in the first 12 weeks), order
    values Gamma-Gamma (p 6, q 4, γ 300: each customer's own mean), in whole TWD."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[Any, ...]] = []
    horizon = (END - START).days
    for i in range(customers):
        rate, dropout, nu = rng.gamma(0.25, 1 / 30), rng.beta(0.8, 2.4), rng.gamma(4, 1 / 300)
        day = float(rng.integers(0, 84))
        n = 0
        while day <= horizon:
            amount = max(1, round(rng.gamma(6, 1 / nu)))
            moment = START + timedelta(days=int(day))
            rows.append(
                (
                    f"O{i}-{n}",
                    1,
                    f"C{i:04d}",
                    f"{moment}T12:00:00+08:00",
                    "completed",
                    "web",
                    "",
                    1,
                    str(amount),
                    "",
                )
            )
            n += 1
            if rng.random() < dropout:
                break
            day += rng.exponential(1 / rate) if rate > 0 else horizon + 1
    return rows


@pytest.fixture
def shop(engine: Engine, tmp_path: Path) -> Workspace:
    workspace = make_workspace(engine)
    customers = write_csv(tmp_path / "c.csv", ("external_id",), [(f"C{i:04d}",) for i in range(600)])
    import_file(engine, workspace_slug=workspace.slug, kind="customers", path=customers)
    orders = write_csv(tmp_path / "o.csv", ORDER_HEADER, _simulated_orders(600))
    import_file(engine, workspace_slug=workspace.slug, kind="orders", path=orders)
    return workspace


def _cli(*args: str) -> Any:
    return CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "200"}).invoke(app, list(args))


def test_score_stores_what_the_models_compute(engine: Engine, shop: Workspace) -> None:
    answer = _cli("clv", "score", "--as-of", "2025-12-31", "--months", "6", "-w", shop.slug)
    assert answer.exit_code == 0, answer.output
    con = connect(engine.url.render_as_string(hide_password=False))
    summary = workspace_summary(con, shop.id, observation_end=END, zone="Asia/Taipei", currency="TWD")
    purchase = BetaGeoModel(summary).fit()
    spend = GammaGammaModel(summary).fit()
    value = customer_lifetime_value(purchase, summary, expected_spend=spend.expected_customer_spend(summary),
                                    months=6, discount_rate=0.01)  # fmt: skip
    assert f"scored {len(summary)} customers" in answer.output
    with transaction(engine) as session:
        rows = {
            r.customer_id: r
            for r in session.scalars(select(ClvScore).where(ClvScore.workspace_id == shop.id))
        }
        model = session.scalars(select(ClvModel).where(ClvModel.workspace_id == shop.id)).one()
        assert model.params["purchase"] == pytest.approx(purchase.params)
        assert model.observation_end == END
    assert len(rows) == len(summary)
    for customer, clv, alive in zip(
        summary["customer_id"],
        value["clv"],
        purchase.expected_probability_alive(summary)["probability_alive"],
        strict=True,
    ):
        assert rows[customer].clv_minor == round(clv * 100)  # TWD has two decimals
        assert rows[customer].probability_alive == pytest.approx(alive)
        assert rows[customer].horizon_months == 6


def test_scores_over_the_api_and_a_rerun_replaces_them(engine: Engine, shop: Workspace) -> None:
    assert _cli("clv", "score", "--as-of", "2025-12-31", "-w", shop.slug).exit_code == 0
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=shop.id, name="clv")
        first = session.scalar(select(func.max(ClvModel.id)).where(ClvModel.workspace_id == shop.id))
    other = make_workspace(engine)
    with transaction(engine) as session:
        _, other_key = core_service.create_api_key(session, workspace_id=other.id, name="clv")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        page = client.get("/api/v1/clv/scores?limit=5", headers=headers).json()
        values = [Decimal(item["clv"]) for item in page["items"]]
        assert values == sorted(values, reverse=True) and len(values) == 5
        top = page["items"][0]
        one = client.get(f"/api/v1/customers/{top['customer_id']}/clv", headers=headers).json()
        assert (
            one == top and one["model_version"] == f"bgnbd-{first}" and one["observation_end"] == "2025-12-31"
        )
        assert 0 <= one["probability_alive"] <= 1 and one["currency"] == "TWD"
        # another workspace's key sees none of it
        hidden = client.get(
            f"/api/v1/customers/{top['customer_id']}/clv", headers={"Authorization": f"Bearer {other_key}"}
        )
        assert hidden.status_code == 404
        assert (
            client.get("/api/v1/clv/scores", headers={"Authorization": f"Bearer {other_key}"}).json()["total"]
            == 0
        )
        never = client.get("/api/v1/customers/C0599/clv", headers=headers)
        if never.status_code == 404:  # C0599 may have bought: then it has a score
            assert never.json()["error"]["code"] in {"clv.not_scored", "customer.not_found"}
        total = page["total"]
    assert _cli("clv", "score", "--as-of", "2025-12-31", "--model", "pareto", "-w", shop.slug).exit_code == 0
    with transaction(engine) as session:
        count = session.scalar(
            select(func.count()).select_from(ClvScore).where(ClvScore.workspace_id == shop.id)
        )
        versions = set(session.scalars(select(ClvScore.model_id).where(ClvScore.workspace_id == shop.id)))
    assert count == total and versions == {first + 1}, "replaced, by the new fit"


def test_fit_and_validate_commands(engine: Engine, shop: Workspace) -> None:
    fitted = _cli("clv", "fit", "--as-of", "2025-12-31", "-w", shop.slug)
    assert fitted.exit_code == 0, fitted.output
    assert "BG/NBD" in fitted.output and "Gamma-Gamma" in fitted.output and "95% interval" in fitted.output
    checked = _cli("clv", "validate", "--as-of", "2025-12-31", "--holdout-days", "120", "-w", shop.slug)
    assert checked.exit_code == 0, checked.output
    assert "holdout purchases: actual" in checked.output and "calibration plot" in checked.output
    with transaction(engine) as session:  # kept on the stored fit for the Customer value tab
        model = session.scalars(select(ClvModel).where(ClvModel.workspace_id == shop.id)).one()
    kept = model.params["validation"]
    assert isinstance(kept, dict) and f"kept with {model.version}" in checked.output
    report = service.validate(
        connect(engine.url.render_as_string(hide_password=False)), shop, holdout_days=120, observation_end=END
    )
    assert kept["holdout_days"] == 120 and kept["actual_total"] == report.actual_total
    assert kept["mean_absolute_error"] == pytest.approx(report.mean_absolute_error)
    assert [(r["label"], r["customers"]) for r in kept["by_frequency"]] == list(
        zip(report.by_frequency["label"], report.by_frequency["customers"], strict=True)
    )


def test_bad_requests_get_clear_messages(engine: Engine, shop: Workspace) -> None:
    unknown = _cli("clv", "score", "--model", "weibull", "--as-of", "2025-12-31", "-w", shop.slug)
    assert unknown.exit_code == 2 and "Unknown purchase model 'weibull'" in unknown.output
    empty = make_workspace(engine)
    nothing = _cli("clv", "fit", "-w", empty.slug, "--lang", "zh-Hant")
    assert nothing.exit_code == 2 and "沒有任何購買" in nothing.output
    horizon = _cli("clv", "score", "--months", "0", "--as-of", "2025-12-31", "-w", shop.slug)
    assert horizon.exit_code == 2 and "horizon 0" in horizon.output
    with pytest.raises(Exception) as early:  # a day before anyone bought: no purchases
        service.fit(
            connect(engine.url.render_as_string(hide_password=False)),
            shop,
            observation_end=date(2024, 12, 31),
        )
    assert getattr(early.value, "code", None) == "clv.no_orders"
