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


# ------------------------------------------------------------------- service, loyalty and feedback features
SIGNALS_CUTOFF = date(2025, 6, 30)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def signal_workspace(engine: Engine, tmp_path: Path) -> tuple[Workspace, dict[str, int]]:
    """Customers A and B of a Taipei workspace with orders, interactions (through the interactions import), an
    assistant hand-over, the loyalty ledger and tier moves, and analysed feedback; their ids by external id."""
    from patron.assistant.models import Conversation
    from patron.feedback.models import FeedbackItem, FeedbackMention
    from patron.loyalty.models import Entry, Member, TierMove, TierSet

    workspace = make_workspace(engine)
    import_file(engine, workspace_slug=workspace.slug, kind="customers",
                path=write_csv(tmp_path / "c.csv", ("external_id",), [("A",), ("B",)]))  # fmt: skip
    import_file(engine, workspace_slug=workspace.slug, kind="orders", path=write_csv(tmp_path / "o.csv", ORDER_HEADER, [
        ("O1", 1, "A", "2025-01-10T12:00:00+08:00", "completed", "web", "", 1, "100", ""),
        ("O2", 1, "B", "2025-03-01T12:00:00+08:00", "completed", "web", "", 1, "50", ""),
    ]))  # fmt: skip
    report = import_file(engine, workspace_slug=workspace.slug, kind="interactions", path=write_csv(
        tmp_path / "i.csv", ("customer_id", "occurred_at", "type", "channel"), [
            ("A", "2025-06-20T12:00:00+08:00", "support_contact", "chat"),
            ("A", "2025-04-15T12:00:00+08:00", "complaint", "phone"),
            ("A", "2025-06-30T20:00:00+00:00", "complaint", "phone"),  # 1 Jul in Taipei: after the cut-off
            ("A", "2025-06-25T12:00:00+08:00", "email_open", "email"),
            ("B", "2025-07-10T12:00:00+08:00", "subscription_cancelled", "web"),
        ]))  # fmt: skip
    assert report.rejected == 0
    with transaction(engine) as session:
        ids = dict(session.execute(select(Customer.external_id, Customer.id).where(Customer.workspace_id == workspace.id)).all())  # fmt: skip
        ws = workspace.id
        member = Member(
            workspace_id=ws, customer_id=ids["A"], enrolled_at=_moment("2024-07-01T12:00:00+08:00")
        )
        session.add(member)
        session.flush()
        for n, (at, kind, points) in enumerate([
            ("2024-08-01T12:00:00+08:00", "earn", 500), ("2025-05-01T12:00:00+08:00", "redeem", -80),
            ("2025-06-30T17:00:00+00:00", "redeem", -50),  # 1 Jul, 01:00 in Taipei: after the cut-off
        ]):  # fmt: skip
            session.add(Entry(workspace_id=ws, member_id=member.id, kind=kind, points=points, reason="test",
                              source="manual", idempotency_key=f"k{n}", created_at=_moment(at)))  # fmt: skip
        session.add(TierSet(workspace_id=ws, version=1, effective_from=_moment("2024-01-01T00:00:00+08:00"),
                            currency="TWD", tiers=[{"code": "base"}, {"code": "silver"}, {"code": "gold"}],
                            created_at=_moment("2024-01-01T00:00:00+08:00")))  # fmt: skip
        session.add(TierMove(workspace_id=ws, member_id=member.id, from_tier="base", to_tier="gold", reason="upgrade",
                             qualifying_minor=0, tier_set_version=1, created_at=_moment("2025-03-01T12:00:00+08:00")))  # fmt: skip
        session.add(Conversation(workspace_id=ws, customer_id=ids["A"], contact_email="a@example.com", language="en",
                                 channel="web", nonce=f"n-a-{ws}", created_at=_moment("2025-06-01T12:00:00+08:00")))  # fmt: skip
        for n, (customer, at, sentiment, theme) in enumerate([
            (ids["A"], "2025-06-10T12:00:00+08:00", "negative", "delivery"),
            (ids["A"], "2025-06-12T12:00:00+08:00", "positive", "price"),
            (None, "2025-06-12T12:00:00+08:00", "negative", "price"),  # nobody known: not a customer's
            (ids["B"], "2025-06-30T20:00:00+00:00", "negative", "price"),  # 1 Jul in Taipei
        ]):  # fmt: skip
            item = FeedbackItem(workspace_id=ws, source_key=f"key:{n}", channel="email", occurred_at=_moment(at),
                                customer_id=customer, text="t", masked_text="t", analysis_text="t", language="en",
                                sentiment=sentiment, analyzed_with="shipped:1")  # fmt: skip
            session.add(item)
            session.flush()
            session.add(FeedbackMention(workspace_id=ws, item_id=item.id, theme=theme, clause=0, sentiment=sentiment,
                                        score=0.0, occurred_at=item.occurred_at, channel="email"))  # fmt: skip
    return workspace, ids


