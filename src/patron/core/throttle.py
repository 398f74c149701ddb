"""Login throttling: failed logins lock an account and a client address for a growing while.

Per account (workspace and e-mail, known or not, so the answer does not tell which exist) after
``PATRON_LOGIN_FAILURES_PER_ACCOUNT`` failures (5), per client address after
``PATRON_LOGIN_FAILURES_PER_ADDRESS`` (20): the lock lasts 1 minute and doubles with each further failure, up
to 15 minutes; failures are forgotten an hour after the last one, and a successful login clears its account's.
While locked, an attempt is answered 429 with ``Retry-After`` and its password is not even checked. Kept in this
process's memory, like the public-link limiter: with several server processes each counts its own (the lock
then comes after at most that many times the failures). Times come from ``core.clock``, so tests move them.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from patron.core import clock

FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)


@dataclass
class _Failures:
    count: int
    last: datetime
    locked_until: datetime | None = None


class FailureLock:
    """Failures per key; ``limit`` of them lock the key for ``FIRST_LOCK``, doubled per further failure."""

    def __init__(
        self, limit: int, *, now: Callable[[], datetime] = clock.utcnow, max_keys: int = 100_000
    ) -> None:
        self.limit = limit
        self._now = now
        self._max_keys = max_keys
        self._keys: OrderedDict[Hashable, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def _current(self, key: Hashable, now: datetime) -> _Failures | None:
        entry = self._keys.get(key)
        if entry is not None and now - entry.last > FORGET_AFTER:
            del self._keys[key]
            return None
        return entry

    def retry_after(self, key: Hashable) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        if self.limit <= 0:
            return 0.0
        now = self._now()
        with self._lock:
            entry = self._current(key, now)
            if entry is None or entry.locked_until is None or entry.locked_until <= now:
                return 0.0
            return (entry.locked_until - now).total_seconds()

    def failed(self, key: Hashable) -> None:
        if self.limit <= 0:
            return
        now = self._now()
        with self._lock:
            entry = self._current(key, now) or _Failures(0, now)
            entry.count += 1
            entry.last = now
            if entry.count >= self.limit:
                entry.locked_until = now + min(
                    FIRST_LOCK * 2 ** min(entry.count - self.limit, 10), LONGEST_LOCK
                )
            self._keys[key] = entry
            self._keys.move_to_end(key)
            while len(self._keys) > self._max_keys:
                self._keys.popitem(last=False)

    def clear(self, key: Hashable) -> None:
        with self._lock:
            self._keys.pop(key, None)


class LoginThrottle:
    def __init__(
        self, *, per_account: int, per_address: int, now: Callable[[], datetime] = clock.utcnow
    ) -> None:
        self.accounts = FailureLock(per_account, now=now)
        self.addresses = FailureLock(per_address, now=now)

    @staticmethod
    def account(workspace: str, email: str) -> tuple[str, str]:
        return workspace.strip().lower(), email.strip().lower()

    def retry_after(self, account: tuple[str, str], address: str) -> int:
        """Whole seconds to wait before this account may try from this address (0: it may try now)."""
        wait = max(self.accounts.retry_after(account), self.addresses.retry_after(address))
        return math.ceil(wait)

    def failed(self, account: tuple[str, str], address: str) -> None:
        self.accounts.failed(account)
        self.addresses.failed(address)

    def succeeded(self, account: tuple[str, str]) -> None:
        self.accounts.clear(account)
