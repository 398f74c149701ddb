"""Concurrent redemptions, retries and expiry runs from several processes, each with its own engine, against the
real database: the balance never goes negative, no entry is lost or doubled, and the check finds nothing."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from patron.core import service as core_service
from patron.core.db import make_engine, transaction
from patron.core.errors import PatronError
from patron.core.groupcommit import GroupCommitter
from patron.loyalty import grouped, service
from patron.loyalty.models import Entry
from tests.loyalty.conftest import Program

PROCESSES = 4
pytestmark = pytest.mark.slow  # each process starts Python and imports Patron


def _redeemer(url: str, slug: str, worker: int, attempts: int, points: int, key: str | None,
              barrier: Any, results: Any) -> None:  # fmt: skip
    engine = make_engine(url)
    done: list[tuple[str, int]] = []
    barrier.wait()
    for attempt in range(attempts):
        try:
            with transaction(engine) as session:
                ws = core_service.get_workspace(session, slug)
                result = service.redeem(
                    session,
                    workspace=ws,
                    customer_external_id="C001",
                    points=points,
                    reason="race",
                    idempotency_key=key or f"w{worker}-{attempt}",
                )
            done.append(("replayed" if result.replayed else "ok", result.balance.points))
        except PatronError as error:
            done.append((error.code, -1))
    engine.dispose()
    results.put(done)


def _grouped_redeemer(url: str, slug: str, worker: int, attempts: int, points: int, key: str | None,
                      barrier: Any, results: Any) -> None:  # fmt: skip
    """Like ``_redeemer``, but every attempt handed at once to the process's group committer (as the API does):
    they are written together, set-wise (``loyalty.grouped``), racing the other processes' groups."""
    engine = make_engine(url)
    committer = GroupCommitter(lambda: engine)
    committer.together(grouped.operation, grouped.operations, savepoint=False, single=True)  # as the API
    with transaction(engine) as session:
        ws = core_service.get_workspace(session, slug)
        session.expunge(ws)
    barrier.wait()
    futures = [
        committer.submit(
            grouped.operation,
            workspace=ws,
            kind=grouped.REDEEM,
            customer_external_id="C001",
            points=points,
            reason="race",
            idempotency_key=key or f"w{worker}-{attempt}",
        )
        for attempt in range(attempts)
    ]
    done: list[tuple[str, int]] = []
    for future in futures:
        try:
            result = future.result(timeout=120)
            done.append(("replayed" if result.replayed else "ok", result.balance.points))
        except PatronError as error:
            done.append((error.code, -1))
    committer.close()
    engine.dispose()
    results.put(done)


def _expirer(url: str, slug: str, barrier: Any, results: Any) -> None:
    engine = make_engine(url)
    barrier.wait()
    with transaction(engine) as session:
        ws = core_service.get_workspace(session, slug)
        report = service.expire_due(session, workspace_id=ws.id, now=datetime(2028, 1, 1, tzinfo=UTC))
    engine.dispose()
    results.put([("expired", report.points)])


def _race(target: Any, args: tuple[Any, ...]) -> list[tuple[str, int]]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    workers = [context.Process(target=target, args=(*args(i), barrier, results)) for i in range(PROCESSES)]
    for worker in workers:
        worker.start()
    outcomes = [item for _ in workers for item in results.get(timeout=300)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return outcomes


def _url(program: Program) -> str:
    return program.engine.url.render_as_string(hide_password=False)


def _setup(program: Program, points: int) -> None:
    with transaction(program.engine) as session:
        service.adjust(session, workspace=program.workspace, customer_external_id="C001", points=points,
                       reason="start", idempotency_key="start", actor="tests")  # fmt: skip


def _entries(program: Program, kind: str) -> list[int]:
    with transaction(program.engine) as session:
        report = service.check(session, workspace_id=program.workspace.id)
        assert report.differences == []
        return list(
            session.scalars(
                select(Entry.points).where(Entry.workspace_id == program.workspace.id, Entry.kind == kind)
            )
        )


@pytest.mark.parametrize("redeemer", [_redeemer, _grouped_redeemer], ids=["alone", "grouped"])
def test_concurrent_redemptions_from_several_processes_never_overdraw(
    program: Program, redeemer: Any
) -> None:
    _setup(program, 100)
    # 4 processes × 8 redemptions of 7 points ask for 224; 100 covers 14 of them, leaving 2.
    outcomes = _race(redeemer, lambda i: (_url(program), program.workspace.slug, i, 8, 7, None))  # type: ignore[arg-type]
    codes = [code for code, _ in outcomes]
    assert codes.count("ok") == 14 and codes.count("loyalty.insufficient_points") == 18
    assert all(balance >= 0 for code, balance in outcomes if code == "ok")
    assert _entries(program, "redeem") == [-7] * 14
    with transaction(program.engine) as session:
        read = service.balance(session, workspace_id=program.workspace.id, customer_external_id="C001")
    assert (read.points, read.debt) == (2, 0)


@pytest.mark.parametrize("redeemer", [_redeemer, _grouped_redeemer], ids=["alone", "grouped"])
def test_the_same_request_retried_at_once_from_several_processes_is_recorded_once(
    program: Program, redeemer: Any
) -> None:
    _setup(program, 100)
    outcomes = _race(redeemer, lambda i: (_url(program), program.workspace.slug, i, 2, 5, "same-key"))  # type: ignore[arg-type]
    assert sorted(code for code, _ in outcomes) == ["ok"] + ["replayed"] * 7
    assert {balance for _, balance in outcomes} == {95}
    assert _entries(program, "redeem") == [-5]


def test_expiry_jobs_running_at_once_expire_each_point_once(program: Program) -> None:
    _setup(program, 100)  # earned now (24 Nov 2026), expiring 24 Nov 2027
    _setup_other = [("C002", 30), ("C003", 12)]
    with transaction(program.engine) as session:
        for customer, points in _setup_other:
            service.adjust(session, workspace=program.workspace, customer_external_id=customer, points=points,
                           reason="start", idempotency_key=f"start-{customer}", actor="tests")  # fmt: skip
    outcomes = _race(_expirer, lambda i: (_url(program), program.workspace.slug))  # type: ignore[arg-type]
    assert sum(points for _, points in outcomes) == 142
    assert sorted(_entries(program, "expire")) == [-100, -30, -12]
    with transaction(program.engine) as session:
        total = session.scalar(
            select(func.sum(Entry.points)).where(Entry.workspace_id == program.workspace.id)
        )
    assert total == 0