def test_signal_features_from_the_database(engine: Engine, tmp_path: Path) -> None:
    """The signals of ``signal_workspace`` read as of 30 Jun 2025 in Asia/Taipei: every value by hand; rows
    after the cut-off day there (20:00 UTC on 30 Jun is 1 Jul in Taipei) count for nothing."""
    workspace, ids = signal_workspace(engine, tmp_path)
    with transaction(engine) as session:
        signals = churn_service.signals_frame(session, workspace, themes_at=SIGNALS_CUTOFF)
        orders = churn_service.orders_frame(session, workspace)
        names = churn_service.theme_names(session, workspace, signals.themes)
    assert signals.themes == ("delivery",)  # price's negative mention by a customer is after the cut-off
    assert names["delivery"]["en"] and set(names["delivery"]) == {"en", "zh-Hant", "zh-Hans"}
    table = churn.feature_table(orders, pd.DataFrame(columns=["customer_id", "day", "score", "scale_min",
                                                             "scale_max"]), SIGNALS_CUTOFF, signals=signals)  # fmt: skip
    a, b = table.loc[ids["A"]], table.loc[ids["B"]]
    assert (a["support_contacts_90d"], a["complaints_90d"], a["complaints_365d"]) == (2, 1, 1)
    assert (a["handovers_365d"], a["open_handovers"]) == (1, 1)
    assert (a["member"], a["tier_rank"], a["points_balance"]) == (1, 2, 420)
    assert (a["points_redeemed_90d"], a["days_since_redemption"]) == (80, 60)
    assert (a["negative_items_180d"], a["negative_share_180d"], a["negative_theme_delivery"]) == (1, 0.5, 1)
    assert b["member"] == 0 and b["negative_items_180d"] == 0 and pd.isna(b["negative_share_180d"])
    assert signals.cancellations()["customer_id"].tolist() == [ids["B"]]
    assert [d.date() for d in signals.cancellations()["day"]] == [date(2025, 7, 10)]


def _cancellations(engine: Engine, workspace: Workspace, tmp_path: Path) -> None:
    """Every third customer of the shop cancels on a day between 5 Jul and 26 Dec 2025."""
    rows = [(f"C{i:04d}", f"{date.fromordinal(date(2025, 7, 5).toordinal() + (i * 7) % 175)}T10:00:00+08:00",
             "subscription_cancelled", "web") for i in range(0, 600, 3)]  # fmt: skip
    path = write_csv(tmp_path / "cancel.csv", ("customer_id", "occurred_at", "type", "channel"), rows)
    assert import_file(engine, workspace_slug=workspace.slug, kind="interactions", path=path).rejected == 0


def test_cancelled_definition_through_the_cli(engine: Engine, shop: Workspace, tmp_path: Path) -> None:  # noqa: F811
    none = _cli("churn", "train", "--as-of", AS_OF, "--definition", "cancelled", "-w", shop.slug)
    assert none.exit_code == 2 and "No cancellations recorded" in none.output
    odd = _cli(
        "churn", "train", "--as-of", AS_OF, "--definition", "quit", "-w", shop.slug, "--lang", "zh-Hant"
    )
    assert odd.exit_code == 2 and "未知的流失定義「quit」" in odd.output
    _cancellations(engine, shop, tmp_path)
    answer = _cli("churn", "score", "--as-of", AS_OF, "--definition", "cancelled", "-w", shop.slug)
    assert answer.exit_code == 0, answer.output
    with transaction(engine) as session:
        model = session.scalars(select(ChurnModel).where(ChurnModel.workspace_id == shop.id)).one()
        scored = set(
            session.scalars(select(ChurnScore.customer_id).where(ChurnScore.workspace_id == shop.id))
        )
        orders = churn_service.orders_frame(session, shop)
        cancellations = churn_service.signals_frame(session, shop).cancellations()
        ids = dict(session.execute(select(Customer.external_id, Customer.id).where(Customer.workspace_id == shop.id)).all())  # fmt: skip
    assert model.definition == "cancelled" and model.version == f"gbm-cancelled-90d-{model.id}"
    # scored: the buyers by 31 Dec who had not cancelled by then (or bought again after cancelling)
    end = date(2025, 12, 31)
    gone = churn.cancelled_by(orders, cancellations, end)
    assert scored == set(orders.loc[orders["day"] <= "2025-12-31", "customer_id"]) - gone and gone
    # the evaluation's labels are the cancellations in (2 Oct, 31 Dec] among the subscribers of 2 Oct
    test = churn.labels(orders, date(2025, 10, 2), churn.ChurnDefinition(90, "cancelled"), cancellations)
    assert model.evaluation["test_customers"] == len(test)
    assert model.evaluation["base_rate"] == pytest.approx(test.mean())
    # C0003 cancels on 26 Jul (5 Jul + 21 days): a subscriber on 2 Oct only if it bought again after that
    bought_again = ((orders["customer_id"] == ids["C0003"]) & (orders["day"] > "2025-07-26") & (orders["day"] <= "2025-10-02")).any()  # fmt: skip
    assert (ids["C0003"] in test.index) == bool(bought_again) and 0 < test.mean() < 1
    report = _cli("churn", "report", "-w", shop.slug)
    assert report.exit_code == 0 and "churned = a subscription cancelled within 90 days" in report.output
