"""Redemptions and adjustments many at a time: the ledger's unit of work for the group committer, and its
set-wise form.

``operation`` is one ``service.redeem`` or ``service.adjust``; the API and the benchmark hand it to a group
committer (``core.groupcommit``), which writes every operation waiting in one transaction. ``operations`` is the
form for a whole group: per workspace it locks the group's members in id order in one statement (``FOR UPDATE``
on PostgreSQL; SQLite's single writer already serialises), reads their live lots in one query and the
idempotency keys already used in another, applies the operations in arrival order in memory by exactly the rules
of the one-at-a-time path (due lots expired first, earliest-expiring lots spent first, refused when short, debt
repaid first, a key used twice is a replay or a 409), then writes entries, lots, moves, lots' remaining points and
members' balances with one multi-row statement each. Each operation's outcome — its reply or its error — is the
one it gets called alone in the same order (``tests/loyalty/test_grouped.py``). A group in which an adjustment
would enrol a customer is done one by one instead, each operation in a savepoint; so is a group that fails as a
whole (``core.groupcommit``).
"""

from __future__ import annotations

from bisect import insort
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.dialects import registry
from sqlalchemy.orm import Session

from patron.core.clock import as_utc, utcnow
from patron.core.db import StatisticsWatch, pipelined
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.loyalty.models import Entry, EntryKind, Lot, LotMove, Member, Program, Source
from patron.loyalty.schemas import BalanceRead, EntryRead, OperationRead
from patron.loyalty.service import adjust, balance_of, entry_read, expiry_for, get_program, redeem

#: The two kinds of operation ``operation`` takes.
REDEEM, ADJUST = "redeem", "adjust"


def operation(
    session: Session, *, workspace: Workspace, kind: str, customer_external_id: str, points: int, reason: str,
    idempotency_key: str, actor: str = "",
) -> OperationRead:  # fmt: skip
    """``service.redeem`` (``kind`` "redeem") or ``service.adjust`` by ``actor`` (``kind`` "adjust")."""
    if kind == REDEEM:
        return redeem(session, workspace=workspace, customer_external_id=customer_external_id, points=points,
                      reason=reason, idempotency_key=idempotency_key)  # fmt: skip
    if kind == ADJUST:
        return adjust(session, workspace=workspace, customer_external_id=customer_external_id, points=points,
                      reason=reason, idempotency_key=idempotency_key, actor=actor)  # fmt: skip
    raise ValueError(f"unknown ledger operation {kind!r}")


def operations(session: Session, requests: list[dict[str, Any]]) -> list[OperationRead | PatronError]:
    """``operation(session, **request)`` for each request, set-wise (see the module docstring); each outcome is
    the reply or the error that call would give, called one at a time in this order."""
    outcomes: list[OperationRead | PatronError | None] = [None] * len(requests)
    by_workspace: dict[int, list[int]] = defaultdict(list)
    for index, request in enumerate(requests):
        by_workspace[request["workspace"].id].append(index)
    for workspace_id in sorted(by_workspace):  # members are locked workspace by workspace, each in id order
        indexes = by_workspace[workspace_id]
        mine = [requests[index] for index in indexes]
        results = _Group(session, workspace_id, mine).run()
        if results is None:
            results = one_by_one(session, mine)
        for index, result in zip(indexes, results, strict=True):
            outcomes[index] = result
    return [outcome for outcome in outcomes if outcome is not None]


def one_by_one(session: Session, requests: list[dict[str, Any]]) -> list[OperationRead | PatronError]:
    """``operation`` for each request in order, each in its own savepoint: what a refused one wrote is undone."""
    results: list[OperationRead | PatronError] = []
    for request in requests:
        try:
            with session.begin_nested():
                results.append(operation(session, **request))
        except PatronError as error:
            results.append(error)
    return results


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


_MEMBERS, _CUSTOMERS, _ENTRIES, _LOTS = _table(Member), _table(Customer), _table(Entry), _table(Lot)
_NEW_LOT = (
    1 << 62
)  # new lots sort after every lot read (their ids will be larger), in the order they were made


