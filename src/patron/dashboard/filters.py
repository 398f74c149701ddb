"""The filters every dashboard page shares, read from and written back to the URL so a view can be shared.

Today is not over, and neither is its week or month: a preset period is the last N *complete* days unless
``partial=1`` ("include today") asks for the period to date. A period that reaches today is partial: it is
marked, left out of trends and alerts by default, and never compared with a complete one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from patron.core.errors import PatronError

#: Period presets: the last N complete days, ending yesterday (in the workspace's time zone); with
#: ``partial=1`` the last N days ending today.
PRESET_DAYS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
DEFAULT_PERIOD = "90d"
TREND_GRAINS = ("week", "month")
#: How many trend periods the charts show, ending with the chosen period.
TREND_POINTS = {"week": 26, "month": 12}
LONGEST_PERIOD_DAYS = 3 * 366
#: What the "include today" box may send.
YES, NO = ("1", "on", "true"), ("", "0", "off", "false")


def grain_start(day: date, grain: str) -> date:
    """The first day of the week (Monday) or month that ``day`` falls in."""
    return day - timedelta(days=day.weekday()) if grain == "week" else day.replace(day=1)


def grain_end(start: date, grain: str) -> date:
    """The last day of the week or month that starts on ``start``."""
    if grain == "week":
        return start + timedelta(days=6)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return following - timedelta(days=1)


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

    def reaches(self, today: date) -> bool:
        """Whether the period is still under way (or not begun): its numbers are to date, not final."""
        return self.until >= today


@dataclass(frozen=True)
class Filters:
    period: str
    window: Period
    #: The workspace's calendar day when the filters were read: what "partial" is measured against.
    today: date
    segment: str | None = None
    survey: str | None = None
    grain: str = "month"
    #: Show the period to date (today, the unfinished week or month) instead of leaving it out.
    include_partial: bool = False

    @property
    def partial(self) -> bool:
        """The chosen window reaches today: its numbers are to date and are compared with nothing."""
        return self.window.reaches(self.today)

    @property
    def listing(self) -> Period:
        """What lists of responses show (the Responses page, detractors waiting): a preset period runs to today
        even when its numbers stop at yesterday, so this morning's detractor is never hidden. A list compares
        nothing, so it needs no complete period."""
        if self.period in PRESET_DAYS and self.window.until < self.today:
            return Period(self.window.since, self.today)
        return self.window

    def complete(self) -> Period:
        """The window moved back to end yesterday (same length) when it reaches today: what alerts compare."""
        if not self.partial:
            return self.window
        shift = self.window.until - (self.today - timedelta(days=1))
        return Period(self.window.since - shift, self.window.until - shift)

    def period_is_partial(self, start: date, grain: str | None = None) -> bool:
        """Whether the week or month starting on ``start`` is not over yet (it contains today or is later)."""
        return grain_end(start, grain or self.grain) >= self.today

    def where(self) -> tuple[tuple[str, str], ...]:
        return (("segment", self.segment),) if self.segment else ()

    def trend_since(self) -> date:
        """The trend charts start far enough back to show a shape, and never after the period starts; always
        on the first day of a week or month, so the first point is a whole one."""
        if self.grain == "week":
            start = self.window.until - timedelta(weeks=TREND_POINTS["week"] - 1)
        else:
            months = self.window.until.year * 12 + self.window.until.month - TREND_POINTS["month"]
            start = date(months // 12, months % 12 + 1, 1)
        return grain_start(min(start, self.window.since), self.grain)

    def trend_window(self) -> Period:
        """Whole weeks or months up to the one the window ends in, counted no later than today: only the
        period still under way can be partial, and ``period_is_partial`` says which."""
        last = grain_end(grain_start(self.window.until, self.grain), self.grain)
        return Period(self.trend_since(), min(last, self.today))

    def trend_months(self) -> list[date]:
        """The first days of the months of the monthly trend window; the one under way only when partial
        periods are asked for."""
        monthly = replace(self, grain="month")
        window = monthly.trend_window()
        months: list[date] = []
        month = date(window.since.year, window.since.month, 1)
        while month <= window.until:
            if self.include_partial or not monthly.period_is_partial(month):
                months.append(month)
            month = grain_end(month, "month") + timedelta(days=1)
        return months

    def params(self, **overrides: str | None) -> dict[str, str]:
        """The URL parameters for this view, with some changed; empty values are left out."""
        values: dict[str, str | None] = {
            "period": self.period,
            "since": self.window.since.isoformat() if self.period == "custom" else None,
            "until": self.window.until.isoformat() if self.period == "custom" else None,
            "segment": self.segment,
            "survey": self.survey,
            "grain": self.grain,
            "partial": "1" if self.include_partial else None,
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
    raw_partial = (params.get("partial") or "").strip().lower()
    if raw_partial not in YES + NO:
        raise PatronError("dashboard.bad_partial", value=raw_partial[:20])
    include_partial = raw_partial in YES
    if period in PRESET_DAYS:
        last = today if include_partial else today - timedelta(days=1)
        window = Period(last - timedelta(days=PRESET_DAYS[period] - 1), last)
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
    return Filters(period, window, today, segment, survey, grain, include_partial)
