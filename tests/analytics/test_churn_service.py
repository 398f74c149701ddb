"""``patron churn train|score|report`` over a workspace's orders and answers, the stored scores and their API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.analytics import churn, churn_service
from patron.analytics.models import ChurnModel, ChurnScore, ClvScore
from patron.cli import app
from patron.core import clock
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.importers import import_file
from patron.surveys.models import Survey, SurveyAnswer, SurveyResponse
from patron.web.app import create_app
from tests.analytics.test_service import shop  # noqa: F401  (a fixture: 600 simulated customers in 2025)
from tests.factories import ORDER_HEADER, make_workspace, write_csv

AS_OF = "2025-12-31"


def _cli(*args: str) -> Any:
    return CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "250"}).invoke(app, list(args))


def _answer(session: Any, workspace: Workspace, customer_id: int, at: datetime, score: int) -> None:
    survey = Survey(workspace_id=workspace.id, key=f"nps-{score}-{at:%j}", kind="nps", touchpoint="post_purchase",
                    channel="web", definition={})  # fmt: skip
    session.add(survey)
    session.flush()
    response = SurveyResponse(workspace_id=workspace.id, survey_id=survey.id, survey_version=1,
                              customer_id=customer_id, touchpoint="post_purchase", channel="web", locale="en",
                              started_at=at, completed_at=at)  # fmt: skip
    session.add(response)
    session.flush()
    session.add(SurveyAnswer(workspace_id=workspace.id, response_id=response.id, survey_id=survey.id,
                             question_key="nps", question_type="nps", score=score, scale_min=0, scale_max=10))  # fmt: skip


def test_orders_and_answers_from_the_database(engine: Engine, tmp_path: Path) -> None:
    """Days are the workspace's (Asia/Taipei): 20:00 UTC on 31 Jan is 1 Feb there; cancelled orders are left
    out; amounts in major units."""
    workspace = make_workspace(engine)
    customers = write_csv(tmp_path / "c.csv", ("external_id",), [("A",), ("B",)])
    import_file(engine, workspace_slug=workspace.slug, kind="customers", path=customers)
    orders = write_csv(tmp_path / "o.csv", ORDER_HEADER, [
        ("O1", 1, "A", "2025-01-31T20:00:00+00:00", "completed", "web", "", 2, "150", ""),
        ("O2", 1, "A", "2025-02-10T12:00:00+08:00", "cancelled", "web", "", 1, "999", ""),
        ("O3", 1, "B", "2025-02-10T12:00:00+08:00", "delivered", "web", "", 1, "80", ""),
    ])  # fmt: skip
    import_file(engine, workspace_slug=workspace.slug, kind="orders", path=orders)
    with transaction(engine) as session:
        ids = dict(session.execute(select(Customer.external_id, Customer.id).where(Customer.workspace_id == workspace.id)).all())  # fmt: skip
        _answer(session, workspace, ids["A"], datetime(2025, 2, 2, 3, tzinfo=UTC), 9)
        _answer(session, workspace, ids["A"], datetime(2025, 2, 20, 3, tzinfo=UTC), 3)
    with transaction(engine) as session:
        frame = churn_service.orders_frame(session, workspace).sort_values("amount")
        answers = churn_service.answers_frame(session, workspace)
    assert frame["customer_id"].tolist() == [ids["B"], ids["A"]]
    assert [d.date() for d in frame["day"]] == [date(2025, 2, 10), date(2025, 2, 1)]
    assert frame["amount"].tolist() == [80.0, 300.0]
    table = churn.feature_table(frame, answers, date(2025, 3, 1))
    assert table.loc[ids["A"], "recency_days"] == 28 and table.loc[ids["A"], "last_score"] == 3
    assert table.loc[ids["A"], "detractor"] == 1 and pytest.approx(table.loc[ids["B"], "monetary"]) == 80
    assert pd.isna(table.loc[ids["B"], "last_score"])


def test_score_stores_risk_reasons_and_value_at_risk(engine: Engine, shop: Workspace) -> None:  # noqa: F811
    assert _cli("clv", "score", "--as-of", AS_OF, "-w", shop.slug).exit_code == 0
    at = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    with clock.frozen(at):
        answer = _cli("churn", "score", "--as-of", AS_OF, "--window", "90", "-w", shop.slug)
    assert answer.exit_code == 0, answer.output
    assert (
        "out-of-time evaluation: trained at 2025-07-04" in answer.output
        and "tested at 2025-10-02" in answer.output
    )
    with transaction(engine) as session:
        model = session.scalars(select(ChurnModel).where(ChurnModel.workspace_id == shop.id)).one()
        rows = list(session.scalars(select(ChurnScore).where(ChurnScore.workspace_id == shop.id)))
        clv = dict(session.execute(select(ClvScore.customer_id, ClvScore.clv_minor).where(ClvScore.workspace_id == shop.id)).all())  # fmt: skip
        bought = churn_service.orders_frame(session, shop)
    buyers = set(bought.loc[bought["day"] <= AS_OF, "customer_id"])
    assert {r.customer_id for r in rows} == buyers and model.customers == len(buyers)
    assert model.version == f"gbm-90d-{model.id}" and model.cutoff == date(2025, 12, 31)
    assert model.computed_at == at and all(r.computed_at == at for r in rows)
    evaluation = model.evaluation
    assert 0.5 < float(str(evaluation["auc"])) <= 1 and evaluation["test_cutoff"] == "2025-10-02"
    assert sum(int(str(d["customers"])) for d in evaluation["calibration"]) == evaluation["test_customers"]  # type: ignore[union-attr,index]
    for row in rows:
        assert 0 <= row.risk <= 1 and len(row.reasons) <= 3
        assert row.clv_minor == clv[row.customer_id]
        assert row.value_at_risk_minor == round(row.risk * clv[row.customer_id])
    assert any(row.reasons for row in rows)
    report = _cli("churn", "report", "-w", shop.slug, "--lang", "zh-Hant")
    assert report.exit_code == 0 and f"gbm-90d-{model.id}" in report.output and "calibration" in report.output


def test_churn_api_ranks_by_value_at_risk_and_names_errors(engine: Engine, shop: Workspace) -> None:  # noqa: F811
    assert _cli("clv", "score", "--as-of", AS_OF, "-w", shop.slug).exit_code == 0
    assert _cli("churn", "score", "--as-of", AS_OF, "-w", shop.slug).exit_code == 0
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=shop.id, name="churn")
    other = make_workspace(engine)
    with transaction(engine) as session:
        _, other_key = core_service.create_api_key(session, workspace_id=other.id, name="churn")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        page = client.get("/api/v1/churn/at-risk?limit=20", headers=headers).json()
        values = [float(item["value_at_risk"]) for item in page["items"]]
        assert values == sorted(values, reverse=True) and len(values) == 20
        top = page["items"][0]
        assert float(top["value_at_risk"]) == pytest.approx(top["risk"] * float(top["clv"]), abs=0.01)
        one = client.get(f"/api/v1/churn/customers/{top['customer_id']}", headers=headers).json()
        assert one == top
        chinese = client.get(
            f"/api/v1/churn/customers/{top['customer_id']}", headers={**headers, "Accept-Language": "zh-TW"}
        ).json()
        assert [r["feature"] for r in chinese["reasons"]] == [r["feature"] for r in top["reasons"]]
        assert all(r["text"] == churn.reason_text({"feature": r["feature"], "params": p["params"]}, "zh-Hant")
                   for r, p in zip(chinese["reasons"], _stored_reasons(engine, shop, top["customer_id"]), strict=True))  # fmt: skip
        unknown = client.get("/api/v1/churn/customers/NOBODY", headers=headers)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "customer.not_found"
        hidden = client.get(f"/api/v1/churn/customers/{top['customer_id']}", headers={"Authorization": f"Bearer {other_key}"})  # fmt: skip
        assert hidden.status_code == 404
        empty = client.get("/api/v1/churn/at-risk", headers={"Authorization": f"Bearer {other_key}"}).json()
        assert empty["total"] == 0
        assert client.get("/api/v1/churn/at-risk?limit=0", headers=headers).status_code == 422


def _stored_reasons(engine: Engine, workspace: Workspace, external_id: str) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        row = session.scalars(
            select(ChurnScore).join(Customer, Customer.id == ChurnScore.customer_id)
            .where(ChurnScore.workspace_id == workspace.id, Customer.external_id == external_id)
        ).one()  # fmt: skip
        return list(row.reasons)


def test_bad_requests_get_clear_messages(engine: Engine, shop: Workspace) -> None:  # noqa: F811
    window = _cli("churn", "score", "--window", "0", "--as-of", AS_OF, "-w", shop.slug)
    assert window.exit_code == 2 and "at least 1 day (got 0)" in window.output
    early = _cli(
        "churn", "train", "--as-of", "2025-03-01", "--window", "90", "-w", shop.slug, "--lang", "zh-Hans"
    )
    assert early.exit_code == 2 and "历史数据不足" in early.output
    empty = make_workspace(engine)
    nothing = _cli("churn", "train", "-w", empty.slug, "--lang", "zh-Hant")
    assert nothing.exit_code == 2 and "沒有任何購買" in nothing.output
    report = _cli("churn", "report", "-w", empty.slug)
    assert report.exit_code == 2 and "no churn model yet" in report.output
    with transaction(engine) as session, pytest.raises(PatronError) as missing:
        churn_service.customer_risk(session, workspace_id=shop.id, external_id="C0001")
    assert missing.value.code == "churn.not_scored" and missing.value.status == 404
