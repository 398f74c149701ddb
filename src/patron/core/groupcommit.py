"""Group commit: many small units of work from concurrent requests written in one transaction.

Each request used to pay for its own transaction: a worker-thread hop, a session, BEGIN, the writer lock on
SQLite, COMMIT. Under load those were a large share of a survey response's cost (docs/benchmarks.md). Here
one writer thread takes every unit of work waiting when it becomes free, runs each in a savepoint of one
transaction and commits once; nobody's reply is sent before the commit that holds their write. At low load a
group is one unit, so latency does not grow; under load groups grow by themselves. On PostgreSQL several
writer threads (``PATRON_GROUP_COMMIT_WRITERS``, 2) each take a group, so one group's Python work overlaps
another's round trips and commit; they are separate transactions, as two server processes' would be.

A unit that raises has its savepoint rolled back and gets its exception; the others are unaffected. If the
commit itself fails, every unit of the group is run again alone, so one bad unit cannot fail the others.

A kind of work may also have a form that does many units at once (``together``), set-wise: one statement per
kind of row for the whole group instead of a few per unit. It returns, for each unit, its result or the
exception it would have raised; if it raises itself, its units are run one by one instead.

Work that need not hold up the reply (a survey comment's analysis) is handed to ``after_commit``: inside a group
it runs once the group is committed and its replies are sent, on a thread of its own, many groups' items at once,
and while the writer is busy it waits for a quiet moment (at most ``max_delay`` seconds). Anywhere else it runs at
once, in the caller's transaction. It must be safe to lose: a crash between the commit and the work leaves what
a catch-up finds again (``feedback.service.catch_up``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from patron.core.db import get_group_engine, transaction
from patron.core.settings import get_settings

log = logging.getLogger("patron.groupcommit")

#: ``session.info`` key of a group's work for after its commit: {job: [item, …]}.
_AFTER_COMMIT = "patron.after_commit"

Job = Callable[[list[Any]], object]


def after_commit(
    session: Session, job: Job, items: Sequence[Any], *, inline: Callable[[Session, list[Any]], object]
) -> None:
    """``job(items)`` after the group holding ``session`` is committed (in its own transactions), or
    ``inline(session, items)`` now when ``session`` is not a group's."""
    if not items:
        return
    waiting: dict[Job, list[Any]] | None = session.info.get(_AFTER_COMMIT)
    if waiting is None:
        inline(session, list(items))
    else:
        waiting.setdefault(job, []).extend(items)


