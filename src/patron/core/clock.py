"""One place for "now" so times are always timezone-aware UTC and tests can pin them.

Every part of Patron that needs the time asks ``utcnow()`` (or ``today_in``), never ``datetime.now``:
tests, the demo and ``PATRON_NOW`` set the clock here, so no result depends on the day it is computed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def _system_now() -> datetime:
    return datetime.now(UTC)


class StartedAt:
    """A clock that starts at ``start`` and then runs at the real pace: time-proof, yet it still moves
    (token ages, retries and 'answered after sent' keep their order)."""

    def __init__(self, start: datetime) -> None:
        self.start = as_utc(start)
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._origin)


def _from_environment() -> Callable[[], datetime]:
    """``PATRON_NOW=2026-11-24T09:00:00+08:00`` starts the process clock there (demos, reproducible runs)."""
    pinned = os.environ.get("PATRON_NOW", "").strip()
    if not pinned:
        return _system_now
    return StartedAt(datetime.fromisoformat(pinned))


def utcnow() -> datetime:
    return _source()


def today_in(zone: str) -> date:
    """The workspace's calendar day now."""
    return utcnow().astimezone(ZoneInfo(zone)).date()


def set_clock(source: Callable[[], datetime] | None) -> None:
    """Install a clock (a callable returning aware datetimes); None restores the system clock."""
    global _source
    _source = source or _system_now


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Stop the clock at ``at`` for the duration of the block."""
    previous = _source
    moment = as_utc(at)
    set_clock(lambda: moment)
    try:
        yield
    finally:
        set_clock(previous)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes read back from SQLite are UTC by our storage rule; make that explicit."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_source: Callable[[], datetime] = _from_environment()
