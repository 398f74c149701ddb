"""Questions recorded, ratings and hand-overs (API, real SMTP), and the Assistant tab's numbers, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.assistant import editing, records, service
from patron.assistant.models import Conversation, KnowledgeEntry, Question
from patron.assistant.schemas import AskAnswer, EntryRef
from patron.core.db import transaction
from patron.core.errors import Conflict, PatronError
from patron.core.mail import SmtpMailer
from patron.core.models import Workspace
from patron.dashboard.assistant import assistant
from patron.dashboard.filters import parse_filters
from tests.mailbox import Inbox
from tests.web.conftest import Tenant, make_tenant


def test_each_question_is_recorded_masked_and_rated(
    engine: Engine, shop: Tenant, client: TestClient, tmp_path: Path
) -> None:
    asked = client.post("/api/v1/assistant/ask", headers=shop.headers,
                        json={"question": "如何申請退貨？我的電話 0912-345-678"})  # fmt: skip
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["answered"] is True and body["source"]["id"] == "return"
    with transaction(engine) as session:
        row = session.get_one(Question, body["question_id"])
        assert (row.workspace_id, row.text, row.language, row.channel, row.entry_id, row.answered, row.rating) == (
            shop.workspace.id, "如何申請退貨？我的電話 [PHONE]", "zh-Hant", "api", "return", True, None)  # fmt: skip
        assert row.confidence == pytest.approx(body["confidence"])
    not_sure = client.post("/api/v1/assistant/ask", headers=shop.headers, json={"question": "😀🙏"}).json()
    with transaction(engine) as session:
        row = session.get_one(Question, not_sure["question_id"])
        assert (row.language, row.entry_id, row.answered) == ("other", None, False)

    rate = f"/api/v1/assistant/questions/{body['question_id']}/rating"
    first = client.post(rate, headers=shop.headers, json={"rating": "helpful"})
    assert first.status_code == 200 and first.json()["rating"] == "helpful"
    again = client.post(rate, headers=shop.headers, json={"rating": "unhelpful"})
    assert again.json()["rating"] == "unhelpful"  # a second rating replaces the first
    assert client.post(rate, headers=shop.headers, json={"rating": "meh"}).status_code == 422
    missing = client.post("/api/v1/assistant/questions/999999999/rating", headers=shop.headers,
                          json={"rating": "helpful"})  # fmt: skip
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "assistant.question_not_found"
    other = make_tenant(engine, tmp_path / "other")
    assert client.post(rate, headers=other.headers, json={"rating": "helpful"}).status_code == 404


def test_a_hand_over_is_answered_by_email_and_closed(
    engine: Engine, shop: Tenant, client: TestClient, inbox: Inbox
) -> None:
    refused = client.post("/api/v1/assistant/handovers", headers={**shop.headers, "Accept-Language": "zh-TW"},
                          json={"question": "可以寄到金門嗎？", "email": "not-an-address"})  # fmt: skip
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "assistant.bad_email"
    assert "電子郵件" in refused.json()["error"]["message"]
    made = client.post("/api/v1/assistant/handovers", headers={**shop.headers, "Accept-Language": "zh-TW"},
                       json={"question": "可以寄到金門嗎？<b>急</b>", "email": "amy@example.com", "name": "Amy"})  # fmt: skip
    assert made.status_code == 201, made.text
    conversation = made.json()
    assert (conversation["status"], conversation["contact_email"], conversation["language"]) == (
        "open", "amy@example.com", "zh-Hant")  # fmt: skip
    assert [(m["author"], m["body"]) for m in conversation["messages"]] == [
        ("customer", "可以寄到金門嗎？<b>急</b>")
    ]
    known = client.post("/api/v1/assistant/handovers", headers=shop.headers,
                        json={"question": "點數何時到期？", "customer_id": "C002"})  # fmt: skip
    assert known.status_code == 201 and known.json()["contact_email"] == "c2@example.com"
    assert client.post("/api/v1/assistant/handovers", headers=shop.headers,
                       json={"question": "x", "customer_id": "C999"}).status_code == 404  # fmt: skip

    with transaction(engine) as session:
        workspace = session.get_one(Workspace, shop.workspace.id)
        with SmtpMailer() as mailer:
            sent = records.reply(session, workspace, conversation["id"], body="可以，金門運費 150 元。",
                                 user_id=None, mailer=mailer)  # fmt: skip
        assert sent.error == "" and sent.message.sent_at is not None
        row = session.get_one(Conversation, conversation["id"])
        assert row.status == "answered"
        link = records.conversation_link(workspace, row)
    [mail] = inbox.messages
    assert mail["To"] == "Amy <amy@example.com>" and workspace.name in str(mail["Subject"])
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "可以，金門運費 150 元。" in text and link in text and "可以寄到金門嗎？<b>急</b>" in text
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;b&gt;急&lt;/b&gt;" in html and "<b>急" not in html

    page = client.get(link.removeprefix("http://testserver"))
    assert page.status_code == 200 and "可以，金門運費 150 元。" in page.text
    assert "&lt;b&gt;急&lt;/b&gt;" in page.text and "<b>急" not in page.text
    assert "set-cookie" not in page.headers
    assert client.get(f"/help/{shop.workspace.slug}/c/forged").status_code == 404

    with transaction(engine) as session:
        assert records.close(session, shop.workspace.id, conversation["id"]).status == "closed"
        workspace = session.get_one(Workspace, shop.workspace.id)
        with pytest.raises(Conflict), SmtpMailer() as mailer:
            records.reply(session, workspace, conversation["id"], body="again", user_id=None, mailer=mailer)
        with pytest.raises(PatronError) as empty:
            records.reply(session, workspace, known.json()["id"], body="  ", user_id=None, mailer=mailer)
        assert empty.value.code == "assistant.reply_empty"


ADMIN = editing.Actor("admin@example.com")


def _answer(entry: str | None, confidence: float, answered: bool) -> AskAnswer:
    ref = EntryRef(id=entry, title=entry, category="", language="zh-Hant", score=1.0) if entry else None
    return AskAnswer(answered=answered, message="", answer="a" if answered else None, source=ref if answered else None,
                     confidence=confidence, related=[], closest=[] if answered or ref is None else [ref],
                     handover=not answered)  # fmt: skip


def test_the_assistant_tab_counts_what_was_asked(engine: Engine, shop: Tenant) -> None:
    """Taipei (UTC+8). Window 2026-11-20…2026-11-22 (local days). Questions (local time):
    11-20 09:00 return, answered, rated helpful
    11-20 23:30 ship, answered, rated unhelpful                      (15:30Z: still the 20th locally)
    11-21 00:30 "金門可以寄嗎" not sure (closest ship at 0.6 × the threshold), handed over  (the 21st locally)
    11-21 10:00 "金門運費多少" not sure (closest ship at 0.05, under half the threshold: no topic) → 金門, as next
    11-22 11:00 "金門離島配送" not sure, no entry
    11-22 12:00 points, answered, handed over anyway, rated helpful
    11-23 08:00 return, answered                                      (outside the window)
    Questions 6; answered 3 (the 20th ×2, the 22nd ×1); handed over 2; self-served = answered and not handed over
    = 2 → 2/6 = 33.3 %; rated 3, helpful 2 → 66.7 %. Gaps: not answered or unhelpful = ship (unhelpful + not sure:
    2), word 金門 (2); the open hand-overs are waiting (plus the one without a question)."""
    times = ["2026-11-20T01:00Z", "2026-11-20T15:30Z", "2026-11-20T16:30Z", "2026-11-21T02:00Z",
             "2026-11-22T03:00Z", "2026-11-22T04:00Z", "2026-11-23T00:00Z"]  # fmt: skip
    cases = [("如何申請退貨", "return", True, "helpful", False), ("運費", "ship", True, "unhelpful", False),
             ("金門可以寄嗎", "ship", False, None, True), ("金門運費多少", "ship", False, None, False),
             ("金門離島配送", None, False, None, False), ("點數", "points", True, "helpful", True),
             ("退貨", "return", True, None, False)]  # fmt: skip
    ws = shop.workspace.id
    with transaction(engine) as session:
        for when, (text, entry, answered, rating, handed) in zip(times, cases, strict=True):
            moment = datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(UTC)
            confidence = (
                min(1.0, service.THRESHOLD + 0.1) if answered
                else 0.05 if text == "金門運費多少" else round(0.6 * service.THRESHOLD, 4)
            )  # fmt: skip
            row = records.record(session, ws, text, _answer(entry, confidence, answered), "help", now=moment)
            if rating:
                records.rate(session, ws, row.id, rating, now=moment)
            if handed:
                records.hand_over(
                    session, ws, question=text, email="a@example.com", question_id=row.id, now=moment
                )
        records.hand_over(session, ws, question="沒有紀錄的問題", email="b@example.com")
        workspace = session.get_one(Workspace, ws)
        filters = parse_filters({"period": "custom", "since": "2026-11-20", "until": "2026-11-22"},
                                today=datetime(2026, 11, 24).date())  # fmt: skip
        view = assistant(session, workspace, filters, "en")
    assert (view.questions, view.answered, view.handed_over, view.self_served, view.rated, view.helpful) == (
        6, 3, 2, 2, 3, 2)  # fmt: skip
    assert view.self_service_rate == pytest.approx(100 * 2 / 6)
    assert view.helpfulness == pytest.approx(100 * 2 / 3)
    assert [row[1:] for row in view.per_day.rows] == [[2, 2, 0, 1, 1], [2, 0, 1, 0, 0], [2, 1, 1, 1, 0]]
    assert [str(row[0]) for row in view.per_day.rows] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert len(view.waiting) == 3 and [w.question for w in view.waiting][-1] == "沒有紀錄的問題"
    summary = [(g.kind, g.key, g.count, g.not_answered, g.unhelpful) for g in view.gaps]
    assert summary == [("entry", "ship", 2, 1, 1), ("word", "金门", 2, 2, 0)]
    assert [(text, n) for _, text, n in view.gaps[1].examples] == [
        ("金門離島配送", 1),
        ("金門運費多少", 1),
    ]  # newest first


def test_a_gap_becomes_a_phrasing_in_one_step(engine: Engine, shop: Tenant) -> None:
    ws = shop.workspace.id
    with transaction(engine) as session:
        row = records.record(
            session, ws, "退件的郵資誰付 0912-345-678", _answer("return", 0.1, False), "widget"
        )
        done = editing.phrasing_from_gap(session, ws, question_id=row.id, entry_id="return", actor=ADMIN)
        assert done.covered == 1 and done.entry.phrasings == ["退件的郵資誰付 [PHONE]"]
        editing.phrasing_from_gap(
            session, ws, question_id=row.id, entry_id="return", actor=ADMIN
        )  # twice changes nothing
        assert session.scalars(select(KnowledgeEntry.phrasings).where(
            KnowledgeEntry.workspace_id == ws, KnowledgeEntry.external_id == "return")).one() == ["退件的郵資誰付 [PHONE]"]  # fmt: skip
        with pytest.raises(PatronError) as missing:
            editing.phrasing_from_gap(session, ws, question_id=row.id, entry_id="nope", actor=ADMIN)
        assert missing.value.code == "assistant.entry_not_found"
    with transaction(engine) as session:
        answer = service.ask(session, ws, "退件的郵資誰付", "en")
        assert answer.answered and answer.source is not None and answer.source.id == "return"
