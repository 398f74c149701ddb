"""Group commit: units that wait together share a transaction; a failing unit loses only its own write; a
failed commit is retried unit by unit; nobody hears back before their write is committed."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from patron.core.errors import Conflict
from patron.core.groupcommit import GroupCommitter, _Afterwards, after_commit


@pytest.fixture
def probe_table(engine: Engine) -> Iterator[Engine]:
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS group_commit_probe"))
        connection.execute(
            text("CREATE TABLE group_commit_probe (label VARCHAR(20) PRIMARY KEY, session_id BIGINT)")
        )
    yield engine
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE group_commit_probe"))


_transactions = itertools.count(1)


@pytest.fixture
def committer(probe_table: Engine) -> Iterator[GroupCommitter]:
    writer = GroupCommitter(lambda: probe_table, writers_on_postgresql=1)  # the groups' shapes are tested
    yield writer
    writer.close()


def _insert(session: Session, *, label: str) -> int:
    """Insert a row; return a number naming the session's transaction (ids of freed sessions are reused)."""
    transaction_number: int = session.info.setdefault("number", next(_transactions))
    session.execute(
        text("INSERT INTO group_commit_probe (label, session_id) VALUES (:label, :session_id)"),
        {"label": label, "session_id": transaction_number},
    )
    return transaction_number


def _insert_then_refuse(session: Session, *, label: str) -> int:
    _insert(session, label=label)
    raise Conflict("survey.closed", key=label)


def _labels(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(text("SELECT label FROM group_commit_probe")))


def _hold_writer(committer: GroupCommitter, label: str = "first") -> tuple[threading.Event, Future[int]]:
    """Occupy the writer with one unit until the event is set, so the next units queue up as one group."""
    started, release = threading.Event(), threading.Event()

    def blocking(session: Session) -> int:
        started.set()
        release.wait(10)
        return _insert(session, label=label)

    first = committer.submit(blocking)
    assert started.wait(10)
    return release, first


def test_units_waiting_together_are_one_transaction(probe_table: Engine, committer: GroupCommitter) -> None:
    release, first = _hold_writer(committer)
    waiting = [committer.submit(_insert, label=f"unit-{i}") for i in range(5)]
    assert not any(f.done() for f in waiting), "nobody is answered before their commit"
    release.set()
    sessions = {f.result(10) for f in waiting}
    assert first.result(10) not in sessions
    assert len(sessions) == 1, "the five queued units were written in one transaction"
    assert _labels(probe_table) == {"first", *(f"unit-{i}" for i in range(5))}


def test_on_postgresql_a_second_group_is_written_while_the_first_waits(probe_table: Engine) -> None:
    """Two writers on PostgreSQL: a group held open does not hold up the next one, and a key the held group
    wrote is refused to the later group by the unique index, not stored twice. SQLite keeps one writer."""
    writer = GroupCommitter(lambda: probe_table, writers_on_postgresql=2)
    try:
        started, release = threading.Event(), threading.Event()

        def write_then_hold(session: Session) -> int:
            number = _insert(session, label="held")
            started.set()
            release.wait(10)
            return number

        first = writer.submit(write_then_hold)
        assert started.wait(10)
        beside = writer.submit(_insert, label="beside")
        if probe_table.dialect.name == "postgresql":
            assert beside.result(10) and not first.done()  # answered while the first is still open
            same_key = writer.submit(_insert, label="held")
            time.sleep(0.3)
            assert not same_key.done(), "the later group waits for the held one's key"
            release.set()
            assert first.result(10)
            assert same_key.exception(10) is not None
        else:
            time.sleep(0.3)
            assert not beside.done(), "one writer on SQLite"
            release.set()
            assert first.result(10) and beside.result(10)
    finally:
        writer.close()
    assert _labels(probe_table) == {"held", "beside"}


def test_a_failing_unit_loses_only_its_own_write(probe_table: Engine, committer: GroupCommitter) -> None:
    release, _ = _hold_writer(committer)
    good = committer.submit(_insert, label="kept")
    bad = committer.submit(_insert_then_refuse, label="refused")
    duplicate = committer.submit(_insert, label="kept")  # the primary key refuses it
    after = committer.submit(_insert, label="also-kept")
    release.set()
    assert good.result(10) == after.result(10)
    with pytest.raises(Conflict):
        bad.result(10)
    assert duplicate.exception(10) is not None
    assert _labels(probe_table) == {"first", "kept", "also-kept"}


