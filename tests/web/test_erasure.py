"""Erasing a customer and the retention of feedback originals (docs/privacy.md): nothing of the person is left in any text column of any table, what
finance keeps still adds up, and only admins (or an API key, or the CLI) can do it — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.analytics.models import ClvModel, ClvScore
from patron.assistant.models import Conversation, Message
from patron.cli import app
from patron.commerce.models import Order, OrderLine
from patron.core import service as core_service
from patron.core.clock import utcnow
from patron.core.db import Base, transaction
from patron.core.models import Role
from patron.customers import erasure
from patron.customers.models import Customer, CustomerErasure
from patron.feedback import retention
from patron.feedback.models import FeedbackItem
from patron.importers import import_file
from patron.loyalty import service as loyalty
from patron.loyalty.models import Entry, Lot, Member, ReferralCode
from patron.loyalty.schemas import EarnRuleCreate, ProgramUpdate
from patron.social.models import SocialMention, SocialTerm
from patron.surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse
from patron.surveys.service import templates
from patron.web.deps import group_commit
from patron.webhooks import service as webhooks
from patron.webhooks.models import WebhookEndpoint
from tests.factories import ORDER_HEADER, write_csv
from tests.web.conftest import PASSWORD, Tenant, csrf_of, log_in

NAME = "林雅婷抹除"
EMAIL = "yating.erase@example.com"
PHONE = "0912345678"
COMMENT = "店員林雅婷抹除很親切，請打 0912345678 找我"
HANDOVER = "我的訂單一直沒到，雅婷抹除的問題"
runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None, "PATRON_LANG": None})


def _seed(engine: Engine, client: TestClient, tenant: Tenant, folder: Path) -> None:
    """Customer E1 with orders, loyalty points, a survey answer with a comment (and its feedback item), an
    invitation, a hand-over and a CLV score; C001–C003 stay as they are."""
    ws = tenant.workspace
    customers = write_csv(folder / "e.csv", ("external_id", "name", "email", "phone", "city", "birthday"),
                          [("E1", NAME, EMAIL, PHONE, "花蓮市", "1991-05-06")])  # fmt: skip
    assert import_file(engine, workspace_slug=ws.slug, kind="customers", path=customers).rejected == 0
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, ws.slug)
        loyalty.set_program(session, workspace=workspace, data=ProgramUpdate(name="茶友會"))
        rule = {"effective_from": "2025-01-01T00:00:00+08:00", "currency": "TWD", "points_per_unit": 1,
                "per_amount": "100"}  # fmt: skip
        loyalty.add_rule(
            session, workspace=workspace, data=EarnRuleCreate.model_validate(rule), actor="tests"
        )
    orders = write_csv(folder / "eo.csv", ORDER_HEADER, [
        ("EO1", 1, "E1", "2025-05-01T10:00:00+08:00", "completed", "web", "P1", 2, "680", ""),
        ("EO2", 1, "E1", "2025-05-09T10:00:00+08:00", "completed", "store", "P2", 1, "250.50", ""),
    ])  # fmt: skip
    assert import_file(engine, workspace_slug=ws.slug, kind="orders", path=orders).rejected == 0
    with transaction(engine) as session:  # a receiver of response.completed: the payload holds the comment
        session.add(WebhookEndpoint(workspace_id=ws.id, url="https://hooks.example.com/patron", secret="s" * 32,
                                    events=["response.completed"]))  # fmt: skip
    webhooks._subscriptions.forget_all()
    document = templates()["relationship_nps"].model_dump(mode="json", exclude_none=True)
    client.post("/api/v1/surveys", headers=tenant.headers, json=document)
    answer = client.post(
        "/api/v1/responses",
        headers=tenant.headers,
        json={"survey": "relationship_nps", "customer_id": "E1", "answers": {"nps": 9, "reason": COMMENT}},
    )
    assert answer.status_code == 200, answer.text
    assert group_commit.settle()  # the comment's item is written after the group commit
    with transaction(engine) as session:
        customer = session.scalars(select(Customer).where(Customer.workspace_id == ws.id,
                                                          Customer.external_id == "E1")).one()  # fmt: skip
        survey_id = session.scalars(
            select(SurveyResponse.survey_id).where(SurveyResponse.workspace_id == ws.id)
        ).first()
        assert survey_id is not None
        now = datetime.now(UTC)
        session.add(SurveyInvitation(workspace_id=ws.id, survey_id=survey_id, customer_id=customer.id,
                                     subject="order:EO2", touchpoint="purchase", nonce="erasenonce0001",
                                     locale="zh-Hant", send_after=now, expires_at=now))  # fmt: skip
        conversation = Conversation(workspace_id=ws.id, customer_id=None, contact_name=NAME, contact_email=EMAIL,
                                    language="zh-Hant", channel="help", nonce="erase-nonce-conversation")  # fmt: skip
        session.add(conversation)
        session.flush()
        session.add(
            Message(workspace_id=ws.id, conversation_id=conversation.id, author="customer", body=HANDOVER)
        )
        item_id = session.scalars(select(FeedbackItem.id).where(FeedbackItem.workspace_id == ws.id)).one()
        term = SocialTerm(workspace_id=ws.id, term="茶", normalised="茶", channels=[], created_at=now)
        session.add(term)
        session.flush()
        session.add(
            SocialMention(
                workspace_id=ws.id, term_id=term.id, item_id=item_id, occurred_at=now, channel="survey"
            )
        )
        member_id = session.scalars(
            select(Member.id).where(Member.workspace_id == ws.id, Member.customer_id == customer.id)
        ).one()
        session.add(ReferralCode(workspace_id=ws.id, member_id=member_id, code="ERASE1", created_at=now))
        model = ClvModel(workspace_id=ws.id, purchase_model="bgnbd", observation_end=now.date(), params={},
                         log_likelihood=0.0, customers=4, repeat_buyers=1)  # fmt: skip
        session.add(model)
        session.flush()
        session.add(ClvScore(workspace_id=ws.id, customer_id=customer.id, model_id=model.id, computed_at=now,
                             frequency=1, recency_days=8, age_days=30, probability_alive=0.9, horizon_months=12,
                             expected_purchases=1.0, expected_spend_minor=100, clv_minor=100, currency="TWD"))  # fmt: skip


def _traces(engine: Engine, workspace_id: int) -> list[str]:
    """Every table.column of the workspace's rows (every row, in tables without a workspace) whose text holds
    the customer's name, e-mail, phone, comment or hand-over."""
    marks = (NAME, EMAIL, PHONE, COMMENT, HANDOVER, "雅婷抹除")
    found = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            query = select(table)
            if "workspace_id" in table.c:
                query = query.where(table.c.workspace_id == workspace_id)
            for row in connection.execute(query):
                for column, value in row._mapping.items():
                    if value is not None and any(mark in str(value) for mark in marks):
                        found.append(f"{table.name}.{column}")
    return found


