"""Dashboard filters: presets, custom periods, the previous period, and bad input named precisely."""

from __future__ import annotations

from datetime import date

import pytest

from patron.core.errors import PatronError
from patron.dashboard.filters import Period, parse_filters

TODAY = date(2026, 11, 24)


def test_a_preset_ends_today_and_is_compared_with_the_days_before_it() -> None:
    filters = parse_filters({"period": "30d"}, today=TODAY)
    assert filters.window == Period(date(2026, 10, 26), date(2026, 11, 24))
    assert filters.window.days == 30
    assert filters.window.previous() == Period(date(2026, 9, 26), date(2026, 10, 25))
    assert parse_filters({}, today=TODAY).period == "90d", "the default period"


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
    ],
)
def test_bad_filters_say_which_and_why(params: dict[str, str], code: str, needle: str) -> None:
    with pytest.raises(PatronError) as caught:
        parse_filters(params, today=TODAY)
    assert caught.value.code == code
    assert needle in caught.value.message("en")
    assert caught.value.message("zh-Hant") != caught.value.message("en")
