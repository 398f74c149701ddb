"""The whole loop through a real SMTP server on loopback: invitation sent, link followed, answered, stored."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.mail import MailError, SmtpMailer
from patron.core.models import Workspace
from patron.core.settings import get_settings
from patron.surveys import distribution
from patron.surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse
from patron.surveys.service import definition_of, get_survey, set_status
from patron.webhooks import service as webhooks
from tests.mailbox import Inbox, serving_inbox
from tests.surveys.helpers import NOW, SurveyWorld, survey_world


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    yield from serving_inbox(monkeypatch)


def _dispatch(engine: Engine, world: SurveyWorld, key: str, now: Any = NOW) -> distribution.SendReport:
    with transaction(engine) as session:
        ws = session.get_one(Workspace, world.workspace.id)
        survey = get_survey(session, workspace_id=ws.id, key=key)
        distribution.run_trigger(
            session, workspace=ws, survey=survey, definition=definition_of(survey), now=now
        )
        with SmtpMailer() as mailer:
            return distribution.send_due(session, workspace=ws, mailer=mailer, now=now)


def _body(message: EmailMessage, subtype: str) -> str:
    for part in message.walk():
        if part.get_content_type() == f"text/{subtype}":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no text/{subtype} part")


def _link(message: EmailMessage) -> str:
    found = re.search(r"http://testserver(/s/[\w.-]+)", _body(message, "plain"))
    assert found, "no survey link in the email"
    return found.group(1)


def _responses(engine: Engine, world: SurveyWorld) -> list[SurveyResponse]:
    with transaction(engine) as session:
        rows = list(
            session.scalars(select(SurveyResponse).where(SurveyResponse.workspace_id == world.workspace.id))
        )
        session.expunge_all()
        return rows


def test_invitation_link_answer_stored(
    engine: Engine, tmp_path: Path, inbox: Inbox, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "outbound_allow", "127.0.0.1")  # the webhook below is on loopback
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    report = _dispatch(engine, world, "post_purchase_csat")
    assert (report.sent, report.failed) == (3, 0)
    [message] = inbox.to("s1@example.com")
    assert message["Subject"] == f"{world.workspace.name}想聽聽您的意見：購物滿意度調查"
    assert "王小明 您好：" in _body(message, "plain")
    assert message["List-Unsubscribe"].startswith("<http://testserver/unsubscribe/")
    assert inbox.to("s2@example.com")[0]["Subject"].endswith("购物满意度调查"), (
        "zh-Hans customers get Simplified"
    )
    assert inbox.to("s3@example.com")[0]["Subject"].endswith("How was your purchase?")

    with transaction(engine) as session:
        webhooks.create_endpoint(
            session,
            workspace_id=world.workspace.id,
            url="http://127.0.0.1:9/h",
            events=["response.completed"],
        )
    link = _link(message)
    page = client.get(link)
    assert page.status_code == 200 and "整體而言，您對這次購物的滿意程度如何？" in page.text
    missing = client.post(link, data={"_shown": "csat,what_to_fix,comment"})
    assert missing.status_code == 200 and 'role="alert">請回答這個問題。' in missing.text
    kept = client.post(link, data={"_shown": "csat,comment", "comment": "茶葉很香，但忘了評分"})
    assert "請回答這個問題。" in kept.text and ">茶葉很香，但忘了評分</textarea>" in kept.text, (
        "what was typed is shown again"
    )
    assert _responses(engine, world) == [], "a refused page stores nothing"
    first = client.post(
        link, data={"_shown": "csat,comment", "csat": "2", "comment": "茶葉很香"}, follow_redirects=False
    )
    assert first.status_code == 303
    follow_up = client.get(link)
    assert "哪些地方讓您不滿意？" in follow_up.text, "a low score brings the follow-up question"
    done = client.post(link, data={"_shown": "what_to_fix", "what_to_fix": "包裝破損，紙盒壓壞了"})
    assert done.status_code == 200 and "感謝您的回饋！" in done.text
    again = client.post(link, data={"_shown": "what_to_fix", "what_to_fix": "double tap"})
    assert "感謝您的回饋！" in again.text
    [response] = _responses(engine, world)
    assert (response.status, response.locale, response.touchpoint, response.order_external_id) == (
        "completed",
        "zh-Hant",
        "post_purchase",
        "O-DS1",
    )
    with transaction(engine) as session:
        answers = {
            a.question_key: (a.score, a.text)
            for a in session.scalars(select(SurveyAnswer).where(SurveyAnswer.response_id == response.id))
        }
        invitation = session.scalars(
            select(SurveyInvitation).where(SurveyInvitation.id == response.invitation_id)
        ).one()
        assert invitation.status == "answered" and invitation.opened_at is not None
    assert answers == {
        "csat": (2, None),
        "comment": (None, "茶葉很香"),
        "what_to_fix": (None, "包裝破損，紙盒壓壞了"),
    }


def test_one_reminder_only_and_never_after_an_answer(
    engine: Engine, tmp_path: Path, inbox: Inbox, client: TestClient
) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    _dispatch(engine, world, "post_purchase_csat")
    client.post(_link(inbox.to("s3@example.com")[0]), data={"_shown": "csat,comment", "csat": "5"})
    reminded = _dispatch(engine, world, "post_purchase_csat", NOW + timedelta(days=3))
    assert (reminded.sent, reminded.reminded) == (0, 2), "S3 answered; S1 and S2 are reminded"
    assert inbox.to("s1@example.com")[1]["Subject"].startswith("提醒您：")
    assert _dispatch(engine, world, "post_purchase_csat", NOW + timedelta(days=5)).reminded == 0


def test_links_that_cannot_be_answered_get_a_friendly_page(
    engine: Engine, tmp_path: Path, inbox: Inbox, client: TestClient
) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    _dispatch(engine, world, "post_purchase_csat")
    link = _link(inbox.to("s1@example.com")[0])
    tampered = client.get(link[:-3] + "abc", headers={"accept": "text/html"})
    assert (
        tampered.status_code == 404 and "此問卷連結無效" in tampered.text and "Traceback" not in tampered.text
    )
    with transaction(engine) as session:
        set_status(session, workspace_id=world.workspace.id, key="post_purchase_csat", status="closed")
    closed = client.get(link, headers={"accept": "text/html"})
    assert closed.status_code == 410 and "已結束" in closed.text
    with transaction(engine) as session:
        set_status(session, workspace_id=world.workspace.id, key="post_purchase_csat", status="active")
        for invitation in session.scalars(
            select(SurveyInvitation).where(SurveyInvitation.workspace_id == world.workspace.id)
        ):
            invitation.expires_at = NOW
    expired = client.get(link, headers={"accept": "text/html"})
    assert expired.status_code == 410 and "已過期" in expired.text


def test_unsubscribe_link_stops_every_survey(
    engine: Engine, tmp_path: Path, inbox: Inbox, client: TestClient
) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    _dispatch(engine, world, "post_purchase_csat")
    leave = (
        str(inbox.to("s1@example.com")[0]["List-Unsubscribe"]).strip("<>").removeprefix("http://testserver")
    )
    assert "不再收到我們的問卷邀請" in client.get(leave).text
    assert "您將不會再收到" in client.post(leave).text
    reminded = _dispatch(engine, world, "post_purchase_csat", NOW + timedelta(days=3))
    assert (reminded.reminded, reminded.skipped) == (2, 1), (
        "S2 and S3 are reminded; S1 unsubscribed and is not"
    )


def test_an_unreachable_mail_server_is_reported_and_nothing_is_lost(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    monkeypatch.setattr(get_settings(), "smtp_host", "127.0.0.1")
    monkeypatch.setattr(get_settings(), "smtp_port", 9)  # discard port: nothing listens
    with pytest.raises(MailError, match="cannot reach the mail server"):
        _dispatch(engine, world, "post_purchase_csat")
    with transaction(engine) as session:
        count = session.scalar(
            select(func.count()).where(SurveyInvitation.workspace_id == world.workspace.id)
        )
    assert count == 0, "the transaction that planned them rolled back; the next run plans them again"