def _finance(engine: Engine, workspace_id: int) -> tuple[Any, ...]:
    with engine.connect() as connection:
        return (
            connection.execute(select(func.count(), func.sum(Order.total_minor)).where(Order.workspace_id == workspace_id)).one(),
            connection.scalar(select(func.sum(OrderLine.amount_minor)).where(OrderLine.workspace_id == workspace_id)),
            connection.execute(select(func.count(), func.sum(Entry.points)).where(Entry.workspace_id == workspace_id)).one(),
            connection.scalar(select(func.sum(Lot.remaining)).where(Lot.workspace_id == workspace_id)),
        )  # fmt: skip


def test_erasing_leaves_no_trace_of_the_person_and_keeps_the_accounts(
    engine: Engine, client: TestClient, tenant: Tenant, tmp_path: Path
) -> None:
    _seed(engine, client, tenant, tmp_path)
    ws = tenant.workspace.id
    before = _finance(engine, ws)
    assert before[2][1] > 0, "the orders earned points"
    assert {"customers.name", "customers.email", "feedback_items.text", "survey_answers.text",
            "assistant_messages.body", "webhook_deliveries.payload"} <= set(_traces(engine, ws))  # fmt: skip
    with transaction(engine) as session:
        nps_before = session.scalar(select(func.count()).where(SurveyAnswer.workspace_id == ws,
                                                               SurveyAnswer.score.is_not(None)))  # fmt: skip

    answer = client.delete("/api/v1/customers/E1", headers=tenant.headers)

    assert answer.status_code == 200, answer.text
    counts = answer.json()["counts"]
    assert counts["feedback_items"] == 1 and counts["survey_comments"] == 1 and counts["clv_scores"] == 1
    assert counts["assistant_messages"] == 1 and counts["survey_invitations"] == 1
    assert (
        counts["webhook_deliveries"] == 1 and counts["social_mentions"] == 1 and counts["referral_codes"] == 1
    )
    assert _traces(engine, ws) == []
    assert _finance(engine, ws) == before
    with transaction(engine) as session:
        tomb = session.scalars(select(Customer).where(Customer.workspace_id == ws,
                                                      Customer.erased_at.is_not(None))).one()  # fmt: skip
        assert tomb.external_id.startswith("erased-") and tomb.birthday is None and tomb.city is None
        assert session.scalar(select(func.count()).where(Order.customer_id == tomb.id)) == 2
        # the NPS score stays, anonymous: the metrics keep it
        assert session.scalar(select(func.count()).where(SurveyAnswer.workspace_id == ws,
                                                         SurveyAnswer.score.is_not(None))) == nps_before  # fmt: skip
        assert session.scalar(select(func.count()).where(SurveyResponse.customer_id == tomb.id)) == 0
        assert session.scalar(select(func.count()).where(FeedbackItem.workspace_id == ws)) == 0
        assert session.scalar(select(func.count()).where(Conversation.workspace_id == ws)) == 0
        log = session.scalars(select(CustomerErasure).where(CustomerErasure.workspace_id == ws)).one()
        assert log.actor == "api key" and log.customer_id == tomb.id and log.counts == counts
        assert loyalty.check(session, workspace_id=ws).differences == []
        other = session.scalars(
            select(Customer).where(Customer.workspace_id == ws, Customer.external_id == "C001")
        ).one()
        assert other.name == "顧客1"
    result = runner.invoke(app, ["loyalty", "check", "--workspace", tenant.workspace.slug])
    assert result.exit_code == 0, result.output

    again = client.delete("/api/v1/customers/E1", headers={**tenant.headers, "Accept-Language": "zh-TW"})
    assert again.status_code == 404 and again.json()["error"]["code"] == "customer.not_found"
    assert "E1" in again.json()["error"]["message"] and "顧客" in again.json()["error"]["message"]
    assert client.delete(f"/api/v1/customers/{tomb.external_id}", headers=tenant.headers).status_code == 404
    assert client.delete("/api/v1/customers/C001").status_code == 401


