"""Editing the knowledge base from the dashboard, with history, and closing knowledge gaps in one step (TestClient,
both databases)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from tools import gap_words as gap_words_tool

from patron.assistant import editing, service
from patron.assistant.models import EntryChange, KnowledgeEntry, Question
from patron.cli import app
from patron.core import service as core_service
from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.models import Role
from patron.dashboard.assistant import gap_words, unanswered_texts
from tests.assistant.test_api_cli import runner
from tests.web.conftest import PASSWORD, Tenant, csrf_of, log_in

FORM = {"title": "運費怎麼計算？", "phrasings": "寄送要多少錢", "answer": "單筆訂單滿 1,000 元免運費，未滿收 80 元。",
        "category": "delivery", "language": "zh-Hant", "valid_from": "", "valid_until": "", "status": "published"}  # fmt: skip


def _ask(engine: Engine, workspace_id: int, question: str) -> tuple[bool, str | None, str | None]:
    with transaction(engine) as session:
        answer = service.ask(session, workspace_id, question)
    return answer.answered, answer.source.id if answer.source else None, answer.answer


def test_admins_edit_entries_with_history_and_the_index_follows_at_once(
    engine: Engine, shop: Tenant, client: TestClient
) -> None:
    ws = shop.workspace.id
    assert _ask(engine, ws, "運費怎麼計算？")[:2] == (True, "ship")  # the index is built (and cached) first
    log_in(client, shop.workspace.slug, shop.admin_email)
    base = "/dashboard/assistant/entries"
    listed = client.get(base, params={"lang": "en"})
    assert listed.status_code == 200 and 'data-total="6"' in listed.text
    zh = client.get(base, params={"lang": "zh-Hant"}).text
    assert (
        '<td data-category="delivery">配送</td>' in zh and '<option value="delivery">配送</option>' in zh
    ), "categories by name in the page's language, not their codes"
    for params, ids in (({"language": "en"}, ["en-return"]), ({"category": "delivery"}, ["ship"]),
                        ({"status": "draft"}, ["draft"]), ({"q": "寄送"}, ["ship"]),  # a phrasing only
                        ({"q": "RETURN"}, ["en-return", "return"]), ({"q": "100%_"}, [])):  # fmt: skip
        page = client.get(base, params=params)
        assert [i for i in ("draft", "en-return", "old", "points", "return", "ship")
                if f'data-entry="{i}"' in page.text] == ids, params  # fmt: skip
    assert client.get(base, params={"page": "0"}).status_code == 422

    shown = client.get(f"{base}/ship", params={"lang": "zh-Hant"})
    assert shown.status_code == 200 and "data-entry-form" in shown.text and "尚無手動修改" in shown.text
    csrf = csrf_of(shown.text)
    refusals = [
        ({"title": " "}, "zh-Hant", "問題（標題）：此欄位必填。"),
        ({"title": " "}, "en", "Question (title): this field is required."),
        ({"answer": "a\x00b"}, "zh-Hans", "回答：含有控制字符，请删除。"),
        ({"valid_from": "tomorrow"}, "en", "Valid from: “tomorrow” is not a date and time"),
        ({"valid_from": "2026-12-10T00:00", "valid_until": "2026-12-01T00:00"}, "zh-Hant", "失效時間：必須晚於「生效時間」。"),
        ({"language": "ko"}, "en", "Language: “ko” is not one of zh-Hant, zh-Hans, en."),
        ({"phrasings": "x" * 501}, "en", "Other phrasings: at most 500 characters."),
    ]  # fmt: skip
    for change, lang, message in refusals:
        refused = client.post(f"{base}/ship", params={"lang": lang}, data={**FORM, **change, "csrf": csrf})
        assert refused.status_code == 422 and message in refused.text, (change, refused.text[-500:])
    assert client.post(f"{base}/ship", data={**FORM, "csrf": "forged"}).status_code == 400
    assert client.post(f"{base}/nope", data={**FORM, "csrf": csrf}).status_code == 404

    same = client.post(f"{base}/ship", data={**FORM, "csrf": csrf}, follow_redirects=False)
    assert same.headers["location"].endswith("?saved=unchanged")
    edited = {**FORM, "answer": "單筆訂單滿 800 元免運費。", "phrasings": "寄送要多少錢\n運費多少<script>",
              "valid_from": "2026-11-01T09:00"}  # fmt: skip
    saved = client.post(f"{base}/ship", data={**edited, "csrf": csrf}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"{base}/ship?saved=saved"
    assert _ask(engine, ws, "運費怎麼計算？") == (True, "ship", "單筆訂單滿 800 元免運費。")  # served at once
    page = client.get(saved.headers["location"] + "&lang=en")
    assert "Saved; the assistant answers with the change at once." in page.text
    assert "<script>" not in page.text and "運費多少&lt;script&gt;" in page.text
    assert 'data-field="answer"' in page.text and shop.admin_email in page.text
    with transaction(engine) as session:
        entry = session.scalars(select(KnowledgeEntry).where(KnowledgeEntry.workspace_id == ws,
                                                             KnowledgeEntry.external_id == "ship")).one()  # fmt: skip
        change = session.scalars(select(EntryChange).where(EntryChange.entry_id == entry.id)).one()
        assert change.action == "update" and change.actor == shop.admin_email
        assert change.changes == {
            "phrasings": [["寄送要多少錢"], ["寄送要多少錢", "運費多少<script>"]],
            "answer": ["單筆訂單滿 1,000 元免運費，未滿收 80 元。", "單筆訂單滿 800 元免運費。"],
            "valid_from": [None, "2026-11-01T01:00:00+00:00"],  # 09:00 in Taipei
        }

    retired = client.post(f"{base}/ship/retire", data={"csrf": csrf}, follow_redirects=False)
    assert retired.status_code == 303
    assert _ask(engine, ws, "運費怎麼計算？")[1] != "ship"  # retired: no longer answered
    assert 'data-status="archived"' in client.get(f"{base}/ship").text

    taken = client.post(f"{base}/new", params={"lang": "zh-Hant"},
                        data={**FORM, "id": "return", "title": "發票怎麼開？", "answer": "結帳時填寫統編。", "csrf": csrf})  # fmt: skip
    assert taken.status_code == 409 and "已有條目「return」" in taken.text and "發票怎麼開？" in taken.text
    made = client.post(f"{base}/new", data={**FORM, "title": "發票怎麼開？", "phrasings": "", "answer": "結帳時填寫統編。",
                                            "category": "payments", "csrf": csrf}, follow_redirects=False)  # fmt: skip
    assert made.headers["location"] == f"{base}/kb-7?saved=created"
    assert _ask(engine, ws, "發票怎麼開？")[:2] == (True, "kb-7")

    with transaction(engine) as session:
        core_service.create_user(session, workspace_id=ws, email="viewer@example.com", password=PASSWORD,
                                 role=Role.VIEWER.value)  # fmt: skip
    client.cookies.clear()
    log_in(client, shop.workspace.slug, "viewer@example.com")
    read = client.get(f"{base}/kb-7")
    assert read.status_code == 200 and "data-entry-form" not in read.text and "結帳時填寫統編。" in read.text
    assert 'data-field="title"' in read.text  # the history is there to read
    viewer_csrf = csrf_of(client.get("/dashboard/assistant").text)
    assert client.post(f"{base}/kb-7", data={**FORM, "csrf": viewer_csrf}).status_code == 403
    assert client.post(f"{base}/kb-7/retire", data={"csrf": viewer_csrf}).status_code == 403
    assert client.get(f"{base}/new").status_code == 403


def test_a_gap_is_closed_by_a_phrasing_or_a_new_entry_and_its_questions_count_as_covered(
    engine: Engine, shop: Tenant, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = shop.workspace.id
    help_page = f"/help/{shop.workspace.slug}"
    for question in ("退件的郵資誰付", "退件的郵資誰付", "可以開公司發票嗎"):
        assert 'data-answered="no"' in client.get(help_page, params={"q": question, "lang": "zh-Hant"}).text
    with transaction(engine) as session:  # yesterday: inside the tab's window of complete days
        session.execute(update(Question).where(Question.workspace_id == ws)
                        .values(asked_at=utcnow() - timedelta(days=1)))  # fmt: skip
        ids = {text: qid for qid, text in session.execute(select(Question.id, Question.text)
                                                          .where(Question.workspace_id == ws).order_by(Question.id))}  # fmt: skip
    assert gap_words_tool.main(["-w", shop.workspace.slug, "--json", "--traditional"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        report["questions"] == 3
        and {"word": "郵資", "questions": 2, "examples": ["退件的郵資誰付"]} in report["words"]
    )
    log_in(client, shop.workspace.slug, shop.admin_email)
    tab = client.get("/dashboard/assistant", params={"lang": "zh-Hant"})
    first, second = ids["退件的郵資誰付"], ids["可以開公司發票嗎"]
    assert f'data-question="{first}"' in tab.text and f'data-question="{second}"' in tab.text
    assert f"/dashboard/assistant/entries/new?question={second}" in tab.text
    csrf = csrf_of(tab.text)

    added = client.post("/dashboard/assistant/gaps/phrasing", params={"lang": "zh-Hant"},
                        data={"question": str(first), "entry": "return", "csrf": csrf}, follow_redirects=False)  # fmt: skip
    assert added.status_code == 303
    tab = client.get("/dashboard/assistant", params={"lang": "zh-Hant"})
    assert (
        "「退件的郵資誰付」已加為 return 的問法，2 筆提問紀錄已補上。現在再問一次，由 return 回答" in tab.text
    )
    assert f'data-question="{first}"' not in tab.text  # covered: no longer a gap
    assert "data-gap-notice" not in client.get("/dashboard/assistant").text  # said once

    form = client.get("/dashboard/assistant/entries/new", params={"question": second, "lang": "en"})
    assert 'value="可以開公司發票嗎"' in form.text and f'name="question" value="{second}"' in form.text
    blank = client.post("/dashboard/assistant/entries/new", params={"lang": "en"},
                        data={**FORM, "title": "可以開公司發票嗎", "answer": "", "question": str(second), "csrf": csrf})  # fmt: skip
    assert blank.status_code == 422 and "Answer: this field is required." in blank.text
    made = client.post("/dashboard/assistant/entries/new", params={"lang": "en"}, follow_redirects=False,
                       data={**FORM, "id": "invoice", "title": "可以開公司發票嗎", "phrasings": "", "category": "payments",
                             "answer": "可以，結帳時填寫統一編號。", "question": str(second), "csrf": csrf})  # fmt: skip
    assert made.status_code == 303
    tab = client.get("/dashboard/assistant", params={"lang": "en"})
    assert "New entry invoice made from “可以開公司發票嗎”; recorded questions covered: 1." in tab.text
    assert "data-question=" not in tab.text
    assert _ask(engine, ws, "可以開公司發票嗎")[:2] == (True, "invoice")
    assert _ask(engine, ws, "退件的郵資誰付")[:2] == (True, "return")
    with transaction(engine) as session:
        rows = session.execute(
            select(Question.text, Question.covered_by).where(Question.workspace_id == ws)
        ).all()
        covered = {row.text: row.covered_by for row in rows}
        assert covered == {"退件的郵資誰付": "return", "可以開公司發票嗎": "invoice"}
        assert unanswered_texts(session, ws) == []  # every gap covered
        entry = editing.get_entry(session, ws, "return")
        assert [(c.action, c.changes) for c in editing.history(session, entry)] == [
            ("phrasing", {"phrasings": [[], ["退件的郵資誰付"]]})
        ]
        with pytest.raises(PatronError) as missing:
            editing.phrasing_from_gap(
                session, ws, question_id=second, entry_id="nope", actor=editing.Actor("x")
            )
        assert missing.value.code == "assistant.entry_not_found"


def test_entries_through_the_api_and_the_cli(engine: Engine, shop: Tenant, client: TestClient) -> None:
    api, headers, slug = "/api/v1/assistant/entries", shop.headers, shop.workspace.slug
    listed = client.get(api, headers=headers, params={"language": "zh-Hant", "status": "published"}).json()
    assert listed["total"] == 4 and [e["id"] for e in listed["entries"]] == [
        "old",
        "points",
        "return",
        "ship",
    ]
    assert client.get(api).status_code == 401
    made = client.post(api, headers=headers, json={"id": "gift", "title": "可以包裝成禮物嗎？", "answer": "結帳時勾選禮盒。",
                                                   "valid_from": "2026-11-01T00:00:00+08:00"})  # fmt: skip
    assert made.status_code == 201 and made.json()["valid_from"].startswith("2026-10-31T16:00:00")
    assert (
        client.post(api, headers=headers, json={"id": "gift", "title": "x", "answer": "y"}).status_code == 409
    )
    refused = client.post(api, headers={**headers, "Accept-Language": "zh-Hant"},
                          json={"title": "x", "answer": "y", "status": "live"})  # fmt: skip
    assert (
        refused.status_code == 422 and "狀態：「live」不是 published, draft, archived 之一。" in refused.text
    )
    naive = client.post(
        api, headers=headers, json={"title": "x", "answer": "y", "valid_from": "2026-11-01T00:00"}
    )
    assert naive.status_code == 422  # a date needs its time zone
    changed = client.patch(
        f"{api}/gift", headers=headers, json={"phrasings": ["能送禮嗎"], "category": "orders"}
    )
    assert changed.status_code == 200 and changed.json()["phrasings"] == ["能送禮嗎"]
    assert client.patch(f"{api}/gift", headers=headers, json={"title": None}).status_code == 422
    assert client.patch(f"{api}/nope", headers=headers, json={"category": "x"}).status_code == 404
    assert client.post(f"{api}/gift/retire", headers=headers).json()["status"] == "archived"
    history = client.get(f"{api}/gift/history", headers=headers).json()
    assert [(h["action"], h["actor"], sorted(h["changes"])) for h in history] == [
        ("retire", "api", ["status"]),
        ("update", "api", ["category", "phrasings"]),
        ("create", "api", ["answer", "language", "status", "title", "valid_from"]),
    ]
    assert history[1]["changes"]["phrasings"] == [[], ["能送禮嗎"]]

    shown = runner.invoke(app, ["assistant", "entries", "list", "-w", slug, "-q", "退貨", "--lang", "en"])
    assert shown.exit_code == 0 and "return" in shown.output and "1 of 1 entries." in shown.output
    edit = runner.invoke(app, ["assistant", "entries", "edit", "return", "-w", slug, "--add-phrasing", "退件怎麼辦",
                               "--answer", "七天內申請。", "--lang", "zh-Hant"])  # fmt: skip
    assert edit.exit_code == 0 and edit.output.strip() == "條目 return 已儲存：其他問法, 回答。"
    again = runner.invoke(
        app, ["assistant", "entries", "edit", "return", "-w", slug, "--answer", "七天內申請。"]
    )
    assert again.exit_code == 0 and "nothing changed" in again.output
    bad = runner.invoke(app, ["assistant", "entries", "edit", "return", "-w", slug, "--valid-until", "soon",
                              "--lang", "zh-Hans"])  # fmt: skip
    assert (
        bad.exit_code == 2
        and bad.output.strip() == "失效时间：「soon」不是日期时间（例如 2026-12-01T00:00）。"
    )
    missing = runner.invoke(app, ["assistant", "entries", "show", "nope", "-w", slug])
    assert missing.exit_code == 2 and "nope" in missing.output and "Traceback" not in missing.output
    show = runner.invoke(app, ["assistant", "entries", "show", "return", "-w", slug, "--json"])
    document = json.loads(show.output)
    assert document["phrasings"] == ["退件怎麼辦"] and document["history"][0]["actor"] == "cli"
    assert runner.invoke(app, ["assistant", "entries", "retire", "return", "-w", slug]).exit_code == 0
    assert _ask(engine, shop.workspace.id, "如何申請退貨？")[1] != "return"


def test_gap_words_count_each_question_once() -> None:
    texts = ["Do you ship to Japan?", "Can you ship gift boxes abroad?", "Shipping to Japan costs?",
             "可以寄到國外嗎", "國外運費多少", "寄到金門要幾天"]  # fmt: skip
    # japan: questions 1 and 3; ship: 1 and 2 ("shipping" is another word); 国外: 4 and 5; 寄到: 4 and 6.
    assert [(w.word, w.questions, w.examples) for w in gap_words(texts)] == [
        ("japan", 2, ["Do you ship to Japan?", "Shipping to Japan costs?"]),
        ("ship", 2, ["Do you ship to Japan?", "Can you ship gift boxes abroad?"]),
        ("国外", 2, ["可以寄到國外嗎", "國外運費多少"]),
        ("寄到", 2, ["可以寄到國外嗎", "寄到金門要幾天"]),
    ]
    assert [w.word for w in gap_words(texts, minimum=3)] == []
