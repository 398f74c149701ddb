"""The demo's feedback: seeded, in three languages, on every channel but surveys, with a delivery spike."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from patron.demo.feedback import SPIKE_DAYS, generate_feedback
from patron.text.normalise import detect_language

END = date(2026, 11, 22)


def test_seeded_three_languages_and_a_delivery_spike() -> None:
    items = generate_feedback(END, 1, ["C000001", "C000002"], 900, "Asia/Taipei")
    assert items == generate_feedback(END, 1, ["C000001", "C000002"], 900, "Asia/Taipei")
    assert len({item.source_id for item in items}) == 900
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