def test_the_cli_asks_first_and_a_second_erase_finds_no_one(engine: Engine, tenant: Tenant) -> None:
    slug = tenant.workspace.slug
    declined = runner.invoke(app, ["customers", "erase", "C002", "--workspace", slug], input="n\n")
    assert declined.exit_code == 1 and "Erase customer C002" in declined.output
    with transaction(engine) as session:
        kept = session.scalars(select(Customer).where(Customer.workspace_id == tenant.workspace.id,
                                                      Customer.external_id == "C002")).one()  # fmt: skip
        assert kept.name == "顧客2"
    asked = runner.invoke(app, ["customers", "erase", "C002", "--workspace", slug], input="y\n")
    assert asked.exit_code == 0 and "Customer C002 erased" in asked.output, asked.output
    again = runner.invoke(
        app, ["customers", "erase", "C002", "--workspace", slug, "--yes", "--lang", "zh-Hant"]
    )
    assert again.exit_code == 2 and "此工作區沒有外部編號為 C002 的顧客" in again.output
    with transaction(engine) as session:
        log = session.scalars(
            select(CustomerErasure).where(CustomerErasure.workspace_id == tenant.workspace.id)
        ).one()
        assert log.actor == "cli"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ADMIN])
def test_only_an_admin_sees_the_button_and_can_erase(
    engine: Engine, client: TestClient, tenant: Tenant, role: Role
) -> None:
    email = f"{role.value}@{tenant.workspace.slug}.example.com"
    if role == Role.VIEWER:
        with transaction(engine) as session:
            core_service.create_user(session, workspace_id=tenant.workspace.id, email=email, password=PASSWORD,
                                     role=role.value)  # fmt: skip
    else:
        email = tenant.admin_email
    log_in(client, tenant.workspace.slug, email)
    page = client.get("/customers/C003")
    assert page.status_code == 200
    assert ("data-erase" in page.text) is (role == Role.ADMIN)
    csrf = csrf_of(page.text)
    unticked = client.post("/customers/C003/erase", data={"csrf": csrf}, follow_redirects=False)
    if role == Role.VIEWER:
        assert unticked.status_code == 403
        assert client.post("/customers/C003/erase", data={"csrf": csrf, "confirm": "yes"}).status_code == 403
        assert client.get("/customers/C003").status_code == 200
        return
    assert unticked.status_code == 303 and "unconfirmed" in unticked.headers["location"]
    assert client.post("/customers/C003/erase", data={"confirm": "yes"}).status_code == 400  # no CSRF token
    done = client.post("/customers/C003/erase", data={"csrf": csrf, "confirm": "yes"})
    assert done.status_code == 200 and "data-erased" in done.text
    assert client.get("/customers/C003").status_code == 404
    with transaction(engine) as session:
        tomb = session.scalars(select(Customer.external_id).where(Customer.workspace_id == tenant.workspace.id,
                                                                  Customer.erased_at.is_not(None))).one()  # fmt: skip
    tombstone = client.get(f"/customers/{tomb}")
    assert (
        tombstone.status_code == 200
        and "data-erased-at" in tombstone.text
        and "data-erase>" not in tombstone.text
    )
    with transaction(engine) as session:
        log = session.scalars(
            select(CustomerErasure).where(CustomerErasure.workspace_id == tenant.workspace.id)
        ).one()
        assert log.actor == tenant.admin_email


