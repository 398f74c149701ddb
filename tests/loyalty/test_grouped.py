"""Redemptions and adjustments written many at a time (``loyalty.grouped.operations``) give every operation the
outcome it gets one at a time, and leave the same entries, lots, moves and balances: random sequences run both
ways in two fresh workspaces and are compared row by row and reply by reply."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core import clock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.groupcommit import GroupCommitter
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.loyalty import grouped, service
from patron.loyalty.models import Entry, ExpiryPolicy, Lot, LotMove, Member
from patron.loyalty.schemas import OperationRead, ProgramUpdate
from tests.loyalty.conftest import make_program

START = datetime(2026, 11, 24, 2, tzinfo=UTC)
Chunk = tuple[datetime, list[dict[str, Any]]]


def _sequence(rng: random.Random, workspace: Workspace, n: int, customers: list[str]) -> list[Chunk]:
    """``n`` operations in groups of 1–12, each group at one moment; days pass between groups so that lots (one
    month's expiry) fall due. Keys are sometimes used again: the same request (a retry) or another one."""
    requests: list[dict[str, Any]] = []
    for index in range(n):
        kind = rng.choice([grouped.REDEEM, grouped.ADJUST])
        if rng.random() < 0.04:
            points = rng.choice([-3, 0]) if kind == grouped.REDEEM else 0
        elif kind == grouped.REDEEM:
            points = rng.randint(1, 90)
        else:
            points = rng.choice([*range(-70, 0), *range(1, 90), *range(1, 90)])
        request = {"kind": kind, "customer_external_id": rng.choice(customers), "points": points,
                   "reason": rng.choice(["voucher", "goodwill"]), "idempotency_key": f"k{index}"}  # fmt: skip
        if requests and rng.random() < 0.25:
            earlier = rng.choice(requests)
            if rng.random() < 0.6:
                request = dict(earlier)  # a retry
            else:
                request["idempotency_key"] = earlier["idempotency_key"]
        requests.append(request)
    chunks: list[Chunk] = []
    now, at = START, 0
    while at < n:
        size = rng.randint(1, 12)
        now += timedelta(days=rng.choice([0, 0, 1, 3, 12, 35]), minutes=rng.randint(0, 600))
        chunks.append(
            (now, [{**r, "workspace": workspace, "actor": "tests"} for r in requests[at : at + size]])
        )
        at += size
    return chunks


def _fresh(engine: Engine, folder: Path) -> Workspace:
    program = make_program(engine, folder, ExpiryPolicy.MONTHS)
    workspace = program.workspace
    with transaction(engine) as session:
        service.set_program(session, workspace=workspace, data=ProgramUpdate(expiry_months=1))
        session.add(Customer(workspace_id=workspace.id, external_id="C005"))  # never enrolled in these tests
    with clock.frozen(START - timedelta(days=20)), transaction(engine) as session:
        for customer, points in (("C001", 100), ("C002", 30), ("C003", 5)):
            service.adjust(session, workspace=workspace, customer_external_id=customer, points=points,
                           reason="start", idempotency_key=f"start-{customer}", actor="tests")  # fmt: skip
    return workspace


def _one_at_a_time(engine: Engine, chunks: list[Chunk]) -> list[OperationRead | PatronError]:
    outcomes: list[OperationRead | PatronError] = []
    for now, requests in chunks:
        with clock.frozen(now):
            for request in requests:
                try:
                    with transaction(engine) as session:
                        outcomes.append(grouped.operation(session, **request))
                except PatronError as error:
                    outcomes.append(error)
    return outcomes


def _many_at_once(engine: Engine, chunks: list[Chunk]) -> list[OperationRead | PatronError]:
    outcomes: list[OperationRead | PatronError] = []
    for now, requests in chunks:
        with clock.frozen(now), transaction(engine) as session, session.begin_nested():
            outcomes.extend(grouped.operations(session, requests))
    return outcomes


def _ledger(engine: Engine, workspace_id: int) -> dict[str, Any]:
    """Every entry, lot, move and member of the workspace, ids replaced by their rank (the two workspaces' ids
    differ, their order must not)."""
    with transaction(engine) as session:
        assert service.check(session, workspace_id=workspace_id).differences == []
        customer = dict(
            session.execute(
                select(Member.id, Customer.external_id)
                .join(Customer, Customer.id == Member.customer_id)
                .where(Member.workspace_id == workspace_id)
            ).all()
        )
        entries = session.scalars(
            select(Entry).where(Entry.workspace_id == workspace_id).order_by(Entry.id)
        ).all()
        lots = session.scalars(select(Lot).where(Lot.workspace_id == workspace_id).order_by(Lot.id)).all()
        entry_rank = {e.id: rank for rank, e in enumerate(entries)}
        lot_rank = {lot.id: rank for rank, lot in enumerate(lots)}
        moves = session.scalars(select(LotMove).where(LotMove.workspace_id == workspace_id)).all()
        members = session.scalars(select(Member).where(Member.workspace_id == workspace_id)).all()
        return {
            "entries": [
                (
                    customer[e.member_id],
                    e.kind,
                    e.points,
                    e.debt_delta,
                    e.reason,
                    e.source,
                    e.source_ref,
                    _key(e.idempotency_key, lot_rank),
                    e.created_at,
                    e.order_id,
                    e.line_no,
                    e.rule_version,
                )
                for e in entries
            ],
            "lots": [
                (
                    customer[lot.member_id],
                    entry_rank[lot.entry_id],
                    lot.earned_at,
                    lot.expires_at,
                    lot.points,
                    lot.remaining,
                )
                for lot in lots
            ],
            "moves": sorted((entry_rank[m.entry_id], lot_rank[m.lot_id], m.points) for m in moves),
            "members": sorted((customer[m.id], m.points, m.debt) for m in members),
            "entry_rank": entry_rank,
            "lot_rank": lot_rank,
        }


def _key(key: str, lot_rank: dict[int, int]) -> str:
    return re.sub(r"^expire:lot:(\d+)$", lambda m: f"expire:lot:#{lot_rank[int(m.group(1))]}", key)


def _outcome(outcome: OperationRead | PatronError, ledger: dict[str, Any]) -> Any:
    if isinstance(outcome, PatronError):
        params = {k: _key(v, ledger["lot_rank"]) if k == "key" else v for k, v in outcome.params.items()}
        return ("error", outcome.code, outcome.status, params)
    read = outcome.model_dump()
    read["entry"]["id"] = ledger["entry_rank"][read["entry"]["id"]]
    read["entry"]["idempotency_key"] = _key(read["entry"]["idempotency_key"], ledger["lot_rank"])
    return read


def _compare(
    engine: Engine, tmp_path: Path, seed: int, n: int, customers: list[str]
) -> tuple[list[Any], dict[str, Any]]:
    rng = random.Random(seed)
    alone, together = _fresh(engine, tmp_path / "alone"), _fresh(engine, tmp_path / "together")
    first = _one_at_a_time(engine, _sequence(random.Random(seed), alone, n, customers))
    second = _many_at_once(engine, _sequence(rng, together, n, customers))
    ledger_one, ledger_two = _ledger(engine, alone.id), _ledger(engine, together.id)
    for name in ("entries", "lots", "moves", "members"):
        assert ledger_one[name] == ledger_two[name], name
    replies_one = [_outcome(o, ledger_one) for o in first]
    replies_two = [_outcome(o, ledger_two) for o in second]
    for index, (one, two) in enumerate(zip(replies_one, replies_two, strict=True)):
        assert one == two, f"operation {index}"
    return replies_one, ledger_one


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_give_the_same_replies_and_rows_one_at_a_time_and_many_at_once(
    engine: Engine, tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_expected(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the set-wise form went one by one")

    monkeypatch.setattr(grouped, "one_by_one", not_expected)
    replies, ledger = _compare(engine, tmp_path, seed, 150, ["C001", "C002", "C003", "C003", "C999"])
    assert {"adjust", "redeem", "expire"} <= {entry[1] for entry in ledger["entries"]}
    kinds = {r[1] if isinstance(r, tuple) else ("replayed" if r["replayed"] else "done") for r in replies}
    # The sequences reach every rule: retries, reused keys, short balances, unknown members, bad points.
    assert kinds >= {"done", "replayed", "loyalty.key_reused", "loyalty.insufficient_points",
                     "loyalty.member_not_found", "loyalty.bad_points"}, kinds  # fmt: skip


def test_a_group_that_would_enrol_a_customer_goes_one_by_one_with_the_same_outcomes(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    alone = grouped.one_by_one

    def counted(session: Any, requests: list[dict[str, Any]]) -> Any:
        calls.append(len(requests))
        return alone(session, requests)

    monkeypatch.setattr(grouped, "one_by_one", counted)
    _, ledger = _compare(engine, tmp_path, 7, 60, ["C001", "C004", "C005", "C999"])
    assert calls and ("C004", 0, 0) not in ledger["members"]
    assert {member for member, _, _ in ledger["members"]} >= {"C001", "C004"}


def test_debt_is_repaid_first_by_a_grouped_credit(engine: Engine, tmp_path: Path) -> None:
    results = []
    for name in ("alone", "together"):
        workspace = _fresh(engine, tmp_path / name)
        with transaction(
            engine
        ) as session:  # 25 points given back after they were spent: debt (docs/loyalty.md)
            member = session.scalars(
                select(Member)
                .join(Customer, Customer.id == Member.customer_id)
                .where(Member.workspace_id == workspace.id, Customer.external_id == "C002")
            ).one()
            member.debt = 25
            session.add(Entry(workspace_id=workspace.id, member_id=member.id, kind="reverse", points=-25,
                              debt_delta=25, reason="refund", source="order", idempotency_key="debt",
                              created_at=START))  # fmt: skip
        requests = [{"workspace": workspace, "kind": grouped.ADJUST, "customer_external_id": "C002", "points": p,
                     "reason": "x", "idempotency_key": f"d{p}", "actor": "tests"} for p in (10, 20, 30)]  # fmt: skip
        runner = _one_at_a_time if name == "alone" else _many_at_once
        outcomes = runner(engine, [(START, requests)])
        results.append([(o.entry.points, o.entry.debt_delta, o.balance.points, o.balance.debt)
                        for o in outcomes if isinstance(o, OperationRead)])  # fmt: skip
    assert results[0] == results[1] == [(10, -10, 30, 15), (20, -15, 35, 0), (30, 0, 65, 0)]


def test_the_group_committer_writes_concurrent_operations_in_one_transaction(
    engine: Engine, tmp_path: Path
) -> None:
    workspace = _fresh(engine, tmp_path / "gc")
    committer = GroupCommitter(lambda: engine)
    committer.together(grouped.operation, grouped.operations, savepoint=False, single=True)  # as the API
    try:
        futures = [
            committer.submit(
                grouped.operation,
                workspace=workspace,
                kind=grouped.REDEEM,
                customer_external_id="C001",
                points=7,
                reason="race",
                idempotency_key=f"r{i}",
            )
            for i in range(20)
        ]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(timeout=60).balance.points)
            except PatronError as error:
                outcomes.append(error.code)
    finally:
        committer.close()
    assert outcomes == [93 - 7 * i for i in range(14)] + ["loyalty.insufficient_points"] * 6
    with transaction(engine) as session:
        assert service.check(session, workspace_id=workspace.id).differences == []


def test_a_group_of_refused_operations_only_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    workspace = _fresh(engine, tmp_path / "refused")
    requests = [
        {"workspace": workspace, "kind": kind, "customer_external_id": customer, "points": points,
         "reason": "x", "idempotency_key": f"n{i}", "actor": "tests"}
        for i, (kind, customer, points) in enumerate(
            [(grouped.REDEEM, "C001", 0), (grouped.ADJUST, "C001", 0), (grouped.REDEEM, "C001", -3)]
        )
    ]  # fmt: skip
    before = _ledger(engine, workspace.id)
    outcomes = _many_at_once(engine, [(START, requests)])
    assert [o.code for o in outcomes if isinstance(o, PatronError)] == ["loyalty.bad_points"] * 3
    outcomes = _many_at_once(
        engine, [(START, [{**requests[0], "customer_external_id": "C999", "points": 5}] * 2)]
    )
    assert [o.code for o in outcomes if isinstance(o, PatronError)] == ["loyalty.member_not_found"] * 2
    assert _ledger(engine, workspace.id)["entries"] == before["entries"]