@dataclass
class _Lot:
    id: int | None
    order: tuple[bool, datetime | None, int]
    expires_at: datetime | None
    remaining: int
    read: int = 0  # remaining as read; 0 for a new lot
    points: int = 0
    earned_at: datetime | None = None
    entry: _Entry | None = None

    def __lt__(self, other: _Lot) -> bool:
        return _key(self.order) < _key(other.order)


def _key(order: tuple[bool, datetime | None, int]) -> tuple[bool, float, int]:
    missing, at, seq = order
    return missing, (at.timestamp() if at is not None else 0.0), seq


@dataclass
class _Member:
    id: int
    points: int
    debt: int
    points_read: int
    debt_read: int
    lots: list[_Lot] = field(default_factory=list)
    #: The member left the program: every operation is refused, as ``service`` refuses it.
    left: bool = False


@dataclass
class _Entry:
    values: dict[str, Any]
    id: int | None = None


@dataclass
class _Used:
    """An idempotency key already taken: by an entry read from the database or one written in this group."""

    member_id: int
    kind: str
    points: int
    stored: EntryRead | None = None
    new: _Entry | None = None


@dataclass
class _Done:
    """An operation's reply, completed once its entry has an id."""

    external_id: str
    replayed: bool
    balance: BalanceRead
    stored: EntryRead | None = None
    new: _Entry | None = None


