"""Dashboard filters: presets, custom periods, the previous period, and bad input named precisely."""

from __future__ import annotations

from datetime import date

import pytest

from patron.core.errors import PatronError
from patron.dashboard.filters import Period, parse_filters

TODAY = date(2026, 11, 24)


def test_a_preset_is_the_complete_days_before_today_and_is_compared_with_the_days_before_it() -> None:
    filters = parse_filters({"period": "30d"}, today=TODAY)
    assert filters.window == Period(date(2026, 10, 25), date(2026, 11, 23)), "30 whole days, today left out"
    assert filters.window.days == 30 and not filters.partial
    assert filters.window.previous() == Period(date(2026, 9, 25), date(2026, 10, 24))
    assert filters.complete() == filters.window, "nothing to move back"
    assert parse_filters({}, today=TODAY).period == "90d", "the default period"


def test_including_today_gives_the_period_to_date_which_is_partial() -> None:
    filters = parse_filters({"period": "30d", "partial": "1"}, today=TODAY)
    assert filters.window == Period(date(2026, 10, 26), date(2026, 11, 24)) and filters.partial
    assert filters.complete() == Period(date(2026, 10, 25), date(2026, 11, 23)), (
        "alerts: the same 30 days, whole"
    )
    assert filters.query() == "period=30d&grain=month&partial=1"
    assert parse_filters(filters.params(), today=TODAY) == filters
    custom = parse_filters({"since": "2026-11-01", "until": "2026-11-30"}, today=TODAY)
    assert custom.partial, "a custom period that runs past today is not over either"
    assert custom.complete() == Period(date(2026, 10, 25), date(2026, 11, 23))
    assert not parse_filters({"since": "2026-11-01", "until": "2026-11-23"}, today=TODAY).partial


def test_a_week_or_month_is_partial_while_it_contains_today() -> None:
    filters = parse_filters({"period": "30d"}, today=TODAY)  # Tuesday 24 November 2026
    assert filters.period_is_partial(date(2026, 11, 1), "month")
    assert not filters.period_is_partial(date(2026, 10, 1), "month")
    assert filters.period_is_partial(date(2026, 11, 23), "week"), "Monday 23 – Sunday 29 November"
    assert not filters.period_is_partial(date(2026, 11, 16), "week")
    on_the_first = parse_filters({"period": "30d"}, today=date(2026, 12, 1))
    assert not on_the_first.period_is_partial(date(2026, 11, 1), "month"), "November ended yesterday"
    assert on_the_first.period_is_partial(date(2026, 12, 1), "month")
    # The trend runs in whole months up to the one the window ends in, counted no later than today.
    assert filters.trend_window() == Period(date(2025, 12, 1), TODAY)
    assert on_the_first.trend_window() == Period(date(2025, 12, 1), date(2026, 11, 30)), "December not begun"
    past = parse_filters({"since": "2025-01-10", "until": "2025-02-15"}, today=TODAY)
    assert past.trend_window() == Period(date(2024, 3, 1), date(2025, 2, 28)), "a past month is shown whole"
    weekly = parse_filters({"period": "365d", "grain": "week"}, today=TODAY)
    assert weekly.trend_window().since == date(2025, 11, 24) and weekly.trend_window().since.weekday() == 0, (
        "the window starts on Monday 24 November 2025: the first week is whole"
    )


def test_dates_alone_mean_a_custom_period_and_round_trip_through_the_url() -> None:
    filters = parse_filters({"since": "2025-01-01", "until": "2025-02-28", "segment": "vip"}, today=TODAY)
    assert filters.period == "custom" and filters.window.days == 59
    assert filters.where() == (("segment", "vip"),)
    assert parse_filters(filters.params(), today=TODAY) == filters
    assert filters.query(segment=None, band="detractor") == (
        "period=custom&since=2025-01-01&until=2025-02-28&grain=month&band=detractor"
    )


def test_the_trend_reaches_back_twelve_months_or_twenty_six_weeks() -> None:
    monthly = parse_filters({"period": "30d"}, today=TODAY)
    assert monthly.trend_since() == date(2025, 12, 1)
    weekly = parse_filters({"period": "30d", "grain": "week"}, today=TODAY)
    # 2026-11-24 is a Tuesday; 25 weeks before it is Tuesday 2026-06-02, whose week starts on Monday 1 June:
    # 26 weekly points, 1 June … 23 November.
    assert weekly.trend_since() == date(2026, 6, 1) and weekly.trend_since().weekday() == 0
    long = parse_filters({"since": "2024-01-01", "until": "2026-11-24"}, today=TODAY)
    assert long.trend_since() == date(2024, 1, 1), "never after the period starts"


@pytest.mark.parametrize(
    ("params", "code", "needle"),
    [
        ({"period": "fortnight"}, "dashboard.bad_period", "fortnight"),
        ({"period": "custom", "until": "2025-01-01"}, "dashboard.missing_date", "since"),
        ({"since": "2025-02-30", "until": "2025-03-01"}, "dashboard.bad_date", "2025-02-30"),
        ({"since": "2025-03-01", "until": "2025-01-01"}, "metrics.empty_period", "2025-03-01"),
        ({"since": "2015-01-01", "until": "2025-01-01"}, "dashboard.period_too_long", "1098"),
        ({"grain": "decade"}, "metrics.unknown_grain", "decade"),
        ({"partial": "maybe"}, "dashboard.bad_partial", "maybe"),
    ],
)
def test_bad_filters_say_which_and_why(params: dict[str, str], code: str, needle: str) -> None:
    with pytest.raises(PatronError) as caught:
        parse_filters(params, today=TODAY)
    assert caught.value.code == code
    assert needle in caught.value.message("en")
    assert caught.value.message("zh-Hant") != caught.value.message("en")
