"""Feedback on SQLite and PostgreSQL: storing items (idempotent, customer linked, personal data masked), survey
comments as items, analysis (each theme gets the sentiment of its own clause), the taxonomy's named errors with
lines, and every figure of the Feedback page against hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.feedback import service
from patron.feedback.models import FeedbackItem
from patron.feedback.schemas import FeedbackCreate
from patron.feedback.taxonomy import parse_taxonomy, shipped_taxonomy
from patron.surveys import service as survey_service
from patron.surveys.schemas import ResponseSubmit
from patron.text.sentiment import shipped_model, split_clauses
from tests.surveys.helpers import survey_world


def _at(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 4, 0, tzinfo=UTC)


ITEMS = [
    {"channel": "review", "source": "google_maps", "source_id": "r1", "occurred_at": _at(10), "text": "送餐很快但湯是冷的"},
    {"channel": "email", "source": "mailbox", "source_id": "m1", "occurred_at": _at(11), "email": "S1@Example.com",
         "text": "店員態度很差，等了半小時"},
    {"channel": "chat", "client_key": "k3", "occurred_at": _at(12), "author": "@amy", "text": "價格便宜，CP值高，店員很親切"},
    {"channel": "review", "source": "app_store", "source_id": "r2", "occurred_at": _at(13), "rating": 5,
         "text": "The staff were friendly and the coffee was delicious"},
    {"channel": "social", "source": "threads", "source_id": "s1", "occurred_at": _at(14), "reply_to": "https://example.com/p/1",
         "text": "Refund took three weeks and the app kept crashing"},
    {"channel": "phone", "source": "call_centre", "source_id": "p1", "occurred_at": _at(15), "customer_id": "S3",
         "text": "請聯絡我 0912-345-678 或 amy@example.com，退貨流程太麻煩"},
    {"channel": "review", "source": "google_maps", "source_id": "r0", "occurred_at": _at(20, 10), "text": "環境很乾淨"},
]  # fmt: skip


def test_each_theme_takes_the_sentiment_of_its_own_clause() -> None:
    """送餐很快但湯是冷的: positive on delivery, negative on food quality — not the comment's label on both."""
    taxonomy = shipped_taxonomy()
    for text in ("送餐很快但湯是冷的", "送餐很快但汤是冷的"):
        copy = service.copies(text)
        clauses = split_clauses(copy.analysis)
        assert clauses == ["送餐很快", "汤是冷的"]
        scores = shipped_model().probabilities(clauses).tolist()
        found = {m.theme: (m.clause, m.sentiment) for m in service.clause_mentions(taxonomy, clauses, scores)}
        assert found["delivery"] == (0, "positive")
        assert found["food_quality"] == (1, "negative")
        assert found == {
            "delivery": (0, "positive"),
            "waiting_time": (0, "positive"),
            "food_quality": (1, "negative"),
        }


@pytest.mark.parametrize(
    ("document", "code", "line"),
    [
        ("version: 1\nthemes:\n  - key: a\n    group: cx\n    names: [x\n", "feedback.taxonomy_syntax", 6),
        ("version: 1\nthemes:\n  - key: Bad Key\n    group: cx\n", "feedback.taxonomy_bad_value", 3),
        ("version: 1\nthemes:\n  - key: a\n    group: other\n", "feedback.taxonomy_bad_value", 4),
        ("version: 1\nthemes:\n  - key: a\n    group: cx\n    colour: red\n", "feedback.taxonomy_unknown_field", 5),
        ("version: 1\nthemes:\n  - key: a\n    group: cx\n    names: {en: A, zh-Hant: 甲}\n    keywords: {en: [a]}\n",
         "feedback.taxonomy_missing", 5),
        ("version: 1\nthemes:\n  - key: a\n    group: cx\n    names: {en: A, zh-Hant: 甲, zh-Hans: 甲}\n"
         "    keywords: {zh: []}\n", "feedback.taxonomy_no_keywords", 3),
        ("version: 1\nthemes:\n  - key: a\n    group: cx\n    names: {en: A, zh-Hant: 甲, zh-Hans: 甲}\n"
         "    keywords: {en: [a]}\n  - key: a\n", "feedback.taxonomy_duplicate", 7),
        ("version: 1\nthemes:\n  - key: a\n    group: cx\n    names: {en: A, zh-Hant: 甲, zh-Hans: 甲}\n"
         "    keywords: {en: [\"a+b\"]}\n", "feedback.taxonomy_bad_value", 6),
        ("themes: []\n", "feedback.taxonomy_missing", 1),
    ],
)  # fmt: skip
def test_a_bad_rule_file_gets_a_named_error_with_its_line(document: str, code: str, line: int) -> None:
    with pytest.raises(PatronError) as caught:
        parse_taxonomy(document, source="mine.yaml")
    assert (caught.value.code, caught.value.params["line"], caught.value.params["source"]) == (
        code,
        line,
        "mine.yaml",
    )
    assert f"{line}" in caught.value.message("zh-Hant") and "mine.yaml" in caught.value.message("en")