class _Group:
    """One workspace's operations of a group (see the module docstring)."""

    def __init__(self, session: Session, workspace_id: int, requests: list[dict[str, Any]]) -> None:
        self.session, self.workspace_id, self.requests = session, workspace_id, requests
        self.connection = session.connection()
        self.postgresql = self.connection.dialect.name == "postgresql"
        self.now = utcnow()
        self.entry_ids: list[int] = []  # PostgreSQL: taken from the sequences with the reads
        self.lot_ids: list[int] = []
        self.entries: list[_Entry] = []
        self.new_lots: list[_Lot] = []
        self.moves: list[tuple[_Entry, _Lot, int]] = []

    def run(self) -> list[OperationRead | PatronError] | None:
        """The outcomes, or None when an adjustment would enrol a customer (the caller goes one by one)."""
        outcomes: list[_Done | PatronError | None] = [None] * len(self.requests)
        wanted: list[int] = []
        program: Program | None = None
        for index, request in enumerate(self.requests):
            kind, points = request["kind"], request["points"]
            if kind not in (REDEEM, ADJUST):
                raise ValueError(f"unknown ledger operation {kind!r}")
            if (kind == REDEEM and points <= 0) or (kind == ADJUST and points == 0):
                outcomes[index] = PatronError("loyalty.bad_points", points=points)
            else:
                wanted.append(index)
        external_ids = {self.requests[i]["customer_external_id"] for i in wanted}
        # An adjustment for a customer who is not a member yet enrols them (kept only when it succeeds).
        adjusting = {
            self.requests[i]["customer_external_id"] for i in wanted if self.requests[i]["kind"] == ADJUST
        }
        if self.postgresql:
            read = self._read_postgresql(wanted, external_ids, adjusting)
            if read is None:
                return None  # one by one
            program, members, used = read
        else:
            program = get_program(self.session, self.workspace_id) if adjusting else None
            members = self._lock(external_ids)
            enrolling = adjusting - members.keys()
            if enrolling and program is not None:
                customers = self.connection.scalar(
                    select(_CUSTOMERS.c.id)
                    .where(
                        _CUSTOMERS.c.workspace_id == self.workspace_id,
                        _CUSTOMERS.c.external_id.in_(enrolling),
                    )
                    .limit(1)
                )
                if customers is not None:
                    return None  # one by one
            self._read_lots(members)
            used = self._read_keys(wanted, members)
        for index in wanted:
            outcomes[index] = self._apply(self.requests[index], program, members, used)
        if self.postgresql:
            self._write_postgresql(members)
        else:
            self._write(members)
        return [self._reply(outcome) for outcome in outcomes if outcome is not None]

    # ---- reading
    def _lock(self, external_ids: set[str]) -> dict[str, _Member]:
        if not external_ids:
            return {}
        rows = self.connection.execute(
            select(
                _MEMBERS.c.id,
                _MEMBERS.c.points,
                _MEMBERS.c.debt,
                _CUSTOMERS.c.external_id,
                _MEMBERS.c.left_at.is_not(None),
            )
            .join(
                _CUSTOMERS,
                and_(
                    _CUSTOMERS.c.workspace_id == _MEMBERS.c.workspace_id,
                    _CUSTOMERS.c.id == _MEMBERS.c.customer_id,
                ),
            )
            .where(_MEMBERS.c.workspace_id == self.workspace_id, _CUSTOMERS.c.external_id.in_(external_ids))
            .order_by(_MEMBERS.c.id)
            .with_for_update(of=_MEMBERS)
        )
        return {
            external_id: _Member(member_id, points, debt, points, debt, left=bool(left))
            for member_id, points, debt, external_id, left in rows
        }

    def _read_lots(self, members: dict[str, _Member]) -> None:
        by_id = {m.id: m for m in members.values()}
        if not by_id:
            return
        rows = self.connection.execute(
            select(_LOTS.c.id, _LOTS.c.member_id, _LOTS.c.expires_at, _LOTS.c.remaining).where(
                _LOTS.c.workspace_id == self.workspace_id,
                _LOTS.c.member_id.in_(list(by_id)),
                _LOTS.c.remaining > 0,
            )
        )
        for lot_id, member_id, expires_at, remaining in rows:
            at = as_utc(expires_at) if expires_at is not None else None
            by_id[member_id].lots.append(_Lot(lot_id, (at is None, at, lot_id), at, remaining, remaining))
        for member in by_id.values():
            member.lots.sort()

    def _read_keys(self, wanted: list[int], members: dict[str, _Member]) -> dict[str, _Used]:
        """The keys the operations name, and those the expiry of a due lot would write, already used."""
        keys = {self.requests[i]["idempotency_key"] for i in wanted}
        keys.update(
            _expire_key(lot)
            for member in members.values()
            for lot in member.lots
            if lot.expires_at is not None and lot.expires_at <= self.now
        )
        if not keys:
            return {}
        found = self.session.scalars(
            select(Entry).where(Entry.workspace_id == self.workspace_id, Entry.idempotency_key.in_(keys))
        )
        return {e.idempotency_key: _Used(e.member_id, e.kind, e.points, stored=entry_read(e)) for e in found}

    # ---- PostgreSQL: the reads in one round trip, the writes in another
    def _read_postgresql(
        self, wanted: list[int], external_ids: set[str], adjusting: set[str]
    ) -> tuple[Program | None, dict[str, _Member], dict[str, _Used]] | None:
        """The program and the customers the adjustments name, the members locked, their lots, the keys already
        used and ids for the rows to write, as one pipeline: one round trip instead of one per statement (on a
        loaded machine each cost 1–4 ms, mostly waiting for the server to be scheduled). Each statement runs
        after the one before it, so everything after the lock is read under it. Lots already due (their expiry
        is written first) need their expiry keys checked and an entry id each: a second round trip, under the
        same locks, only then."""
        keys = [self.requests[i]["idempotency_key"] for i in wanted]
        credits = sum(
            1 for i in wanted if self.requests[i]["kind"] == ADJUST and self.requests[i]["points"] > 0
        )
        params = {"ws": self.workspace_id, "ids": sorted(external_ids), "keys": keys, "n": len(wanted),
                  "credits": credits, "adjusting": sorted(adjusting)}  # fmt: skip
        statements = [_PG_LOCK, _PG_LOTS, _PG_KEYS, _PG_IDS]
        if adjusting:
            statements.append(_PG_PROGRAM)
        rows = pipelined(self.connection, [(sql, params) for sql in statements], many=False)
        member_rows, lot_rows, key_rows, id_rows = rows[:4]
        program, named = None, []
        if adjusting and rows[4]:
            policy, months, named = rows[4][0]
            program = Program(workspace_id=self.workspace_id, expiry_policy=policy, expiry_months=months)
        members = {
            external_id: _Member(member_id, points, debt, points, debt, left=bool(left))
            for member_id, points, debt, external_id, left in member_rows
        }
        if program is not None and set(named) - members.keys():
            return None  # one by one
        by_id = {m.id: m for m in members.values()}
        due: list[_Lot] = []
        for lot_id, member_id, expires_at, remaining in lot_rows:
            at = as_utc(expires_at) if expires_at is not None else None
            lot = _Lot(lot_id, (at is None, at, lot_id), at, remaining, remaining)
            by_id[member_id].lots.append(lot)
            if at is not None and at <= self.now:
                due.append(lot)
        for member in by_id.values():
            member.lots.sort()
        if due:
            more = {
                "ws": self.workspace_id,
                "keys": [_expire_key(lot) for lot in due],
                "n": len(due),
                "credits": 0,
            }
            expired_rows, more_ids = pipelined(
                self.connection, [(_PG_KEYS, more), (_PG_IDS, more)], many=False
            )
            key_rows, id_rows = [*key_rows, *expired_rows], [*id_rows, *more_ids]
        used: dict[str, _Used] = {}
        for row in key_rows:
            read = EntryRead(**dict(zip(_ENTRY_READ, row, strict=True)))
            read.created_at = as_utc(read.created_at)
            used[read.idempotency_key] = _Used(row[1], read.kind, read.points, stored=read)
        self.entry_ids = sorted(i for table, i in id_rows if table == 0)
        self.lot_ids = sorted(i for table, i in id_rows if table == 1)
        return program, members, used

    def _write_postgresql(self, members: dict[str, _Member]) -> None:
        if not self.entries:
            return
        if len(self.entries) > len(self.entry_ids) or len(self.new_lots) > len(self.lot_ids):
            # Not expected (the ids were counted under the locks); the group fails and goes one by one.
            raise RuntimeError("fewer ids taken than rows to write")
        for entry, entry_id in zip(self.entries, self.entry_ids, strict=False):
            entry.id = entry_id
        for lot, lot_id in zip(self.new_lots, self.lot_ids, strict=False):
            lot.id = lot_id
        # One statement for each kind of row, its values as arrays (``_columns``): an executemany cost the server
        # a statement's execution, and psycopg a round of Python, for each row.
        writes: list[tuple[str, Any]] = [
            (_PG_INSERT_ENTRIES, _columns([{**entry.values, "id": entry.id} for entry in self.entries]))
        ]
        if self.new_lots:
            writes.append(
                (_PG_INSERT_LOTS, _columns([self._lot_values(lot) | {"id": lot.id} for lot in self.new_lots]))
            )
        (_, changed_lots), (_, changed_members) = self._updates(members)
        if changed_lots:
            writes.append((_PG_UPDATE_LOTS, _columns(changed_lots)))
        if changed_members:
            writes.append((_PG_UPDATE_MEMBERS, _columns(changed_members) | {"now": self.now}))
        if self.moves:
            writes.append((_PG_INSERT_MOVES, _columns(self._move_values())))
        pipelined(self.connection, writes, many=False)
        _LEDGER_STATISTICS.wrote(self.connection, len(self.entries) + len(self.new_lots))

    # ---- one operation, in memory
    def _apply(
        self,
        request: dict[str, Any],
        program: Program | None,
        members: dict[str, _Member],
        used: dict[str, _Used],
    ) -> _Done | PatronError:
        kind, points, key = request["kind"], request["points"], request["idempotency_key"]
        external_id: str = request["customer_external_id"]
        if kind == ADJUST and program is None:
            return NotFound("loyalty.no_program")
        member = members.get(external_id)
        if member is None:
            return NotFound("loyalty.member_not_found", customer=external_id)
        if member.left:
            return Conflict("loyalty.member_left", customer=external_id)
        signed = -points if kind == REDEEM else points
        first = used.get(key)
        if first is not None:
            if first.member_id != member.id or first.kind != kind or first.points != signed:
                return Conflict("loyalty.key_reused", key=key)
            return _Done(external_id, True, self._balance(member, external_id), first.stored, first.new)
        if signed > 0:
            assert program is not None
            workspace: Workspace = request["workspace"]
            expires_at = expiry_for(program, self.now, workspace.timezone)
            entry = self._credit(member, request, signed, expires_at)
        else:
            due = [
                lot
                for lot in member.lots
                if lot.remaining > 0 and lot.expires_at is not None and lot.expires_at <= self.now
            ]
            for lot in due:
                if _expire_key(lot) in used:  # the one-at-a-time path fails on the key's unique index
                    return Conflict("loyalty.key_reused", key=_expire_key(lot))
            left = member.points - sum(lot.remaining for lot in due)
            if left < -signed:
                return Conflict("loyalty.insufficient_points", points=-signed, balance=left)
            for lot in due:
                self._expire(member, lot, used)
            entry = self._debit(member, request, -signed)
        used[key] = _Used(member.id, kind, signed, new=entry)
        return _Done(external_id, False, self._balance(member, external_id), new=entry)

    def _entry(self, member: _Member, kind: EntryKind, points: int, reason: str, source: Source, key: str,
               source_ref: str | None) -> _Entry:  # fmt: skip
        entry = _Entry({
            "workspace_id": self.workspace_id, "member_id": member.id, "kind": kind.value, "points": points,
            "debt_delta": 0, "reason": reason, "source": source.value, "order_id": None, "order_external_id": None,
            "line_no": None, "source_ref": source_ref, "rule_version": None, "idempotency_key": key,
            "created_at": self.now, "tier_percent": None,
        })  # fmt: skip
        self.entries.append(entry)
        return entry

    def _credit(
        self, member: _Member, request: dict[str, Any], points: int, expires_at: datetime | None
    ) -> _Entry:
        entry = self._entry(member, EntryKind.ADJUST, points, request["reason"], Source.MANUAL,
                            request["idempotency_key"], request.get("actor", ""))  # fmt: skip
        repaid = min(points, member.debt)
        entry.values["debt_delta"] = -repaid
        member.debt -= repaid
        kept = points - repaid
        if kept:
            at = as_utc(expires_at) if expires_at is not None else None
            lot = _Lot(
                None, (at is None, at, _NEW_LOT + len(self.new_lots)), at, kept, 0, kept, self.now, entry
            )
            self.new_lots.append(lot)
            insort(member.lots, lot)
            self.moves.append((entry, lot, kept))
            member.points += kept
        return entry

    def _expire(self, member: _Member, lot: _Lot, used: dict[str, _Used]) -> None:
        key = _expire_key(lot)
        entry = self._entry(member, EntryKind.EXPIRE, -lot.remaining, "expiry", Source.EXPIRY, key, None)
        used[key] = _Used(member.id, EntryKind.EXPIRE.value, -lot.remaining, new=entry)
        self.moves.append((entry, lot, -lot.remaining))
        member.points -= lot.remaining
        lot.remaining = 0

    def _debit(self, member: _Member, request: dict[str, Any], points: int) -> _Entry:
        if request["kind"] == REDEEM:
            kind, source, ref = EntryKind.REDEEM, Source.REWARD, None
        else:
            kind, source, ref = EntryKind.ADJUST, Source.MANUAL, request.get("actor", "")
        entry = self._entry(member, kind, -points, request["reason"], source, request["idempotency_key"], ref)
        left = points
        for lot in member.lots:
            if left == 0:
                break
            if lot.remaining == 0 or (lot.expires_at is not None and lot.expires_at <= self.now):
                continue
            taken = min(left, lot.remaining)
            lot.remaining -= taken
            left -= taken
            member.points -= taken
            self.moves.append((entry, lot, -taken))
        assert left == 0, "checked against the balance first"
        return entry

    def _balance(self, member: _Member, external_id: str) -> BalanceRead:
        held = [(lot.remaining, lot.expires_at) for lot in member.lots if lot.remaining > 0]
        return balance_of(external_id, member.debt, held, self.now)

    # ---- writing
    def _write(self, members: dict[str, _Member]) -> None:
        if not self.entries:
            return
        connection, page = self.connection, {"insertmanyvalues_page_size": 100}
        ids = connection.scalars(
            _ENTRIES.insert()
            .returning(_ENTRIES.c.id, sort_by_parameter_order=True)
            .execution_options(**page),
            [entry.values for entry in self.entries],
        )
        for entry, entry_id in zip(self.entries, ids, strict=True):
            entry.id = entry_id
        if self.new_lots:
            lot_ids = connection.scalars(
                _LOTS.insert().returning(_LOTS.c.id, sort_by_parameter_order=True).execution_options(**page),
                [self._lot_values(lot) for lot in self.new_lots],
            )
            for lot, lot_id in zip(self.new_lots, lot_ids, strict=True):
                lot.id = lot_id
        if self.moves:
            connection.execute(_table(LotMove).insert(), self._move_values())
        (_, changed_lots), (_, changed_members) = self._updates(members)
        if changed_lots:
            connection.execute(
                update(_LOTS).where(_LOTS.c.id == bindparam("lot_id")).values(remaining=bindparam("left")),
                changed_lots,
            )
        if changed_members:
            connection.execute(
                update(_MEMBERS)
                .where(_MEMBERS.c.id == bindparam("member_id"))
                .values(
                    points=bindparam("new_points"), debt=bindparam("new_debt"), updated_at=bindparam("now")
                ),
                changed_members,
            )

    def _lot_values(self, lot: _Lot) -> dict[str, Any]:
        assert lot.entry is not None
        return {
            "workspace_id": self.workspace_id, "member_id": lot.entry.values["member_id"], "entry_id": lot.entry.id,
            "earned_at": lot.earned_at, "expires_at": lot.expires_at, "points": lot.points,
            "remaining": lot.remaining,
        }  # fmt: skip

    def _move_values(self) -> list[dict[str, Any]]:
        return [
            {"workspace_id": self.workspace_id, "entry_id": entry.id, "lot_id": lot.id, "points": points}
            for entry, lot, points in self.moves
        ]

    def _updates(self, members: dict[str, _Member]) -> list[tuple[str, list[dict[str, Any]]]]:
        """The lots whose remaining points changed and the members whose balance did, each with PostgreSQL's
        statement for them."""
        changed_lots: list[dict[str, Any]] = [
            {"lot_id": lot.id, "left": lot.remaining}
            for member in members.values()
            for lot in member.lots
            if lot.read and lot.remaining != lot.read
        ]
        changed_members: list[dict[str, Any]] = [
            {"member_id": m.id, "new_points": m.points, "new_debt": m.debt, "now": self.now}
            for m in members.values()
            if (m.points, m.debt) != (m.points_read, m.debt_read)
        ]
        return [(_PG_UPDATE_LOTS, changed_lots), (_PG_UPDATE_MEMBERS, changed_members)]

    @staticmethod
    def _reply(outcome: _Done | PatronError) -> OperationRead | PatronError:
        if isinstance(outcome, PatronError):
            return outcome
        if outcome.stored is not None:
            entry = outcome.stored
        else:
            assert outcome.new is not None and outcome.new.id is not None
            entry = EntryRead(id=outcome.new.id, **_read_fields(outcome.new.values))
        return OperationRead(entry=entry, replayed=outcome.replayed, balance=outcome.balance)


