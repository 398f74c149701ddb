"""Small in-process caches with a time to live, for facts read on every API call that rarely change.

``recent_keys``: recently verified API keys, so a busy integrator's every request does not cost a database
transaction. Revoking a key clears this process's cache at once; other server processes notice within
``KEY_TTL_SECONDS`` (2 s: at most one database check per key, process and 2 s). Only digests are held, never
keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

TTL_SECONDS = 30.0
KEY_TTL_SECONDS = 2.0
T = TypeVar("T")


class TtlCache(Generic[T]):
    def __init__(
        self, ttl: float = TTL_SECONDS, limit: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.limit = ttl, limit
        #: Seconds from any origin; tests replace it to move time.
        self.clock = clock
        self._entries: dict[str, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def recall(self, key: str) -> T | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def remember(self, key: str, value: T) -> None:
        with self._lock:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            self._entries[key] = (self.clock() + self.ttl, value)

    def forget_all(self) -> None:
        with self._lock:
            self._entries.clear()


recent_keys: TtlCache[object] = TtlCache(ttl=KEY_TTL_SECONDS)
