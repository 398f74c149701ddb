"""The demo's feedback: seeded, in three languages, on every channel but surveys, with a delivery spike."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.demo.feedback import (
    SPIKE_DAYS,
    STRAW_POSTS,
    TRACKED,
    VIRAL_DAYS_BEFORE_END,
    VIRAL_POSTS,
    generate_feedback,
)
from patron.feedback import service as feedback
from patron.social import service as social
from patron.text.normalise import detect_language
from tests.factories import make_workspace

END = date(2026, 11, 22)


def test_seeded_three_languages_and_a_delivery_spike() -> None:
    items = generate_feedback(END, 1, ["C000001", "C000002"], 900, "Asia/Taipei")
    assert items == generate_feedback(END, 1, ["C000001", "C000002"], 900, "Asia/Taipei")
    assert len({item.source_id for item in items}) == 900 + VIRAL_POSTS + STRAW_POSTS
    items = [i for i in items if not i.source_id.startswith(("demo-viral-", "demo-straw-"))]
    languages = Counter(detect_language(item.text) for item in items)
    assert set(languages) == {"zh-Hant", "zh-Hans", "en"} and languages.most_common(1)[0][0] == "zh-Hant"
    assert {item.channel.value for item in items} == {"review", "social", "email", "chat", "phone"}
    assert all(item.rating is None or 1 <= item.rating <= 5 for item in items)
    recent = [i for i in items if i.occurred_at.date() > END - timedelta(days=SPIKE_DAYS)]
    older = [i for i in items if i.occurred_at.date() <= END - timedelta(days=SPIKE_DAYS)]

    def delivery_share(group: list) -> float:  # type: ignore[type-arg]
        words = ("外送很慢", "外送很慢", "物流延誤", "物流延误", "送錯地址", "送错地址", "delivery was slow",
                 "shipping was delayed", "wrong address")  # fmt: skip
        return sum(any(w in i.text for w in words) for i in group) / len(group)

    assert delivery_share(recent) > 2 * delivery_share(older)


def test_half_the_posts_name_the_shop_and_one_day_spikes(engine: Engine) -> None:
    """The demo's social listening: the viral day is the one volume spike of the last 30 days, and its posts wait
    in the reply queue (negative or asking)."""
    items = generate_feedback(END, 1, [], 900, "Asia/Taipei")
    ws = make_workspace(engine, timezone="Asia/Taipei")
    with transaction(engine) as session:
        for term, kind in TRACKED:
            social.add_term(session, workspace_id=ws.id, term=term, kind=kind)
        feedback.add_items(session, workspace_id=ws.id, items=items)
        feedback.analyze(session, workspace_id=ws.id)
        posts = [
            i
            for i in items
            if i.channel.value in ("social", "review")
            and not i.source_id.startswith(("demo-viral", "demo-straw"))
        ]
        named = sum(("山嵐" in i.text or "山岚" in i.text or "Mountain Mist" in i.text) for i in posts)
        assert 0.4 < named / len(posts) < 0.6
        viral_day = END - timedelta(days=VIRAL_DAYS_BEFORE_END)
        found = social.spikes(session, workspace_id=ws.id, timezone="Asia/Taipei",
                              since=END - timedelta(days=29), until=END)  # fmt: skip
        assert [s.day for s in found if s.kind == "volume"] == [viral_day]
        day = {d.day: d for d in social.daily(session, workspace_id=ws.id, timezone="Asia/Taipei",
                                               since=viral_day, until=viral_day)}[viral_day]  # fmt: skip
        assert day.mentions >= VIRAL_POSTS and day.negative_share is not None and day.negative_share > 0.6
        waiting = social.queue(session, workspace_id=ws.id, limit=1000)
        viral_ids = {i.source_id for i in items if i.source_id.startswith("demo-viral")}
        assert viral_ids, "the viral posts were generated"
        assert (
            sum(q.occurred_at.date() in (viral_day, viral_day - timedelta(days=1)) for q in waiting.items)
            >= 20
        )


def test_the_paper_straws_are_an_emerging_topic(engine: Engine) -> None:
    """No theme covers the paper straws of the last three weeks (nor the foreign object of the viral day): with the
    shop's names tracked as brands (as the demo does), discovery finds both as the two most rising topics, the straws
    with every Chinese straw comment, in both scripts, and none before."""
    from patron.feedback import discovery

    items = generate_feedback(END, 1, [], 900, "Asia/Taipei")
    chinese_straws = sum(
        i.source_id.startswith("demo-straw") and detect_language(i.text) != "en" for i in items
    )
    ws = make_workspace(engine, timezone="Asia/Taipei")
    with transaction(engine) as session:
        for term, kind in TRACKED:
            social.add_term(session, workspace_id=ws.id, term=term, kind=kind)
        feedback.add_items(session, workspace_id=ws.id, items=items)
        since, until = feedback.day_bounds("Asia/Taipei", END - timedelta(days=29), END)
        report = discovery.discover(session, workspace_id=ws.id, since=since, until=until)
    straws, foreign = report.topics[:2]
    assert "纸吸管" in straws.keywords and (straws.items, straws.previous) == (chinese_straws, 0)
    assert chinese_straws == 22 and all("吸管" in example.text for example in straws.examples)
    assert foreign.label == "异物" and foreign.previous == 0 and foreign.items >= 15
    assert all("山岚" not in t.keywords for t in report.topics)  # a brand names no topic
