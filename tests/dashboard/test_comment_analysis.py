"""Each comment's sentiment and themes beside it on the Responses page, in its export and on the customer page
(with the customer's feedback items from every channel), in three languages.

Hand-checked (docs/feedback.md, "Analysis"): 送餐很快但湯是冷的 is positive as a whole; its first clause (送餐很快)
mentions delivery and waiting time, positive (很快); its second (湯是冷的) food quality, negative (冷的). "Delivery
was late" scores 0.4–0.6 as a whole (neutral) and is negative on delivery (late)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.feedback import service as feedback
from patron.feedback.models import FeedbackItem
from patron.feedback.schemas import FeedbackCreate
from patron.feedback.service import ShownAnalysis, ShownTheme
from patron.surveys.schemas import ResponseSubmit
from patron.surveys.service import submit_response
from patron.web.templating import formatters
from tests.dashboard.conftest import Dash, log_in

COMMENT = "送餐很快但湯是冷的"
SHOWN = {  # the chips beside COMMENT, in order: overall, then the themes by clause
    "zh-Hant": ["整體：正面", "配送 · 正面", "等候時間 · 正面", "餐點品質 · 負面"],
    "zh-Hans": ["整体：正面", "配送 · 正面", "等候时间 · 正面", "餐点质量 · 负面"],
    "en": ["Overall: Positive", "Delivery · Positive", "Waiting time · Positive", "Food quality · Negative"],
}
LATE = {"zh-Hant": ["整體：中性", "配送 · 負面"], "zh-Hans": ["整体：中性", "配送 · 负面"],
        "en": ["Overall: Neutral", "Delivery · Negative"]}  # fmt: skip
NOT_ANALYSED = {"zh-Hant": "尚未分析", "zh-Hans": "尚未分析", "en": "Not analysed yet"}
CHANNELS = {"zh-Hant": ("問卷", "電子郵件"), "zh-Hans": ("问卷", "电子邮件"), "en": ("Survey", "Email")}
SURVEY = {"zh-Hant": "顧客推薦度調查", "zh-Hans": "顾客推荐度调查", "en": "Would you recommend us?"}
_CHIPS = re.compile(r"data-analysis>(.*?)</div>", re.S)
_CHIP_TEXT = re.compile(r'class="score [^"]*"[^>]*>([^<]+)</(?:span|a)>')


def _chips(fragment: str) -> list[list[str]]:
    """The chip texts of each analysis in ``fragment``, in page order."""
    return [_CHIP_TEXT.findall(found) for found in _CHIPS.findall(html.unescape(fragment))]


def _world(engine: Engine, dash: Dash) -> datetime:
    """Two survey comments of V1 (one analysed, one not) and an e-mail of V1 a day ago; answers its time."""
    sent_at = utcnow().replace(microsecond=0) - timedelta(days=1)
    with transaction(engine) as session:
        for key, reason in (("a1", COMMENT), ("a2", "包裝很好")):
            submit_response(session, workspace_id=dash.workspace_id, submission=ResponseSubmit(
                survey="relationship_nps", customer_id="V1", client_key=key, answers={"nps": 8, "reason": reason}))  # fmt: skip
        # The second comment stands for one stored before comments became items: not analysed yet.
        session.execute(delete(FeedbackItem).where(FeedbackItem.workspace_id == dash.workspace_id,
                                                   FeedbackItem.text == "包裝很好"))  # fmt: skip
        feedback.add_items(session, workspace_id=dash.workspace_id, items=[FeedbackCreate(
            channel="email", source="mailbox", source_id="m1", customer_id="V1",
            occurred_at=sent_at, text="Delivery was late")])  # type: ignore[arg-type]  # fmt: skip
    return sent_at


def test_the_analysis_service_gives_what_the_pages_show(engine: Engine, dash: Dash) -> None:
    _world(engine, dash)
    with transaction(engine) as session:
        answers = dict(session.execute(select(FeedbackItem.survey_answer_id, FeedbackItem.text).where(
            FeedbackItem.workspace_id == dash.workspace_id, FeedbackItem.survey_answer_id.is_not(None))).all())  # fmt: skip
        shown = feedback.analyses_of_answers(session, workspace_id=dash.workspace_id, answer_ids=list(answers),
                                             locale="zh-Hant")  # fmt: skip
        customer = session.scalar(
            select(FeedbackItem.customer_id).where(
                FeedbackItem.workspace_id == dash.workspace_id, FeedbackItem.source_id == "m1"
            )
        )
        assert customer is not None
        items = feedback.items_for_customer(session, workspace_id=dash.workspace_id, customer_id=customer)
    assert list(shown.values()) == [ShownAnalysis("positive", [
        ShownTheme("delivery", "配送", "positive"), ShownTheme("waiting_time", "等候時間", "positive"),
        ShownTheme("food_quality", "餐點品質", "negative")])]  # fmt: skip
    assert [(i.channel, i.text, i.sentiment, [(m.theme, m.sentiment) for m in i.themes]) for i in items.items] == [
        ("survey", COMMENT, "positive", [("delivery", "positive"), ("waiting_time", "positive"),
                                         ("food_quality", "negative")]),
        ("email", "Delivery was late", "neutral", [("delivery", "negative")]),
    ]  # fmt: skip
    assert items.total == 2


def test_responses_page_customer_page_and_export_show_sentiment_and_themes(
    client: TestClient, engine: Engine, dash: Dash
) -> None:
    sent_at = _world(engine, dash)
    log_in(client, dash.slug, dash.admin)
    for lang in ("zh-Hant", "zh-Hans", "en"):
        page = client.get(f"/dashboard/responses?period=7d&lang={lang}").text
        # Newest first: the comment not yet an item, then COMMENT.
        assert _chips(page) == [[NOT_ANALYSED[lang]], SHOWN[lang]], lang
        assert 'data-theme="food_quality" data-theme-sentiment="negative"' in page
        customer = client.get(f"/customers/V1?lang={lang}").text
        answered, items = customer.split('<section id="feedback"')
        assert _chips(answered) == [[NOT_ANALYSED[lang]], SHOWN[lang]], lang
        # The customer's feedback items from every channel, newest first: channel, date, sentiment, themes.
        assert 'data-feedback="2"' in items
        assert _chips(items) == [SHOWN[lang], LATE[lang]], lang
        survey, email = items.split("<li ")[1:3]
        assert f"<span>{CHANNELS[lang][0]}</span>" in survey and f"<span>{CHANNELS[lang][1]}</span>" in email
        # A survey comment's source is its survey, by name (the key is not a word for people).
        assert f'<span data-source="relationship_nps">{SURVEY[lang]}</span>' in html.unescape(survey)
        written = formatters(lang, dash.zone)["when"](sent_at)
        assert f'<div class="meta"><span>{html.escape(written)}</span>' in email, (written, email)
    export = client.get("/dashboard/responses/export?period=7d&table=responses&format=csv&lang=en")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][-2:] == ["Comment sentiment", "Comment themes"]
    assert [row[-2:] for row in rows[1:] if row[-2]] == [
        ["Not analysed yet", ""],
        ["Positive", "Delivery · Positive, Waiting time · Positive, Food quality · Negative"],
    ]


def test_a_customer_without_feedback_is_told_so(client: TestClient, engine: Engine, dash: Dash) -> None:
    log_in(client, dash.slug, dash.admin)
    page = client.get("/customers/V1?lang=zh-Hant").text
    assert 'data-feedback="0"' in page and "這位顧客還沒有任何回饋。" in page