def test_shipped_taxonomy_matches_both_scripts_and_whole_english_words() -> None:
    taxonomy = shipped_taxonomy()
    assert len(taxonomy.themes) == 16 and taxonomy.tag == "shipped:1"
    assert {t.key for t in taxonomy.themes if t.group == "servqual"} == {
        "reliability", "responsiveness", "assurance", "empathy", "tangibles"}  # fmt: skip
    for text in ("退貨流程太麻煩", "退货流程太麻烦"):
        assert taxonomy.themes_of(service.copies(text).analysis) == ["returns_refunds"]
    assert taxonomy.themes_of("they refunded me") == ["returns_refunds"]
    assert taxonomy.themes_of("happy apple") == []  # "app" is a whole word


def test_items_analysis_and_every_figure(engine: Engine, tmp_path: Path) -> None:
    world = survey_world(engine, tmp_path, "relationship_nps")
    ws = world.workspace.id
    with transaction(engine) as session:
        survey_service.submit_response(session, workspace_id=ws, submission=ResponseSubmit(
            survey="relationship_nps", client_key="fb-1", customer_id="S2",
            answers={"nps": 3, "reason": "退款到現在還沒收到，客服都不回覆"}))  # fmt: skip
        stored = service.add_items(session, workspace_id=ws, items=[FeedbackCreate(**item) for item in ITEMS])  # type: ignore[arg-type]
    assert [s.created for s in stored] == [True] * 7
    # Sent again (and a batch naming one key twice): nothing new, the same ids.
    with transaction(engine) as session:
        again = service.add_items(
            session,
            workspace_id=ws,
            items=[
                FeedbackCreate(**ITEMS[0]),
                FeedbackCreate(**ITEMS[2]),  # type: ignore[arg-type]
                FeedbackCreate(**ITEMS[2]),
            ],
        )  # type: ignore[arg-type]
    assert [(s.id, s.created) for s in again] == [
        (stored[0].id, False),
        (stored[2].id, False),
        (stored[2].id, False),
    ]
    with pytest.raises(PatronError) as caught, transaction(engine) as session:
        service.add_items(
            session, workspace_id=ws, items=[FeedbackCreate(**{**ITEMS[0], "source_id": "x", "text": " "})]
        )  # type: ignore[arg-type]
    assert caught.value.code == "feedback.empty_text"

    # The survey comment became an item as the response arrived, analysed like every item that arrives; a backfill
    # finds nothing new, and after losing the item it adds it again (and analyses only that one).
    with transaction(engine) as session:
        arrived = session.scalars(select(FeedbackItem).where(FeedbackItem.workspace_id == ws,
                                                            FeedbackItem.channel == "survey")).one()  # fmt: skip
        assert (arrived.analyzed_with, arrived.sentiment, arrived.text) == (
            "shipped:1", "negative", "退款到現在還沒收到，客服都不回覆")  # fmt: skip
        assert service.sync_survey_comments(session, workspace_id=ws) == 0
        session.delete(arrived)
    with transaction(engine) as session:
        report = service.analyze(session, workspace_id=ws)
    assert (report.survey_comments_added, report.analysed, report.taxonomy) == (1, 1, "shipped:1")
    with transaction(engine) as session:  # nothing left to do
        assert service.analyze(session, workspace_id=ws).analysed == 0

    with transaction(engine) as session:
        items = {
            item.source_key: item
            for item in session.scalars(select(FeedbackItem).where(FeedbackItem.workspace_id == ws))
        }
        phone = items["src:phone:call_centre:p1"]
        assert phone.text == ITEMS[5]["text"]  # kept exactly as written
        assert phone.masked_text == "請聯絡我 [PHONE] 或 [EMAIL]，退貨流程太麻煩"
        assert phone.analysis_text == "请联络我 [PHONE] 或 [EMAIL],退货流程太麻烦"
        assert "0912" not in phone.analysis_text and phone.language == "zh-Hant"
        assert items["src:email:mailbox:m1"].customer_id is not None  # linked by e-mail, case folded
        comment = next(item for key, item in items.items() if key.startswith("answer:"))
        assert (comment.channel, comment.source, comment.customer_id is not None) == (
            "survey",
            "relationship_nps",
            True,
        )
        page = service.list_items(session, workspace_id=ws, theme="returns_refunds")
    assert page.total == 3
    assert [item.channel for item in page.items] == ["survey", "phone", "social"]  # newest first
    assert page.items[1].text == "請聯絡我 [PHONE] 或 [EMAIL]，退貨流程太麻煩"
    assert page.items[1].customer_id == "S3"

    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    with transaction(engine) as session:
        themes = service.theme_figures(session, workspace_id=ws, since=since, until=until, locale="en")
        channels = service.channel_figures(session, workspace_id=ws, since=since, until=until)
        by_email = service.theme_figures(session, workspace_id=ws, since=since, until=until, locale="zh-Hant",
                                         channel="email")  # fmt: skip
        trend = service.theme_trend(
            session, workspace_id=ws, starts=[datetime(2026, 10, 1, tzinfo=UTC), since, until]
        )
    # Hand-counted from the eight comments (the October one falls outside):
    #   staff: m1 −, k3 + (親切), r2 + (friendly), survey − (客服 … 不回覆)   returns: s1 −, p1 −, survey −
    #   food: r1 − (湯是冷的), r2 + (delicious)   waiting: r1 + (很快), m1 − (半小時)
    #   responsiveness: survey −   price: k3 +   delivery: r1 +   app: s1 −
    figures = [(f.theme, f.items, f.positive, f.neutral, f.negative) for f in themes if f.items]
    assert figures == [
        ("staff_attitude", 4, 2, 0, 2), ("returns_refunds", 3, 0, 0, 3), ("food_quality", 2, 1, 0, 1),
        ("waiting_time", 2, 1, 0, 1), ("responsiveness", 1, 0, 0, 1), ("price_value", 1, 1, 0, 0),
        ("delivery", 1, 1, 0, 0), ("app_website", 1, 0, 0, 1),
    ]  # fmt: skip
    staff = themes[0]
    assert (staff.name, staff.group, staff.positive_share, staff.negative_share) == (
        "Staff attitude",
        "cx",
        0.5,
        0.5,
    )
    assert themes[1].negative_share == 1.0 and themes[1].positive_share == 0.0
    assert len(themes) == 16 and themes[-1].items == 0 and themes[-1].negative_share is None
    assert [(f.theme, f.name, f.items) for f in by_email if f.items] == [
        ("staff_attitude", "服務態度", 1), ("waiting_time", "等候時間", 1)]  # fmt: skip
    assert [(c.channel, c.items, c.positive, c.negative) for c in channels] == [
        ("survey", 1, 0, 1), ("email", 1, 0, 1), ("phone", 1, 0, 1), ("chat", 1, 1, 0), ("review", 2, 2, 0),
        ("social", 1, 0, 1),
    ]  # fmt: skip
    # October: the one comment on cleanliness and tangibles (環境很乾淨); November as above.
    assert trend["cleanliness"] == [(1, 0), (0, 0)]
    assert trend["staff_attitude"] == [(0, 0), (4, 2)]
    assert trend["returns_refunds"] == [(0, 0), (3, 3)]

    # A workspace version of the taxonomy: every item is analysed again with it.
    own = ("version: 7\nthemes:\n  - key: refunds\n    group: cx\n    names: {zh-Hant: 退款, zh-Hans: 退款, en: Refunds}\n"
           "    keywords: {zh: [退款, 退貨], en: [refund*]}\n")  # fmt: skip
    with transaction(engine) as session:
        taxonomy = service.set_taxonomy(session, workspace_id=ws, raw=own, source="own.yaml", actor="test")
        assert taxonomy.tag == "workspace:1"
        report = service.analyze(session, workspace_id=ws)
        assert (report.analysed, report.mentions, report.survey_comments_added) == (8, 3, 0)
        themes = service.theme_figures(session, workspace_id=ws, since=since, until=until, locale="en")
    assert [(f.theme, f.items, f.negative) for f in themes] == [("refunds", 3, 3)]


def test_a_theme_matches_a_clause_exactly_when_it_contains_one_of_its_chinese_keywords() -> None:
    """The one-pattern match (taxonomy._any_of) gives what a loop over the keywords gives, on random clauses made
    of the keywords' own characters (so keywords inside keywords and overlaps come up often)."""
    import random

    from patron.feedback import taxonomy

    themes = shipped_taxonomy().themes
    alphabet = sorted({char for theme in themes for word in theme.zh for char in word}) + list("的了很好是不")
    chosen = random.Random(19)
    for _ in range(5000):
        clause = "".join(chosen.choice(alphabet) for _ in range(chosen.randint(0, 12)))
        for theme in themes:
            looped = any(word in clause for word in theme.zh)
            assert taxonomy._found(clause, theme.zh, None) is looped, (theme.key, clause)