def _expire_key(lot: _Lot) -> str:
    return f"expire:lot:{lot.id}"


def _read_fields(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: values[name]
        for name in (
            "kind",
            "points",
            "debt_delta",
            "reason",
            "source",
            "order_external_id",
            "line_no",
            "source_ref",
            "rule_version",
            "idempotency_key",
            "created_at",
        )
    }


# PostgreSQL's statements (``_Group._read_postgresql`` and ``_write_postgresql``), in the driver's style.
#: The customers the group names, found first and once (``MATERIALIZED``) whatever the planner believes: on
#: tables not yet analysed (a new program's first minutes) it otherwise re-read the workspace's customers for
#: every member, 10–15 ms a statement at 200 members, and the ledger's rate fell from 1,300–1,500 to 300–400
#: operations/s (docs/benchmarks.md). Each statement that reads ``named`` starts with it.
_NAMED = (
    "WITH named AS MATERIALIZED (SELECT id, external_id FROM customers "
    "WHERE workspace_id = %(ws)s AND external_id = ANY(%(ids)s)) "
)
_OF_MEMBERS = (
    "FROM loyalty_lots l JOIN loyalty_members m ON m.workspace_id = l.workspace_id AND m.id = l.member_id "
    "JOIN named c ON m.customer_id = c.id "
    "WHERE l.workspace_id = %(ws)s AND m.workspace_id = %(ws)s AND l.remaining > 0"
)
#: The program, and which of the customers the adjustments name exist (an adjustment enrols a customer who is
#: not a member yet: the group then goes one by one).
_PG_PROGRAM = (
    "SELECT expiry_policy, expiry_months, ARRAY(SELECT external_id FROM customers WHERE workspace_id = %(ws)s "
    "AND external_id = ANY(%(adjusting)s)) FROM loyalty_programs WHERE workspace_id = %(ws)s"
)
_PG_LOCK = (
    f"{_NAMED}SELECT m.id, m.points, m.debt, c.external_id, m.left_at IS NOT NULL FROM named c "
    "JOIN loyalty_members m ON m.workspace_id = %(ws)s AND m.customer_id = c.id ORDER BY m.id FOR UPDATE OF m"
)
_PG_LOTS = f"{_NAMED}SELECT l.id, l.member_id, l.expires_at, l.remaining {_OF_MEMBERS}"
_ENTRY_READ = ("id", "member_id", "kind", "points", "debt_delta", "reason", "source", "order_external_id",
               "line_no", "source_ref", "rule_version", "idempotency_key", "created_at")  # fmt: skip
