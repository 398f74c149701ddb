"""The filters every dashboard page shares, read from and written back to the URL so a view can be shared."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from patron.core.errors import PatronError

#: Period presets: the last N days, ending today (in the workspace's time zone).
PRESET_DAYS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
DEFAULT_PERIOD = "90d"
TREND_GRAINS = ("week", "month")
#: How many trend periods the charts show, ending with the chosen period.
TREND_POINTS = {"week": 26, "month": 12}
LONGEST_PERIOD_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # inclusive

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one: what "change" is measured against."""
        return Period(self.since - timedelta(days=self.days), self.since - timedelta(days=1))


@dataclass(frozen=True)
class Filters:
    period: str
    window: Period
    segment: str | None = None
    survey: str | None = None
    grain: str = "month"

    def where(self) -> tuple[tuple[str, str], ...]:
        return (("segment", self.segment),) if self.segment else ()

    def trend_since(self) -> date:
        """The trend charts start far enough back to show a shape, and never after the period starts."""
        if self.grain == "week":
            start = self.window.until - timedelta(weeks=TREND_POINTS["week"] - 1)
            start -= timedelta(days=start.weekday())
        else:
            months = self.window.until.year * 12 + self.window.until.month - TREND_POINTS["month"]
            start = date(months // 12, months % 12 + 1, 1)
        return min(start, self.window.since)

    def params(self, **overrides: str | None) -> dict[str, str]:
        """The URL parameters for this view, with some changed; empty values are left out."""
        values: dict[str, str | None] = {
            "period": self.period,
            "since": self.window.since.isoformat() if self.period == "custom" else None,
            "until": self.window.until.isoformat() if self.period == "custom" else None,
            "segment": self.segment,
            "survey": self.survey,
            "grain": self.grain,
        }
        values |= overrides
        return {key: value for key, value in values.items() if value}

    def query(self, **overrides: str | None) -> str:
        return urlencode(self.params(**overrides))


def _day(params: Mapping[str, str], name: str) -> date:
    text = (params.get(name) or "").strip()
    if not text:
        raise PatronError("dashboard.missing_date", field=name)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PatronError("dashboard.bad_date", field=name, value=text[:40]) from None


def parse_filters(params: Mapping[str, str], *, today: date) -> Filters:
    """Filters from URL parameters. Anything wrong names the parameter and what was expected."""
    period = (params.get("period") or "").strip()
    if not period:
        period = "custom" if params.get("since") or params.get("until") else DEFAULT_PERIOD
    if period in PRESET_DAYS:
        window = Period(today - timedelta(days=PRESET_DAYS[period] - 1), today)
    elif period == "custom":
        window = Period(_day(params, "since"), _day(params, "until"))
        if window.since > window.until:
            raise PatronError(
                "metrics.empty_period", since=window.since.isoformat(), until=window.until.isoformat()
            )
        if window.days > LONGEST_PERIOD_DAYS:
            raise PatronError("dashboard.period_too_long", days=LONGEST_PERIOD_DAYS)
    else:
        raise PatronError("dashboard.bad_period", value=period[:40], choices=[*PRESET_DAYS, "custom"])
    grain = (params.get("grain") or "month").strip()
    if grain not in TREND_GRAINS:
        raise PatronError("metrics.unknown_grain", grain=grain[:40], choices=list(TREND_GRAINS))
    segment = (params.get("segment") or "").strip()[:64] or None
    survey = (params.get("survey") or "").strip()[:64] or None
    return Filters(period, window, segment, survey, grain)