class _Afterwards:
    """The thread that runs groups' after-commit work, many groups' items at once (up to ``batch``). While
    ``busy()`` it waits, for at most ``max_delay`` seconds from the oldest item and while fewer than
    ``max_waiting`` items wait: under a burst the writer keeps the processor, and the work catches up in the next
    quiet moment. Under load that never pauses the work runs beside the writer once either bound is reached."""

    def __init__(self, busy: Callable[[], bool], max_delay: float, batch: int, max_waiting: int) -> None:
        self._busy = busy
        self._max_delay = max_delay
        self._batch = batch
        self._max_waiting = max_waiting
        self._size = 0
        self._hurry = False
        self._waiting: dict[Job, list[Any]] = {}
        self._oldest = 0.0
        self._running = False
        self._closing = False
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, work: dict[Job, list[Any]]) -> None:
        if not any(work.values()):
            return
        with self._ready:
            if not self._waiting:
                self._oldest = time.monotonic()
            for job, items in work.items():
                self._waiting.setdefault(job, []).extend(items)
                self._size += len(items)
            if self._thread is None or not self._thread.is_alive():
                self._closing = False
                self._thread = threading.Thread(target=self._run_forever, name="after-commit", daemon=True)
                self._thread.start()
            self._ready.notify_all()

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is waiting or running (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._ready:
            self._hurry = True
            while self._waiting or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._ready.notify_all()
                self._ready.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        with self._ready:
            self._closing = True
            thread, self._thread = self._thread, None
            self._ready.notify_all()
        if thread is not None:
            thread.join()

    def _run_forever(self) -> None:
        while True:
            with self._ready:
                while not self._waiting and not self._closing:
                    self._ready.wait()
                if not self._waiting:
                    return
                oldest = self._oldest
            while (
                not (self._closing or self._hurry)
                and self._busy()
                and time.monotonic() - oldest < self._max_delay
                and self._size < self._max_waiting
            ):
                time.sleep(0.02)
            with self._ready:
                job = next(iter(self._waiting))
                items = self._waiting[job][: self._batch]
                rest = self._waiting[job][self._batch :]
                if rest:
                    self._waiting[job] = rest
                else:
                    del self._waiting[job]
                self._size -= len(items)
                self._running = True
            try:
                job(items)
            except Exception:  # lost work is found again by a catch-up; the thread must go on
                log.exception("after-commit work on %d items failed", len(items))
            finally:
                with self._ready:
                    self._running = False
                    if not self._waiting:
                        self._oldest = 0.0
                        self._hurry = False
                    elif not rest:
                        self._oldest = time.monotonic()
                    self._ready.notify_all()


def _lost_connection(error: Exception) -> bool:
    """The database connection broke (the server restarted or dropped it; the committer's engine does not ping
    before use): the pool has replaced it, and the work is worth one more try."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


@dataclass
class _Unit:
    work: Callable[..., Any]
    kwargs: dict[str, Any]
    future: Future[Any] = field(default_factory=Future)


class GroupCommitter:
    """Runs ``work(session, **kwargs)`` for callers on any thread; see the module docstring."""

    def __init__(
        self,
        engine: Callable[[], Engine] = get_group_engine,
        max_group: int = 200,
        *,
        writers_on_postgresql: int | None = None,
        after_commit_delay: float = 60.0,
        after_commit_batch: int = 1000,
        after_commit_waiting: int = 100_000,
    ) -> None:
        self._engine = engine
        self._max_group = max_group
        self._writers_on_postgresql = writers_on_postgresql
        self._writing = 0
        self._last_write = 0.0
        self._afterwards = _Afterwards(
            self._busy, after_commit_delay, after_commit_batch, after_commit_waiting
        )
        self._together: dict[Callable[..., Any], Callable[[Session, list[dict[str, Any]]], list[Any]]] = {}
        self._bare: set[Callable[..., Any]] = set()
        self._single: set[Callable[..., Any]] = set()
        self._waiting: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def submit(self, work: Callable[..., Any], /, **kwargs: Any) -> Future[Any]:
        """Queue one unit of work; the future holds its result (or exception) once its group is committed."""
        unit = _Unit(work, kwargs)
        self._ensure_writer()
        self._waiting.put(unit)
        return unit.future

    def together(
        self,
        work: Callable[..., Any],
        many: Callable[[Session, list[dict[str, Any]]], list[Any]],
        *,
        savepoint: bool = True,
        single: bool = False,
    ) -> None:
        """When two or more units of ``work`` are in a group, run them as ``many(session, [kwargs, …])``.

        Without ``savepoint`` (two round trips fewer), ``many`` failing fails its whole group, whose units are
        then each run alone; fit for a ``many`` that writes only once it cannot fail any more but for the
        database (``loyalty.grouped``). With ``single``, a group's only unit of ``work`` goes through ``many``
        too, for a ``many`` cheaper than ``work`` even for one unit (``loyalty.grouped``: two round trips
        against about eight and a savepoint); with two writers on PostgreSQL, the second often takes a group
        of one."""
        self._together[work] = many
        if not savepoint:
            self._bare.add(work)
        if single:
            self._single.add(work)

    def close(self) -> None:
        """Finish what is queued and its after-commit work, then stop both threads."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._waiting.put(None)
        for thread in threads:
            thread.join()
        self._afterwards.close()

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until the after-commit work of every committed group is done; False on timeout."""
        return self._afterwards.settle(timeout)

    #: The writer counts as busy until it has had nothing to write for this long (the gap between two groups
    #: under load is far shorter).
    QUIET_SECONDS = 0.25

    def _busy(self) -> bool:
        return (
            self._writing > 0
            or not self._waiting.empty()
            or time.monotonic() - self._last_write < self.QUIET_SECONDS
        )

    def _ensure_writer(self) -> None:
        """One writer on SQLite, whose writers queue for one lock anyway; on PostgreSQL several, so that one
        group's Python work overlaps another's wait for the server (the round trips and the commit). Two
        groups in flight are two transactions, as with two server processes: a client key used in both is
        refused by the unique index to the later one, whose units are then run again alone."""
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            if self._threads:
                return
            writers = 1
            if self._engine().dialect.name == "postgresql":
                writers = self._writers_on_postgresql or get_settings().group_commit_writers
            for number in range(writers):
                thread = threading.Thread(
                    target=self._write_forever, name=f"group-commit-{number}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _write_forever(self) -> None:
        while True:
            first = self._waiting.get()
            if first is None:
                return
            group = [first]
            closing = False
            while len(group) < self._max_group:
                try:
                    unit = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if unit is None:  # closing: write this group, then stop
                    closing = True
                    break
                group.append(unit)
            # A caller that gave up (a request cancelled when its client went away) is not written; the
            # others can no longer be cancelled, so settling them below cannot fail.
            with self._lock:
                self._writing += 1
            try:
                self._write([unit for unit in group if unit.future.set_running_or_notify_cancel()])
            finally:
                with self._lock:
                    self._writing -= 1
                self._last_write = time.monotonic()
            if closing:
                return

    def _write(self, group: list[_Unit]) -> None:
        if not group:
            return
        outcomes: list[tuple[_Unit, bool, Any]] = []
        later: dict[Job, list[Any]] = {}
        try:
            with transaction(self._engine()) as session:
                session.info[_AFTER_COMMIT] = later
                alike: dict[Callable[..., Any], list[_Unit]] = {}
                for unit in group:
                    alike.setdefault(unit.work, []).append(unit)
                for work, units in alike.items():
                    many = self._together.get(work)
                    if many is not None and len(units) == 1 and work not in self._single:
                        many = None
                    if many is not None and work in self._bare:
                        results = many(session, [unit.kwargs for unit in units])
                        outcomes.extend(
                            (unit, not isinstance(result, Exception), result)
                            for unit, result in zip(units, results, strict=True)
                        )
                    elif many is not None:
                        outcomes.extend(self._run_together(session, many, units))
                    else:
                        outcomes.extend((unit, *self._run_in_savepoint(session, unit)) for unit in units)
        except Exception as error:
            # A unit that went through ``many`` alone (``single``) is run again as itself, as in a larger group.
            if len(group) == 1 and not _lost_connection(error) and group[0].work not in self._single:
                self._settle(group[0], False, error)
                return
            log.warning("a group of %d units failed to commit; running each alone", len(group), exc_info=True)
            for unit in group:
                self._write_alone(unit)
            return
        # Queued before anyone hears back, so that a caller who has its reply and then settles (tests, shutdown)
        # finds its after-commit work waiting rather than not yet added.
        self._afterwards.add(later)
        for unit, ok, value in outcomes:
            self._settle(unit, ok, value)

    def _write_alone(self, unit: _Unit) -> None:
        try:
            with transaction(self._engine()) as session:
                result = unit.work(session, **unit.kwargs)
        except Exception as error:
            self._settle(unit, False, error)
        else:
            self._settle(unit, True, result)

    def _run_together(
        self, session: Session, many: Callable[[Session, list[dict[str, Any]]], list[Any]], units: list[_Unit]
    ) -> list[tuple[_Unit, bool, Any]]:
        try:
            with session.begin_nested():
                results = many(session, [unit.kwargs for unit in units])
        except Exception as error:
            if _lost_connection(error):
                raise  # the whole group is run again (``_write``)
            log.warning("%d units failed together; running each alone", len(units), exc_info=True)
            return [(unit, *self._run_in_savepoint(session, unit)) for unit in units]
        return [
            (unit, not isinstance(result, Exception), result)
            for unit, result in zip(units, results, strict=True)
        ]

    @staticmethod
    def _run_in_savepoint(session: Session, unit: _Unit) -> tuple[bool, Any]:
        try:
            with session.begin_nested():
                return True, unit.work(session, **unit.kwargs)
        except Exception as error:
            if _lost_connection(error):
                raise  # not the unit's fault: the whole group is run again (``_write``)
            return False, error

    @staticmethod
    def _settle(unit: _Unit, ok: bool, value: Any) -> None:
        if ok:
            unit.future.set_result(value)
        else:
            unit.future.set_exception(value)