def test_originals_past_the_retention_keep_only_their_masked_copy(
    engine: Engine, client: TestClient, tenant: Tenant
) -> None:
    slug, ws = tenant.workspace.slug, tenant.workspace.id
    document = templates()["relationship_nps"].model_dump(mode="json", exclude_none=True)
    client.post("/api/v1/surveys", headers=tenant.headers, json=document)
    answered = client.post("/api/v1/responses", headers=tenant.headers,
                           json={"survey": "relationship_nps", "customer_id": "C001",
                                 "answers": {"nps": 3, "reason": f"送貨太慢，請打 {PHONE} 給我"}})  # fmt: skip
    assert answered.status_code == 200, answered.text
    item = {"channel": "email", "source": "inbox", "source_id": "m1", "occurred_at": "2026-11-20T10:00:00Z",
            "text": f"請回信到 {EMAIL}，包裝破損"}  # fmt: skip
    assert client.post("/api/v1/feedback/items", headers=tenant.headers, json=item).status_code == 200

    shown = runner.invoke(app, ["feedback", "retention", "--workspace", slug])
    assert shown.exit_code == 0 and "kept for good" in shown.output
    nothing = runner.invoke(app, ["feedback", "purge", "--workspace", slug])
    assert nothing.exit_code == 0 and "nothing to purge" in nothing.output
    refused = runner.invoke(
        app, ["feedback", "retention", "--days", "0", "--workspace", slug, "--lang", "zh-Hant"]
    )
    assert refused.exit_code == 2 and "原文保留天數須介於 1 到 3650 天" in refused.output
    set_ = runner.invoke(app, ["feedback", "retention", "--days", "30", "--workspace", slug])
    assert set_.exit_code == 0 and "kept 30 days" in set_.output
    young = runner.invoke(app, ["feedback", "purge", "--workspace", slug, "--json"])
    assert young.exit_code == 0 and '"items": 0' in young.output  # received today: kept
    assert {"feedback_items.text", "survey_answers.text"} <= set(_traces(engine, ws))

    later = utcnow() + timedelta(days=31)
    with transaction(engine) as session:
        report = retention.purge_originals(session, workspace_id=ws, now=later)
    assert (report.items, report.survey_comments) == (2, 1)
    assert _traces(engine, ws) == [], "no original left: only the masked copies"
    with transaction(engine) as session:
        texts = {
            row.text: row.masked_text
            for row in session.scalars(select(FeedbackItem).where(FeedbackItem.workspace_id == ws))
        }
        assert all(text == masked for text, masked in texts.items()) and any("[PHONE]" in t for t in texts)
        comment = session.scalar(
            select(SurveyAnswer.text).where(SurveyAnswer.workspace_id == ws, SurveyAnswer.text.is_not(None))
        )
        assert comment is not None and "[PHONE]" in comment and "送貨太慢" in comment
        again = retention.purge_originals(session, workspace_id=ws, now=later)
    assert (again.items, again.survey_comments) == (0, 0)
    log_in(client, slug, tenant.admin_email)
    page = client.get("/dashboard/settings")
    assert page.status_code == 200 and 'data-retention-days="30"' in page.text


def test_an_erasure_that_fails_half_way_leaves_everything_as_it_was(
    engine: Engine, client: TestClient, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(engine, client, tenant, tmp_path)
    ws = tenant.workspace.id
    before = sorted(_traces(engine, ws))

    def fail(**_: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(erasure, "CustomerErasure", fail)  # the last step: everything else was already done
    with pytest.raises(RuntimeError), transaction(engine) as session:
        erasure.erase_customer(session, workspace_id=ws, external_id="E1", actor="tests")
    assert sorted(_traces(engine, ws)) == before
    with transaction(engine) as session:
        assert erasure.find_living(session, workspace_id=ws, external_id="E1").name == NAME