def test_a_failed_commit_is_retried_unit_by_unit(probe_table: Engine, committer: GroupCommitter) -> None:
    failures = []

    def sabotage_commit(session: Session, *, label: str) -> int:
        def refuse(committing: Session) -> None:
            if committing.in_nested_transaction():
                return  # releasing the unit's own savepoint fires this too
            failures.append(label)
            raise RuntimeError("the disk is full")

        event.listen(session, "before_commit", refuse)
        return _insert(session, label=label)

    release, _ = _hold_writer(committer)
    a, b, c = (committer.submit(_insert, label="a"), committer.submit(sabotage_commit, label="b"),
               committer.submit(_insert, label="c"))  # fmt: skip
    release.set()
    assert a.result(10) != c.result(10), "a and c were written again, each in its own transaction"
    with pytest.raises(RuntimeError):
        b.result(10)
    assert failures == ["b", "b"], "the group's commit failed, then b's own"
    assert _labels(probe_table) == {"first", "a", "c"}


def _recording_set_wise(
    calls: list[list[str]], *, write_first: bool = False
) -> Callable[[Session, list[dict[str, str]]], list[object]]:
    """A set-wise form of ``_insert`` that records each group's labels, refuses "refused" and fails on "poison"
    (``write_first``: after writing a row, which the group's rollback must take back)."""

    def many(session: Session, requests: list[dict[str, str]]) -> list[object]:
        labels = [request["label"] for request in requests]
        calls.append(labels)
        if "poison" in labels:
            if write_first:
                _insert(session, label="written-then-failed")
            raise RuntimeError("the set-wise form failed")
        return [_insert(session, label=label) if label != "refused" else Conflict("survey.closed", key=label)
                for label in labels]  # fmt: skip

    return many


def test_work_with_a_set_wise_form_runs_together_and_falls_back_one_by_one(
    probe_table: Engine, committer: GroupCommitter
) -> None:
    calls: list[list[str]] = []
    committer.together(_insert, _recording_set_wise(calls))
    release, _ = _hold_writer(committer)
    first = [committer.submit(_insert, label=label) for label in ("x", "refused", "y")]
    release.set()
    assert first[0].result(10) == first[2].result(10)
    assert isinstance(first[1].exception(10), Conflict)
    release, held = _hold_writer(committer, "second")
    second = [committer.submit(_insert, label=label) for label in ("z", "poison")]
    release.set()
    assert held.result(10)
    assert second[0].result(10) and second[1].result(10), "run one by one after the set-wise form failed"
    assert calls == [["x", "refused", "y"], ["z", "poison"]]
    assert _labels(probe_table) == {"first", "second", "x", "y", "z", "poison"}


def test_a_caller_that_gave_up_is_not_written_and_the_writer_goes_on(
    probe_table: Engine, committer: GroupCommitter
) -> None:
    release, _ = _hold_writer(committer)
    abandoned = committer.submit(_insert, label="abandoned")
    kept = committer.submit(_insert, label="kept")
    assert abandoned.cancel()
    release.set()
    assert kept.result(10)
    assert committer.submit(_insert, label="later").result(10), "the writer thread is still there"
    assert _labels(probe_table) == {"first", "kept", "later"}


def test_a_set_wise_form_without_savepoint_that_fails_sends_its_whole_group_one_by_one(
    probe_table: Engine, committer: GroupCommitter
) -> None:
    def many(session: Session, requests: list[dict[str, str]]) -> list[int]:
        _insert(session, label="written-then-failed")  # rolled back with the group's transaction
        raise RuntimeError("the set-wise form failed")

    committer.together(_insert, many, savepoint=False)
    release, first = _hold_writer(committer)
    waiting = [committer.submit(_insert, label=f"unit-{i}") for i in range(3)]
    release.set()
    numbers = [future.result(10) for future in waiting]
    assert len(set(numbers)) == 3, "each unit in its own transaction"
    assert first.result(10) not in numbers
    assert _labels(probe_table) == {"first", "unit-0", "unit-1", "unit-2"}


def test_a_set_wise_form_for_single_units_too_and_a_lone_unit_it_fails_is_run_again_as_itself(
    probe_table: Engine, committer: GroupCommitter
) -> None:
    calls: list[list[str]] = []
    committer.together(_insert, _recording_set_wise(calls, write_first=True), savepoint=False, single=True)
    alone = committer.submit(_insert, label="alone").result(10)
    assert calls == [["alone"]], "a group of one unit went through the set-wise form"
    poisoned = committer.submit(_insert, label="poison").result(10)
    assert calls == [["alone"], ["poison"]]
    assert poisoned != alone, "run again as itself, in a transaction of its own"
    assert _labels(probe_table) == {"alone", "poison"}


# ------------------------------------------------------------------------------------------------ after commit
def _remember_after_commit(seen: list[tuple[list[str], bool]], committed: Engine) -> object:
    """A job that records its items and whether their units' rows were already committed when it ran."""

    def job(items: list[str]) -> None:
        seen.append((items, items[0] in _labels(committed)))

    return job


