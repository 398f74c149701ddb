"""The public help centre and widget, and the staff pages behind the Assistant tab (TestClient, both databases)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.assistant import records
from patron.assistant.models import Conversation, KnowledgeEntry, Question
from patron.core.db import transaction
from patron.customers.models import Customer
from tests.mailbox import Inbox
from tests.web.conftest import Tenant, csrf_of, log_in

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>如何申請退貨"


def _token(html: str) -> str:
    found = re.search(r'name="token" value="([^"]*)"', html)
    assert found
    return found.group(1)


def test_help_centre_answers_rates_and_hands_over_without_cookies(
    engine: Engine, shop: Tenant, client: TestClient
) -> None:
    base = f"/help/{shop.workspace.slug}"
    home = client.get(base, params={"lang": "en"})
    assert home.status_code == 200 and "set-cookie" not in home.headers
    assert "Returns" in home.text and "How do I return an item?" in home.text  # English page, English entries
    hans = client.get(base, params={"lang": "zh-Hans"})
    assert (
        "如何申请退货？" in hans.text and "运费怎么计算？" in hans.text
    )  # zh-Hant entries shown in Simplified
    assert "週年慶" not in hans.text and "禮物卡" not in hans.text  # expired and draft entries are not listed

    asked = client.get(base, params={"q": HOSTILE, "lang": "zh-Hant"})
    assert asked.status_code == 200 and 'data-answered="yes"' in asked.text
    assert "<script>alert" not in asked.text and "<img src=x" not in asked.text
    assert "&lt;script&gt;" in asked.text and "收到商品七天內" in asked.text
    assert asked.headers["x-frame-options"] == "DENY"  # not framed unless embedded
    token = _token(asked.text)
    rated = client.post(f"{base}/rate", params={"lang": "zh-Hant"}, data={"token": token, "rating": "unhelpful"},
                        follow_redirects=False)  # fmt: skip
    assert rated.status_code == 303 and "rated=unhelpful" in rated.headers["location"]
    assert "謝謝您的評價" in client.get(rated.headers["location"]).text
    assert client.post(f"{base}/rate", data={"token": token + "x", "rating": "helpful"}).status_code == 400
    with transaction(engine) as session:
        row = session.scalars(select(Question).where(Question.workspace_id == shop.workspace.id)).one()
        assert (row.channel, row.rating, row.entry_id) == ("help", "unhelpful", "return")

    widget = client.get(base, params={"q": "寄到火星要多久", "embed": "1", "lang": "zh-Hant"})
    assert 'data-answered="no"' in widget.text and "data-handover" in widget.text
    assert "frame-ancestors *" in widget.headers["content-security-policy"]
    assert "x-frame-options" not in widget.headers and "set-cookie" not in widget.headers
    wtoken = _token(widget.text)
    refused = client.post(f"{base}/handover", params={"embed": "1", "lang": "zh-Hant"},
                          data={"question": HOSTILE, "email": "bad", "token": wtoken})  # fmt: skip
    assert (
        refused.status_code == 200
        and "不是有效的電子郵件地址" in refused.text
        and "<script>alert" not in refused.text
    )
    made = client.post(f"{base}/handover", params={"embed": "1", "lang": "zh-Hant"},
                       data={"question": HOSTILE, "email": "amy@example.com", "name": "<b>Amy</b>", "token": wtoken},
                       follow_redirects=False)  # fmt: skip
    assert made.status_code == 303 and "embed=1" in made.headers["location"]
    page = client.get(made.headers["location"])
    assert "amy@example.com" in page.text and 'data-status="open"' in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "frame-ancestors *" in page.headers["content-security-policy"]
    with transaction(engine) as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.workspace_id == shop.workspace.id)
        ).one()
        asked_row = session.get_one(Question, conversation.question_id)
        assert (conversation.channel, conversation.contact_name, asked_row.channel) == (
            "widget",
            "<b>Amy</b>",
            "widget",
        )


def test_a_customer_known_from_a_signed_link_leaves_no_contact(
    engine: Engine, shop: Tenant, client: TestClient
) -> None:
    with transaction(engine) as session:
        customer = session.scalars(select(Customer).where(Customer.workspace_id == shop.workspace.id,
                                                          Customer.external_id == "C003")).one()  # fmt: skip
        who = records.customer_token(shop.workspace.id, customer.id)
    base = f"/help/{shop.workspace.slug}"
    page = client.get(base, params={"q": "寄到火星要多久", "who": who, "lang": "en"})
    assert "data-known" in page.text and 'name="email"' not in page.text
    made = client.post(f"{base}/handover", params={"who": who, "lang": "en"},
                       data={"question": "寄到火星要多久", "token": _token(page.text)}, follow_redirects=False)  # fmt: skip
    assert made.status_code == 303
    with transaction(engine) as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.workspace_id == shop.workspace.id)
        ).one()
        assert (conversation.customer_id, conversation.contact_email) == (customer.id, "c3@example.com")
    forged = client.get(base, params={"q": "寄到火星要多久", "who": who[:-2] + "xx", "lang": "en"})
    assert "data-known" not in forged.text and 'name="email"' in forged.text


def test_staff_answer_by_email_close_and_fill_a_gap_from_the_dashboard(
    engine: Engine, shop: Tenant, client: TestClient, inbox: Inbox, tmp_path: Path
) -> None:
    ws = shop.workspace.id
    client.get(f"/help/{shop.workspace.slug}", params={"q": "寄到火星要多久", "lang": "zh-Hant"})
    with transaction(engine) as session:
        question = session.scalars(select(Question).where(Question.workspace_id == ws)).one()
        conversation = records.hand_over(session, ws, question="寄到火星要多久<script>x</script>",
                                         email="amy@example.com", question_id=question.id, locale="zh-Hant")  # fmt: skip
        cid, qid = conversation.id, question.id
    log_in(client, shop.workspace.slug, shop.admin_email)
    tab = client.get("/dashboard/assistant", params={"lang": "en"})
    assert tab.status_code == 200
    assert f'data-conversation="{cid}"' in tab.text and 'data-kpi="waiting" data-value="1"' in tab.text
    assert (
        'data-kpi="questions" data-value="0"' in tab.text
    )  # today's question is outside the complete window
    assert "<script>x" not in tab.text and "assistant-widget.js" in tab.text
    page = client.get(f"/dashboard/assistant/conversations/{cid}", params={"lang": "zh-Hant"})
    assert page.status_code == 200 and "寄到火星要多久&lt;script&gt;" in page.text
    csrf = csrf_of(page.text)
    assert client.post(f"/dashboard/assistant/conversations/{cid}/reply",
                       data={"body": "目前不寄送火星。", "csrf": "forged"}).status_code == 400  # fmt: skip
    sent = client.post(f"/dashboard/assistant/conversations/{cid}/reply", data={"body": "目前不寄送火星。", "csrf": csrf},
                       follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303 and len(inbox.messages) == 1
    assert "目前不寄送火星。" in inbox.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    shown = client.get(sent.headers["location"])
    assert 'data-status="answered"' in shown.text and "data-sent" in shown.text
    closed = client.post(
        f"/dashboard/assistant/conversations/{cid}/close", data={"csrf": csrf}, follow_redirects=False
    )
    assert closed.status_code == 303
    assert 'data-status="closed"' in client.get(closed.headers["location"]).text

    gap = client.post("/dashboard/assistant/gaps/phrasing", data={"question": str(qid), "entry": "ship", "csrf": csrf},
                      follow_redirects=False)  # fmt: skip
    assert gap.status_code == 303
    assert client.post("/dashboard/assistant/gaps/phrasing",
                       data={"question": str(qid), "entry": "ship", "csrf": ""}).status_code == 400  # fmt: skip
    with transaction(engine) as session:
        entry = session.scalars(select(KnowledgeEntry).where(KnowledgeEntry.workspace_id == ws,
                                                             KnowledgeEntry.external_id == "ship")).one()  # fmt: skip
        assert entry.phrasings == ["寄送要多少錢", "寄到火星要多久"]


@pytest.mark.parametrize("path", ["/help/no-such-shop", "/help/no-such-shop/entries/x"])
def test_unknown_help_centres_are_a_clear_404(engine: Engine, client: TestClient, path: str) -> None:
    answer = client.get(path, headers={"Accept": "text/html"})
    assert answer.status_code == 404 and "Traceback" not in answer.text