#: The group's reads pick their index by these tables' statistics; on a new install's tables, never analysed,
#: a lookup by (workspace, key) could go through another index that starts with the workspace and read every
#: row of the workspace for each key (docs/benchmarks.md).
_LEDGER_STATISTICS = StatisticsWatch(
    ("loyalty_entries", "loyalty_lots", "loyalty_members", "customers"), fresh=True
)
#: The keys already used: the operations' (or the due lots' expiry keys). Nothing else in the condition: with an
#: ``OR`` of the due lots' keys beside them, the planner read every entry of the workspace (0.6–1.0 ms a group at
#: 4,000 entries, growing) instead of looking each key up in the unique index (0.02 ms).
_PG_KEYS = (
    f"SELECT {', '.join(_ENTRY_READ)} FROM loyalty_entries WHERE workspace_id = %(ws)s AND "
    "idempotency_key = ANY(%(keys)s)"
)
#: Ids taken ahead: (0, id) for each entry the group may write (one an operation), (1, id) for each lot (one a
#: credit). The sequences are looked up once (``core.db.reserve_ids``).
_PG_IDS = (
    "SELECT 0, nextval(s.seq) FROM (SELECT pg_get_serial_sequence('loyalty_entries', 'id')::regclass AS seq "
    "OFFSET 0) AS s CROSS JOIN generate_series(1, %(n)s) UNION ALL "
    "SELECT 1, nextval(s.seq) FROM (SELECT pg_get_serial_sequence('loyalty_lots', 'id')::regclass AS seq "
    "OFFSET 0) AS s CROSS JOIN generate_series(1, %(credits)s)"
)


