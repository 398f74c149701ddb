"""A sliding-window limit kept in this process's memory (no extra server to run).

Used where an anonymous visitor can make the product write rows: every new browser on a public survey link
becomes an invitation, which also counts in the response rate; a script reloading the link could have
filled the table and sunk the rate. Per process: with several server processes the limit is per process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable


class SlidingWindowLimiter:
    """At most ``limit`` events per key in any ``window_seconds``; remembers at most ``max_keys`` keys (the
    least recently seen are forgotten first, so memory stays bounded under a flood of new keys)."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._events: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> bool:
        """Count one event for ``key`` and say whether it is within the limit (a refused one is not counted)."""
        if self.limit <= 0:
            return True  # 0 turns the limit off
        now = self._clock()
        with self._lock:
            events = self._events.pop(key, None) or deque()
            while events and events[0] <= now - self.window_seconds:
                events.popleft()
            allowed = len(events) < self.limit
            if allowed:
                events.append(now)
            self._events[key] = events
            while len(self._events) > self._max_keys:
                self._events.popitem(last=False)
            return allowed