def test_after_commit_work_runs_once_the_group_is_committed_with_every_units_items(
    probe_table: Engine, committer: GroupCommitter
) -> None:
    seen: list[tuple[list[str], bool]] = []
    job = _remember_after_commit(seen, probe_table)

    def insert_and_defer(session: Session, *, label: str) -> int:
        number = _insert(session, label=label)
        after_commit(session, job, [label], inline=lambda s, items: seen.append((items, False)))  # type: ignore[arg-type]
        return number

    release, first = _hold_writer(committer)
    waiting = [committer.submit(insert_and_defer, label=f"unit-{i}") for i in range(4)]
    release.set()
    assert len({f.result(10) for f in waiting}) == 1, "one group"
    assert committer.settle(10)
    assert seen == [([f"unit-{i}" for i in range(4)], True)], (
        "one call with every unit's items, after the commit"
    )
    first.result(10)


def test_after_commit_outside_a_group_runs_at_once_in_the_callers_transaction(probe_table: Engine) -> None:
    ran: list[tuple[Session, list[str]]] = []
    with Session(probe_table) as session:
        after_commit(session, print, ["x"], inline=lambda s, items: ran.append((s, items)))
        assert ran == [(session, ["x"])]
        after_commit(session, print, [], inline=lambda s, items: ran.append((s, items)))
        assert len(ran) == 1, "nothing to do is not called"


def test_after_commit_work_waits_while_the_writer_is_busy_but_not_longer_than_its_delay() -> None:
    busy = threading.Event()
    busy.set()
    ran: list[list[int]] = []
    afterwards = _Afterwards(busy.is_set, max_delay=0.6, batch=3, max_waiting=100)
    try:
        afterwards.add({ran.append: [1, 2, 3, 4]})  # type: ignore[dict-item]
        time.sleep(0.3)
        assert ran == [], "while the writer is busy the work waits"
        time.sleep(0.6)
        assert ran == [[1, 2, 3], [4]], "but not beyond its delay, in batches"
        afterwards.add({ran.append: list(range(100, 201))})  # type: ignore[dict-item]
        time.sleep(0.3)
        assert ran[2:] == [[100, 101, 102]], (
            "nor while as many items as it may keep wait: down below that bound"
        )
        busy.clear()
        afterwards.add({ran.append: [5]})  # type: ignore[dict-item]
        time.sleep(0.5)
        assert [x for batch in ran[2:] for x in batch] == [*range(100, 201), 5], (
            "when the writer is idle, at once, in order"
        )
        busy.set()
        afterwards.add({ran.append: [6]})  # type: ignore[dict-item]
        assert afterwards.settle(0.5) and ran[-1] == [6], "and at once when someone waits for it to settle"
    finally:
        afterwards.close()


def test_failing_after_commit_work_is_logged_and_the_next_runs(
    probe_table: Engine, committer: GroupCommitter, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[list[str]] = []

    def failing(items: list[str]) -> None:
        raise RuntimeError("analysis broke")

    def insert_and_defer(session: Session, *, label: str) -> None:
        _insert(session, label=label)
        after_commit(session, failing if label == "bad" else done.append, [label], inline=lambda s, i: None)

    committer.submit(insert_and_defer, label="bad").result(10)
    assert committer.settle(10)
    committer.submit(insert_and_defer, label="good").result(10)
    assert committer.settle(10)
    assert done == [["good"]]
    assert "after-commit work on 1 items failed" in caplog.text


def _drop(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'dropped-probe'"
                )
            )
        )


def test_a_connection_the_server_dropped_costs_no_unit_its_write(
    probe_table: Engine, postgres_url: str
) -> None:
    """PostgreSQL: the committer's engine does not ping before use (``db.get_group_engine``), so a connection the
    server has dropped is first noticed by a group's work; the work is run again on a new connection."""
    if probe_table.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: SQLite has no connection to drop")
    unpinged = create_engine(
        postgres_url, pool_size=1, max_overflow=0, connect_args={"application_name": "dropped-probe"}
    )
    writer = GroupCommitter(lambda: unpinged, writers_on_postgresql=1)
    try:
        writer.submit(_insert, label="before").result(timeout=30)
        assert _drop(probe_table) == 1
        writer.submit(_insert, label="after").result(timeout=30)  # a group of one
        release, first = _hold_writer(writer, "held")
        group = [writer.submit(_insert, label=f"grouped-{i}") for i in range(3)]
        assert _drop(probe_table) == 1  # while the group's transaction is open
        release.set()
        assert first.result(timeout=30) and all(f.result(timeout=30) for f in group)
    finally:
        writer.close()
        unpinged.dispose()
    assert _labels(probe_table) == {"before", "after", "held", "grouped-0", "grouped-1", "grouped-2"}
