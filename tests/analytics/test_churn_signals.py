"""The churn model's service, loyalty and feedback features, by hand on a few customers; no event after the
cut-off changes them; their reasons in three languages; the ``cancelled`` churn definition."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from patron.analytics import churn
from patron.core.errors import PatronError

CUTOFF = date(2025, 6, 30)


def _frame(rows: list[tuple[object, ...]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("day", "closed"):
        if name in frame:
            frame[name] = pd.to_datetime(frame[name])
    return frame


def _orders() -> pd.DataFrame:
    rows = [
        (1, "2025-01-10", 100.0),
        (2, "2025-03-01", 50.0),
        (3, "2025-06-01", 20.0),
        (4, "2025-05-05", 9.0),
    ]
    return _frame(rows, ["customer_id", "day", "amount"])


def _signals(extra: bool = False) -> churn.Signals:
    """Customer 1: two support contacts and a complaint, a member with a history; 2: an old complaint and a
    closed hand-over; 3: negative feedback; 4: nothing. ``extra`` adds an event of every kind after the
    cut-off (they must change nothing)."""
    interactions = [
        (1, "2025-06-20", "support_contact"),
        (1, "2025-04-15", "complaint"),  # 76 days before: within 90 (a support contact too)
        (1, "2025-01-05", "support_contact"),  # 176 days before: within 365 only
        (1, "2025-06-25", "email_open"),  # not a support contact
        (2, "2024-09-01", "complaint"),  # 302 days before: within 365 only
        (2, "2024-06-30", "complaint"),  # exactly 365 days before: outside (the window is the last 365 days)
    ]
    handovers = [
        (1, "2025-06-01", None),  # open
        (2, "2025-02-01", "2025-02-03"),  # closed
        (2, "2025-06-29", "2025-07-05"),  # closed only after the cut-off: open at it
    ]
    members = [(1, "2024-07-01"), (3, "2025-06-30")]  # 3 enrolled on the cut-off day
    entries = [
        (1, "2024-08-01", "earn", 500, 0),
        (1, "2025-01-15", "redeem", -100, 0),  # 166 days before: within 365, not 90
        (1, "2025-05-01", "redeem", -80, 0),  # 60 days before
        (1, "2025-05-10", "reverse", -400, 60),  # took back 400 when 320 were left: 60 of debt
        (1, "2025-06-01", "earn", 200, -60),  # repaid the debt: 140 to lots
    ]
    tiers = [(1, "2024-12-01", 2.0), (1, "2025-03-01", 1.0)]
    items = [
        (3, "2025-06-10", "negative"),
        (3, "2025-05-10", "negative"),
        (3, "2025-04-10", "positive"),
        (3, "2024-12-01", "negative"),  # 211 days before: outside the 180 days
        (1, "2025-06-01", "neutral"),
    ]
    mentions = [
        (3, "2025-06-10", "delivery", "negative"),
        (3, "2025-06-10", "price", "negative"),
        (3, "2025-05-10", "delivery", "negative"),
        (3, "2025-04-10", "delivery", "positive"),
        (3, "2024-12-01", "delivery", "negative"),
    ]
    if extra:
        interactions += [(4, "2025-07-01", "complaint"), (4, "2025-07-01", "support_contact")]
        handovers += [(4, "2025-07-02", None)]
        members += [(4, "2025-07-01")]
        entries += [(1, "2025-07-01", "redeem", -140, 0), (4, "2025-07-01", "earn", 10, 0)]
        tiers += [(1, "2025-07-01", 0.0)]
        items += [(4, "2025-07-01", "negative"), (3, "2025-07-01", "positive")]
        mentions += [(4, "2025-07-01", "delivery", "negative"), (3, "2025-07-01", "price", "negative")]
    return churn.Signals(
        interactions=_frame(interactions, ["customer_id", "day", "type"]),
        handovers=_frame(handovers, ["customer_id", "day", "closed"]),
        members=_frame(members, ["customer_id", "day"]),
        entries=_frame(entries, ["customer_id", "day", "kind", "points", "debt_delta"]),
        tiers=_frame(tiers, ["customer_id", "day", "rank"]),
        items=_frame(items, ["customer_id", "day", "sentiment"]),
        mentions=_frame(mentions, ["customer_id", "day", "theme", "sentiment"]),
        themes=("delivery", "price"),
    )


NO_ANSWERS = pd.DataFrame(columns=["customer_id", "day", "score", "scale_min", "scale_max"])


def test_service_loyalty_and_feedback_features_by_hand() -> None:
    table = churn.feature_table(_orders(), NO_ANSWERS, CUTOFF, signals=_signals())
    assert list(table.columns) == [
        *churn.FEATURES, *churn.SIGNAL_FEATURES, "negative_theme_delivery", "negative_theme_price"
    ]  # fmt: skip
    one, two, three, four = (table.loc[i] for i in (1, 2, 3, 4))
    # service: 1 has contacts on 20 Jun and 15 Apr (the complaint) within 90 days, and 5 Jan within 365
    assert (one["support_contacts_90d"], one["support_contacts_365d"]) == (2, 3)
    assert (one["complaints_90d"], one["complaints_365d"]) == (1, 1)
    assert (two["complaints_90d"], two["complaints_365d"], two["support_contacts_365d"]) == (0, 1, 1)
    assert (one["handovers_365d"], one["open_handovers"]) == (1, 1)
    assert (two["handovers_365d"], two["open_handovers"]) == (2, 1)  # the second closes after the cut-off
    # loyalty: 500 − 100 − 80 − 400 + 60 (debt) + 200 − 60 (repaid) = 120 held; tier moved to rank 1 on 1 Mar
    assert (one["member"], one["tier_rank"], one["points_balance"]) == (1, 1, 120)
    assert (one["points_redeemed_90d"], one["points_redeemed_365d"]) == (80, 180)
    assert one["days_since_redemption"] == 60  # 1 May → 30 Jun
    # 3 enrolled on the cut-off day: a member of the lowest tier with nothing, 0 days since enrolment
    assert (three["member"], three["tier_rank"], three["points_balance"], three["days_since_redemption"]) == (
        1, 0, 0, 0
    )  # fmt: skip
    assert two["member"] == 0 and all(
        math.isnan(two[c]) for c in ("tier_rank", "points_balance", "points_redeemed_90d", "days_since_redemption")
    )  # fmt: skip
    # feedback: 3 has two negative items of three within 180 days; delivery negative twice then, price once
    assert (three["negative_items_180d"], three["negative_share_180d"]) == (2, pytest.approx(2 / 3))
    assert (three["negative_theme_delivery"], three["negative_theme_price"]) == (2, 1)
    assert one["negative_items_180d"] == 0 and one["negative_share_180d"] == 0  # one neutral item
    assert math.isnan(four["negative_share_180d"])  # no items at all
    assert four[list(churn.SIGNAL_FEATURES[:6])].tolist() == [0] * 6 and four["member"] == 0


def test_nothing_after_the_cutoff_changes_a_feature() -> None:
    before = churn.feature_table(_orders(), NO_ANSWERS, CUTOFF, signals=_signals())
    after = churn.feature_table(_orders(), NO_ANSWERS, CUTOFF, signals=_signals(extra=True))
    pd.testing.assert_frame_equal(before, after)
    # the theme columns are picked from what came before the cut-off the model trains at
    mentions = _signals(extra=True).mentions
    assert churn.top_negative_themes(mentions, CUTOFF) == ("delivery", "price")
    assert churn.top_negative_themes(mentions, date(2025, 6, 9)) == ("delivery",)  # price's first is 10 Jun
    assert churn.top_negative_themes(mentions, CUTOFF, n=1) == ("delivery",)


def test_without_signals_the_table_is_the_behaviour_and_survey_one() -> None:
    table = churn.feature_table(_orders(), NO_ANSWERS, CUTOFF)
    assert list(table.columns) == list(churn.FEATURES)
    empty = churn.feature_table(_orders(), NO_ANSWERS, CUTOFF, signals=churn.Signals())
    assert list(empty.columns) == [*churn.FEATURES, *churn.SIGNAL_FEATURES]
    assert (empty["member"] == 0).all() and empty["points_balance"].isna().all()


def test_new_reasons_read_as_sentences_in_three_languages() -> None:
    table = churn.feature_table(_orders(), NO_ANSWERS, CUTOFF, signals=_signals())

    def said(feature: str, customer: int, locale: str, **extra: object) -> str:
        reason = {
            "feature": feature,
            "params": {**churn.reason_params(feature, table.loc[customer]), **extra},
        }
        return churn.reason_text(reason, locale)

    assert said("complaints_90d", 1, "en") == "Complaints in the last 90 days: 1"
    assert said("complaints_90d", 1, "zh-Hant") == "近 90 天客訴次數：1"
    assert said("complaints_90d", 1, "zh-Hans") == "近 90 天投诉次数：1"
    assert said("days_since_redemption", 1, "en") == "Points unused for 60 days (balance 120)"
    assert said("days_since_redemption", 1, "zh-Hant") == "已 60 天沒有兌換點數（餘額 120）"
    assert said("days_since_redemption", 1, "zh-Hans") == "已 60 天没有兑换积分（余额 120）"
    assert said("tier_rank", 1, "en") == "Loyalty tier level 2 (1 is the lowest)"
    assert said("member", 2, "zh-Hans") == "不是会员计划成员"
    assert (
        said("negative_share_180d", 3, "en")
        == "67 % of their comments in the last 180 days were negative (2)"
    )
    names = {"en": "Delivery", "zh-Hant": "配送", "zh-Hans": "配送"}
    assert said("negative_theme_delivery", 3, "en", names=names) == (
        "Negative comments about Delivery in the last 180 days: 2"
    )
    assert said("negative_theme_delivery", 3, "zh-Hant", names=names) == "近 180 天對「配送」的負面意見：2 則"
    assert said("negative_theme_delivery", 3, "zh-Hans", names=names) == "近 180 天对“配送”的负面意见：2 条"
    assert (
        said("negative_theme_delivery", 3, "en") == "Negative comments about delivery in the last 180 days: 2"
    )
    for feature in (*churn.SIGNAL_FEATURES, "negative_theme_x"):  # every feature has a sentence everywhere
        for locale in ("en", "zh-Hant", "zh-Hans"):
            text = churn.reason_text(
                {"feature": feature, "params": {"value": "1", "points": "1", "count": "1", "theme": "x"}},
                locale,
            )
            assert not text.startswith("churn.reason") and "{" not in text, (feature, locale)


def test_member_is_named_only_for_non_members_and_themes_carry_their_names() -> None:
    x = pd.DataFrame({"member": [0.0, 1.0], "negative_theme_delivery": [2.0, 0.0]}, index=[7, 8])
    contrib = pd.DataFrame({"member": [0.1, 0.1], "negative_theme_delivery": [0.05, 0.05]}, index=[7, 8])
    names = {"delivery": {"en": "Delivery", "zh-Hant": "配送", "zh-Hans": "配送"}}
    reasons = churn.top_reasons(contrib, x, theme_names=names)
    assert [r["feature"] for r in reasons[0]] == ["member", "negative_theme_delivery"]
    assert [r["feature"] for r in reasons[1]] == ["negative_theme_delivery"]
    assert reasons[0][1]["params"] == {"value": "2", "theme": "delivery", "names": names["delivery"]}
    assert churn.reason_text(reasons[0][1], "zh-Hant") == "近 180 天對「配送」的負面意見：2 則"


def test_cancelled_definition_labels_subscribers_who_cancel() -> None:
    orders = _frame(
        [(1, "2025-01-10", 10.0), (2, "2025-03-01", 10.0), (3, "2025-02-01", 10.0), (3, "2025-05-01", 10.0),
         (4, "2025-06-01", 10.0), (5, "2025-08-01", 10.0)],
        ["customer_id", "day", "amount"],
    )  # fmt: skip
    cancellations = _frame(
        [(1, "2025-07-15"), (2, "2025-04-01"), (3, "2025-03-01"), (4, "2025-10-15")], ["customer_id", "day"]
    )
    rule = churn.ChurnDefinition(60, "cancelled")
    labels = churn.labels(orders, CUTOFF, rule, cancellations)
    # 1 cancels 15 days after the cut-off; 2 had cancelled before it (and never bought again): not a subscriber;
    # 3 cancelled on 1 Mar but bought again on 1 May: a subscriber who stays; 4 cancels 107 days after: stays
    assert labels.to_dict() == {1: 1, 3: 0, 4: 0}
    assert churn.cancelled_by(orders, cancellations, CUTOFF) == {2}
    # the inactivity definition of the same orders: nobody but 5 (first purchase after the cut-off) bought
    assert churn.labels(orders, CUTOFF, churn.ChurnDefinition(60)).to_dict() == {1: 1, 2: 1, 3: 1, 4: 1}
    later = churn.labels(orders, CUTOFF, churn.ChurnDefinition(120, "cancelled"), cancellations)
    assert later.to_dict() == {1: 1, 3: 0, 4: 1}
    with pytest.raises(PatronError) as bad:
        churn.ChurnDefinition(90, "quit")
    assert bad.value.code == "churn.bad_definition"
    signals = churn.Signals(interactions=_frame(
        [(1, "2025-07-15", "subscription_cancelled"), (1, "2025-07-16", "complaint")], ["customer_id", "day", "type"]
    ))  # fmt: skip
    assert signals.cancellations()["customer_id"].tolist() == [1]