def _unnest_insert(table: Table, names: list[str]) -> str:
    """PostgreSQL's ``INSERT`` of many rows given as one array a column (``_columns``), for ``pipelined``."""
    dialect = registry.load("postgresql")()
    arrays = ", ".join(f"%({name})s::{table.c[name].type.compile(dialect=dialect)}[]" for name in names)
    return f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows of the same keys as one list of values a key."""
    return {name: [row[name] for row in rows] for name in rows[0]}


_PG_INSERT_ENTRIES = _unnest_insert(_ENTRIES, [c.name for c in _ENTRIES.c])
_PG_INSERT_LOTS = _unnest_insert(_LOTS, [c.name for c in _LOTS.c])
_PG_INSERT_MOVES = _unnest_insert(_table(LotMove), ["workspace_id", "entry_id", "lot_id", "points"])
_PG_UPDATE_LOTS = (
    "UPDATE loyalty_lots AS l SET remaining = v.remaining "
    "FROM unnest(%(lot_id)s::bigint[], %(left)s::integer[]) AS v(id, remaining) WHERE l.id = v.id"
)
_PG_UPDATE_MEMBERS = (
    "UPDATE loyalty_members AS m SET points = v.points, debt = v.debt, updated_at = %(now)s "
    "FROM unnest(%(member_id)s::bigint[], %(new_points)s::integer[], %(new_debt)s::integer[]) AS v(id, points, debt) "
    "WHERE m.id = v.id"
)
