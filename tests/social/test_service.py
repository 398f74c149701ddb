"""Social listening on SQLite and PostgreSQL: terms match both Chinese scripts, any width and English whole
words in any case; mentions are stored as items arrive and re-matched when terms change; the daily series in the
workspace's calendar and the spike rule against hand-computed values."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core import clock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.feedback import service as feedback
from patron.feedback.models import FeedbackItem
from patron.feedback.schemas import FeedbackCreate
from patron.social import service
from patron.social.matching import mentions_term, normalised_term
from patron.social.models import SocialMention
from tests.factories import make_workspace


def test_terms_match_both_scripts_any_width_and_whole_english_words() -> None:
    def found(term: str, text: str) -> bool:
        return mentions_term(normalised_term(term), feedback.copies(text).analysis)

    assert (
        found("鼎泰豐", "鼎泰豐的小籠包")
        and found("鼎泰豐", "鼎泰丰的小笼包")
        and found("鼎泰丰", "去了鼎泰豐")
    )
    assert (
        found("Patron", "I love PATRON!")
        and found("patron", "ｐａｔｒｏｎ 好用")
        and found("ＰＡＴＲＯＮ", "patron's app")
    )
    assert not found("patron", "patrons of the arts") and not found("app", "happy")
    assert found("Patron咖啡", "patron咖啡很好喝") and found(
        "Patron 咖啡", "Patron　 咖啡"
    )  # ideographic space
    assert not found("咖啡", "奶茶")


def test_spike_rule_against_hand_computed_values() -> None:
    days = [date(2026, 10, 1) + timedelta(days=n) for n in range(29)]
    quiet = [
        service.Day(mentions=4, analysed=4, negative=1)
    ] * 28  # mean 4; 28 of 112 analysed negative (25 %)
    tail = {x: 1 - sum(math.exp(-4) * 4**k / math.factorial(k) for k in range(x)) for x in (11, 12)}
    assert tail[11] == pytest.approx(0.002840, abs=1e-6) and tail[12] == pytest.approx(0.000915, abs=1e-6)
    # 11 mentions: P(X >= 11 | 4) = 0.00284, not below 0.001; 12 mentions: 0.000915, a spike.
    assert service.series_spikes(days, [*quiet, service.Day(11, 0, 0)]) == []
    found = service.series_spikes(days, [*quiet, service.Day(12, 12, 9)])
    assert [(s.day, s.kind) for s in found] == [(days[28], "volume"), (days[28], "negative_share")]
    assert found[0].p_value == pytest.approx(tail[12]) and found[0].baseline == 4.0
    # Negative share, 9 of 12 against 28 of 112: pooled 37/124, variance 0.29839 x 0.70161 x (1/12 + 1/112)
    # = 0.019315, z = (0.75 - 0.25) / 0.13898 = 3.5977, p = 0.000161 (below 0.001; rise 50 points).
    assert found[1].value == pytest.approx(9 / 12) and found[1].baseline == pytest.approx(0.25)
    assert found[1].p_value == pytest.approx(0.000161, abs=1e-6)
    # 8 of 12 (rise 41.7 points, z 3.0221, p 0.001255) is not below 0.001.
    assert service.series_spikes(days, [*quiet, service.Day(4, 12, 8)]) == []
    # The ratio: from a mean of 100, 145 mentions have p = P(X >= 145 | 100) = 0.0000143 but are under 1.5 x 100,
    # so no spike; 150 (p 0.0000019) is one.
    busy = [service.Day(100, 0, 0)] * 28
    assert service.series_spikes(days, [*busy, service.Day(145, 0, 0)]) == []
    assert [s.kind for s in service.series_spikes(days, [*busy, service.Day(150, 0, 0)])] == ["volume"]
    # Below the minimum count nothing is a volume spike, even from a zero baseline (floor 0.5: P(X >= 4) = 0.00175).
    nothing = [service.Day(0, 0, 0)] * 28
    assert service.series_spikes(days, [*nothing, service.Day(4, 0, 0)]) == []
    zero = service.series_spikes(days, [*nothing, service.Day(5, 0, 0)])
    assert [s.kind for s in zero] == ["volume"] and zero[0].p_value == pytest.approx(0.000172, abs=1e-6)


def _at(day: int, hour: int = 4) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


ITEMS = [
    ("social", "s1", _at(9, 17), "鼎泰豐的湯很冷，服務很差"),  # 01:00 on 10 Nov in Taipei
    ("review", "r1", _at(10), "鼎泰丰的小笼包很好吃"),
    ("review", "r2", _at(10), "I love Patron, great coffee"),
    ("social", "s2", _at(11), "ＰＡＴＲＯＮ 的 app 一直當機，很糟糕"),
    ("email", "e1", _at(11), "鼎泰豐 refund please"),  # not a default channel
    ("social", "s3", _at(11), "patrons of the arts"),  # not a whole word
    ("review", "r3", _at(12), "請問週末有營業嗎？"),  # a question
]


def test_terms_mentions_and_daily_series(engine: Engine) -> None:
    workspace = make_workspace(engine)
    ws, zone = workspace.id, workspace.timezone
    with transaction(engine) as session:
        brand = service.add_term(
            session, workspace_id=ws, term="鼎泰豐", kind="brand", actor="admin@example.com"
        )
        assert (brand.normalised, brand.channels, brand.mentions) == ("鼎泰丰", ["social", "review"], 0)
        stored = feedback.add_items(session, workspace_id=ws, items=[
            FeedbackCreate(channel=c, source="x", source_id=i, occurred_at=at, text=t)  # type: ignore[arg-type]
            for c, i, at, t in ITEMS])  # fmt: skip
    ids = [s.id for s in stored]
    with transaction(engine) as session:
        # Stored as the items arrived: s1 and r1 (e1 is e-mail).
        got = sorted(session.scalars(select(SocialMention.item_id).where(SocialMention.workspace_id == ws)))
        assert got == sorted([ids[0], ids[1]])
        # A new term is matched against the items already stored: r2 and s2, not s3.
        patron = service.add_term(session, workspace_id=ws, term="Patron")
        assert patron.mentions == 2
        with pytest.raises(PatronError) as caught:
            service.add_term(session, workspace_id=ws, term="鼎泰丰")
        assert (caught.value.code, caught.value.status) == ("social.term_exists", 409)
        with pytest.raises(PatronError) as caught:
            service.add_term(session, workspace_id=ws, term="x", channels=["fax"])
        assert caught.value.code == "social.bad_channel"
        assert service.find_term(session, workspace_id=ws, term="ＰＡＴＲＯＮ") == patron.id
    with transaction(engine) as session:
        days = service.daily(session, workspace_id=ws, timezone=zone, since=date(2026, 11, 9),
                             until=date(2026, 11, 12))  # fmt: skip
    # Items are analysed as they arrive. 10 Nov (Taipei) has s1 (17:00Z on the 9th), r1 and r2; 11 Nov has s2.
    assert [(d.day.day, d.mentions, d.analysed) for d in days] == [
        (9, 0, 0),
        (10, 3, 3),
        (11, 1, 1),
        (12, 0, 0),
    ]
    with transaction(engine) as session:
        assert feedback.analyze(session, workspace_id=ws).analysed == 0  # nothing left to analyse
        sentiments = dict(tuple(row) for row in session.execute(select(FeedbackItem.id, FeedbackItem.sentiment).where(
            FeedbackItem.workspace_id == ws)))  # fmt: skip
        days = service.daily(session, workspace_id=ws, timezone=zone, since=date(2026, 11, 10),
                             until=date(2026, 11, 11))  # fmt: skip
        only_patron = service.daily(session, workspace_id=ws, timezone=zone, since=date(2026, 11, 10),
                                    until=date(2026, 11, 11), term_id=patron.id)  # fmt: skip
    assert [sentiments[i] for i in ids[:4]] == ["negative", "positive", "positive", "negative"]
    assert [(d.mentions, d.analysed, d.positive, d.negative) for d in days] == [(3, 3, 2, 1), (1, 1, 0, 1)]
    assert days[0].positive_share == pytest.approx(2 / 3) and days[0].negative_share == pytest.approx(1 / 3)
    assert [(d.mentions, d.negative) for d in only_patron] == [(1, 0), (1, 1)]
    # The reply queue, newest first: the question (r3) and the two negative mentions (s2, s1); not the positive
    # reviews, not the e-mail (neither a review nor a mention).
    at = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    with transaction(engine) as session, clock.frozen(at):
        page = service.queue(session, workspace_id=ws)
        assert ([q.item_id for q in page.items], page.total) == ([ids[6], ids[3], ids[0]], 3)
        assert [(q.question, q.sentiment == "negative") for q in page.items][1:] == [
            (False, True),
            (False, True),
        ]
        assert page.items[0].question and page.items[2].text == ITEMS[0][3]
        done = service.handle(
            session, workspace_id=ws, item_id=ids[3], actor="amy@example.com", note=" replied "
        )
        assert (done.handled, done.handled_by, done.handled_at, done.note) == (
            True, "amy@example.com", at, "replied")  # fmt: skip
        for act, item, code in ((service.handle, ids[3], "social.already_handled"),
                                (service.handle, ids[1], "social.not_in_queue"),
                                (service.reopen, ids[0], "social.not_handled")):  # fmt: skip
            with pytest.raises(PatronError) as caught:
                act(session, workspace_id=ws, item_id=item, actor="bo")
            assert caught.value.code == code
    with transaction(engine) as session:
        assert [q.item_id for q in service.queue(session, workspace_id=ws).items] == [ids[6], ids[0]]
        handled = service.queue(session, workspace_id=ws, state="handled").items
        assert [(q.item_id, q.handled_by) for q in handled] == [(ids[3], "amy@example.com")]
        again = service.reopen(session, workspace_id=ws, item_id=ids[3], actor="bo")
        assert (again.handled, again.handled_by, again.reopened_by, again.note) == (False, "amy@example.com", "bo",
                                                                                    "replied")  # fmt: skip
        assert service.queue(session, workspace_id=ws).total == 3
    with transaction(engine) as session:
        service.remove_term(session, workspace_id=ws, term_id=brand.id)
        terms = service.list_terms(session, workspace_id=ws)
        assert [(t.term, t.mentions) for t in terms] == [("Patron", 2)]
        with pytest.raises(PatronError) as caught:
            service.remove_term(session, workspace_id=ws, term_id=brand.id)
        assert (caught.value.code, caught.value.status) == ("social.term_not_found", 404)
