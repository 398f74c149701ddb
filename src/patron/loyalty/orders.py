"""Points from orders: earning by the rule version in force when an order was placed, giving back what a
cancelled, returned or refunded order earned, and refunds of order lines through the API.

``sync_orders`` compares what each order line should have earned, as the order is now, with what its entries
say it earned, and writes the difference: running it again, or re-importing the same orders, moves nothing.
It works set-wise, a chunk of orders at a time (plain rows in, bulk writes out); the row path it replaced is kept
as the reference the tests hold it to, and for members who give points back (docs/loyalty.md, "Measured").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from patron.commerce.models import Order, OrderLine, OrderStatus, Product
from patron.core.clock import utcnow
from patron.core.db import bulk_insert, bulk_update, reserve_ids
from patron.core.errors import Conflict, NotFound
from patron.core.models import Workspace
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.loyalty import tiers
from patron.loyalty.models import (
    EarnRule,
    Entry,
    EntryKind,
    Lot,
    LotMove,
    Member,
    MemberTier,
    Program,
    Refund,
    Source,
)
from patron.loyalty.schemas import OrderLinePoints, OrderPoints, RefundCreate, SyncReport
from patron.loyalty.service import (
    Credit,
    _debit,
    _ensure_members,
    _lock_members,
    _New,
    bonus_percent_at,
    credit_many,
    expiry_for,
    get_program,
    item_percent,
    line_points,
    points_of,
    rule_at,
)

#: Orders in these statuses earn; pending ones wait, cancelled and returned ones give their points back.
EARNING_STATUSES = frozenset(
    {
        OrderStatus.PAID.value,
        OrderStatus.SHIPPED.value,
        OrderStatus.DELIVERED.value,
        OrderStatus.COMPLETED.value,
    }
)
_CHUNK = 500


# --------------------------------------------------------------------------------------------- orders
@dataclass
class _LineState:
    quantity: int = 0
    amount_minor: int = 0
    category: str | None = None
    product: str | None = None
    refunded: int = 0
    earned: int = 0
    entries: int = 0
    lots: list[int] | None = None
    #: The tier multiplier the line earned by (kept for its life; none: earned before tiers, 100 %).
    tier_percent: int | None = None


def _targets(
    lines: dict[int | None, _LineState],
    rule: EarnRule | None,
    tier_percent_now: int,
    may_get_bonus: bool,
    base_points: Callable[[EarnRule, _LineState, int], int],
) -> tuple[dict[int | None, int], dict[int | None, int | None]]:
    """What each line of an order should have earned (the bonus under ``None``), its refunded share taken off, and
    the tier percent each line earns by: one definition for the row path and the set-wise one. ``rule`` is None
    when the order earns nothing (now)."""
    targets: dict[int | None, int] = {}
    percents: dict[int | None, int | None] = {}
    for line_no, state in lines.items():
        if line_no is None:
            continue
        target = 0
        # A line that has earned keeps its multiplier; one that has not earns by the member's tier now.
        percent = (state.tier_percent or 100) if state.entries else tier_percent_now
        percents[line_no] = percent
        if rule is not None and state.quantity > 0:
            base = base_points(rule, state, percent)
            refunded = min(state.refunded, state.quantity)
            target = base - base * refunded // state.quantity
        targets[line_no] = target
    bonus = lines.get(None, _LineState())
    fully_refunded = all(s.refunded >= s.quantity for k, s in lines.items() if k is not None and s.quantity)
    bonus_target = 0
    # The bonus goes once per member, to the first order that earns; an order keeps it while it earns.
    keeps = bonus.earned > 0 or (bonus.entries == 0 and may_get_bonus)
    if rule is not None and rule.first_purchase_bonus and not fully_refunded and keeps:
        bonus_target = rule.first_purchase_bonus if bonus.entries == 0 else bonus.earned
    if bonus.entries or bonus_target:
        targets[None] = bonus_target
    return targets, percents


def _first_bonus_key(member_id: int) -> str:
    """The key of a member's first first-purchase bonus: the member's, not the order's, so the unique key gives it
    once per member whichever order earns it, and who had it is found by the key's index."""
    return f"first_purchase:{member_id}"


def _entry_key(order_id: int, member_id: int, line_no: int | None, entries: int) -> tuple[str, str]:
    """The idempotency key and reason of an order line's next entry (``line_no`` None: the order's bonus) when
    it has ``entries`` already: one definition for the row path and the set-wise one, so a sync by either finds
    what the other wrote. A reversal takes the key; the row path gives it its own reason (the order's status)."""
    if line_no is None:
        key = _first_bonus_key(member_id) if entries == 0 else f"order:{order_id}:bonus:{entries + 1}"
        return key, "first_purchase_bonus"
    return f"order:{order_id}:line:{line_no}:{entries + 1}", "order"


def _order_rows(session: Session, workspace_id: int, criteria: Sequence[Any]) -> list[Order]:
    """The orders, by customer, time and id. Sorted here, not by the database: asked to sort, SQLite walked the
    (workspace, customer, time) index over every order of the workspace for each chunk of 500 ids, so earning
    for an import grew with the square of its size."""
    rows = session.scalars(scoped(Order, workspace_id, *criteria))
    return sorted(rows, key=lambda o: (o.customer_id, o.ordered_at, o.id))


def sync_orders(
    session: Session,
    *,
    workspace: Workspace,
    order_ids: Sequence[int] | None = None,
    updated_since: datetime | None = None,
    row_by_row: bool = False,
) -> SyncReport:
    """Bring the points of these orders (all of the workspace's when neither filter is given) in line with the
    orders as they are now: an order in an earning status earns by the rule version in force when it was placed
    (kept once chosen), a cancelled or returned one gives back everything it earned, refunded units give back
    their share. What was already earned is counted from the entries, so running it again, or re-importing the
    same orders, moves nothing.

    Each chunk of orders is earned set-wise (``_sync_chunk_setwise``); ``row_by_row`` runs the reference path
    instead (``_sync_chunk``, an ORM object per order and member), which the tests hold the set-wise one to."""
    report = SyncReport(orders=0, earned=0, reversed=0, entries=0)
    program = get_program(session, workspace.id)
    if program is None:
        return report
    rules = list(session.scalars(scoped(EarnRule, workspace.id).order_by(EarnRule.version)))
    if not rules:
        return report
    criteria: list[Any] = []
    if order_ids is not None:
        criteria.append(Order.id.in_(list(order_ids)))
    if updated_since is not None:
        criteria.append(Order.updated_at >= updated_since)
    ids = [
        row[0]
        for row in session.execute(
            select(Order.id).where(Order.workspace_id == workspace.id, *criteria).order_by(Order.id)
        )
    ]
    earning = _Earning(workspace, program, rules)
    # A chunk's boundaries matter with tiers: its lines earn at the tier each member held when it started, and
    # members move up after it (docs/loyalty.md, "Which tier a line earns by"); both paths chunk alike.
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        if row_by_row:
            orders = _order_rows(session, workspace.id, [Order.id.in_(chunk)])
            _sync_chunk(session, workspace, program, rules, orders, report)
        else:
            _sync_chunk_setwise(session, earning, chunk, report)
    earning.flush_balances(session)
    return report


def _sync_chunk(
    session: Session, workspace: Workspace, program: Program, rules: list[EarnRule], orders: list[Order],
    report: SyncReport,
) -> None:  # fmt: skip
    ws = workspace.id
    by_version = {r.version: r for r in rules}
    _ensure_members(session, ws, (o.customer_id for o in orders))
    members = _lock_members(session, ws, (o.customer_id for o in orders))
    # Only members' orders count, and only those placed since the member earns: a customer who never joined
    # (the program enrols by consent), left, or ordered before consenting earns nothing and gives nothing back.
    members = {c: m for c, m in members.items() if m.left_at is None}

    def earns(order: Order) -> bool:
        member = members.get(order.customer_id)
        return member is not None and (member.earns_from is None or order.ordered_at >= member.earns_from)

    orders = [o for o in orders if earns(o)]
    if not orders:
        return
    order_ids = [o.id for o in orders]
    # Read after the locks: what another transaction earned for these orders is committed and visible now.
    states: dict[int, dict[int | None, _LineState]] = {o.id: {} for o in orders}
    for order_id, number, quantity, amount, category, product in session.execute(
        select(
            OrderLine.order_id,
            OrderLine.line_no,
            OrderLine.quantity,
            OrderLine.amount_minor,
            Product.category,
            Product.external_id,
        )
        .outerjoin(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.workspace_id == ws, OrderLine.order_id.in_(order_ids))
    ):
        states[order_id][number] = _LineState(
            quantity=quantity, amount_minor=amount, category=category, product=product
        )
    versions: dict[int, int] = {}
    for entry_order, line_no, points, count, version, percent in session.execute(
        select(
            Entry.order_id,
            Entry.line_no,
            func.sum(Entry.points),
            func.count(),
            func.min(Entry.rule_version),
            func.min(Entry.tier_percent),
        )
        .where(
            Entry.workspace_id == ws,
            Entry.order_id.in_(order_ids),
            # Redundant, but a range the index can seek: during an import's sync PostgreSQL has no statistics
            # for the entries its transaction wrote and, given only the list, scanned all the workspace's.
            Entry.order_id.between(min(order_ids), max(order_ids)),
            Entry.kind.in_([EntryKind.EARN.value, EntryKind.REVERSE.value]),
        )
        .group_by(Entry.order_id, Entry.line_no)
    ):
        if entry_order is None:  # not possible: the query names orders
            continue
        state = states[entry_order].setdefault(line_no, _LineState())
        state.earned, state.entries, state.tier_percent = int(points), int(count), percent
        if version is not None:
            versions[entry_order] = min(versions.get(entry_order, version), version)
    # The lots an order's lines filled, read only for an order that gives points back (rare beside earning):
    # read for the whole chunk, PostgreSQL — its statistics blind to the rows this transaction wrote — joined
    # them by scanning every lot, for every chunk of an import.
    lots_cache: dict[int, dict[int | None, list[int]]] = {}

    def lots_of(order_id: int, line_no: int | None) -> list[int]:
        if order_id not in lots_cache:
            found: dict[int | None, list[int]] = defaultdict(list)
            for number, lot_id in session.execute(
                select(Entry.line_no, Lot.id)
                .join(Lot, Lot.entry_id == Entry.id)
                .where(
                    Entry.workspace_id == ws, Entry.order_id == order_id, Entry.kind == EntryKind.EARN.value
                )
                .order_by(Lot.id)
            ):
                found[number].append(lot_id)
            lots_cache[order_id] = found
        return lots_cache[order_id].get(line_no, [])

    for order_id, line_no, quantity in session.execute(
        select(Refund.order_id, Refund.line_no, func.sum(Refund.quantity))
        .where(Refund.workspace_id == ws, Refund.order_id.in_(order_ids))
        .group_by(Refund.order_id, Refund.line_no)
    ):
        states[order_id].setdefault(line_no, _LineState()).refunded = int(quantity)
    # A member's first bonus is always written with the key ``_first_bonus_key(MEMBER)``, so who had it is
    # found by the unique key's index. (Reading every order entry of the chunk's members grew with the ledger:
    # an import of 1,000,000 lines re-read each member's earlier entries in every chunk.) No version with a
    # bonus: nothing to look up.
    had_bonus: set[int] = set()
    if any(r.first_purchase_bonus for r in rules):
        keys = {_first_bonus_key(m.id): m.id for m in members.values()}
        had_bonus = {
            keys[key]
            for key in session.scalars(
                select(Entry.idempotency_key).where(
                    Entry.workspace_id == ws,
                    Entry.idempotency_key.in_(sorted(keys)),
                    Entry.source == Source.ORDER.value,
                    Entry.kind == EntryKind.EARN.value,
                )
            )
        }
    now = utcnow()
    # A line that has not earned yet earns by the member's tier now; one that has keeps its multiplier.
    tier_percents = {
        m: b.points_percent
        for m, b in tiers.member_benefits(session, ws, [m.id for m in members.values()]).items()
    }
    credits: list[Credit] = []
    for order in orders:
        member = members[order.customer_id]
        version = versions.get(order.id)
        rule = by_version.get(version) if version is not None else rule_at(rules, order.ordered_at)
        lines = states[order.id]
        earning = (
            rule is not None
            and order.status in EARNING_STATUSES
            and order.currency == rule.currency
            and order.total_minor >= rule.min_spend_minor
        )

        def base_points(
            rule: EarnRule, state: _LineState, percent: int, ordered_at: datetime = order.ordered_at
        ) -> int:
            return line_points(rule, amount_minor=state.amount_minor, category=state.category,
                               ordered_at=ordered_at, tier_percent=percent, product=state.product)  # fmt: skip

        targets, percents = _targets(
            lines, rule if earning else None, tier_percents.get(member.id, 100),
            member.id not in had_bonus, base_points,
        )  # fmt: skip
        report.orders += 1
        for line_no, target in sorted(targets.items(), key=lambda item: (item[0] is not None, item[0] or 0)):
            state = lines.get(line_no, _LineState())
            change = target - state.earned
            if change == 0:
                continue
            key, reason = _entry_key(order.id, member.id, line_no, state.entries)
            version_used = rule.version if rule is not None else None
            if change > 0:
                assert rule is not None  # a positive target needs a rule
                new = _New(
                    EntryKind.EARN,
                    reason,
                    Source.ORDER,
                    key,
                    order,
                    line_no,
                    rule_version=version_used,
                    tier_percent=percents.get(line_no),
                )
                expires_at = expiry_for(program, order.ordered_at, workspace.timezone)
                credits.append(Credit(member, new, change, order.ordered_at, expires_at))
                report.earned += change
                if line_no is None:
                    had_bonus.add(member.id)
            else:
                why = "order_" + order.status if order.status not in EARNING_STATUSES else "order_refund"
                new = _New(
                    EntryKind.REVERSE,
                    why,
                    Source.ORDER,
                    key,
                    order,
                    line_no,
                    rule_version=version_used,
                    tier_percent=percents.get(line_no),
                )
                credit_many(session, credits, now)  # in order: what was earned before is there to take back
                credits.clear()
                _debit(session, member, new, -change, now, first=lots_of(order.id, line_no),
                       allow_debt=True)  # fmt: skip
                report.reversed += -change
            report.entries += 1
    credit_many(session, credits, now)
    session.flush()
    # Upgrade at once: members whose spend in the window now reaches a higher tier move up (never down here).
    tiers.upgrade(session, workspace=workspace, members=members.values(), now=now)


# --------------------------------------------------------------------------------------------- set-wise
def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


_ORDERS, _LINES, _PRODUCTS = _table(Order), _table(OrderLine), _table(Product)
_ENTRIES, _LOTS, _MOVES, _MEMBERS, _REFUNDS, _TIERS = (
    _table(Entry), _table(Lot), _table(LotMove), _table(Member), _table(Refund), _table(MemberTier)
)  # fmt: skip
_ENTRY_COLUMNS = ("id", "workspace_id", "member_id", "kind", "points", "debt_delta", "reason", "source", "order_id",
                  "order_external_id", "line_no", "source_ref", "rule_version", "idempotency_key", "created_at",
                  "tier_percent")  # fmt: skip
_LOT_COLUMNS = (
    "id",
    "workspace_id",
    "member_id",
    "entry_id",
    "earned_at",
    "expires_at",
    "points",
    "remaining",
)
_MOVE_COLUMNS = ("workspace_id", "entry_id", "lot_id", "points")


class _OrderRow(NamedTuple):
    id: int
    external_id: str
    customer_id: int
    ordered_at: datetime
    status: str
    currency: str
    total_minor: int


@dataclass
class _Held:
    """A member of a chunk, locked, as plain values (the set-wise path loads no ORM object per member)."""

    id: int
    customer_id: int
    points: int
    debt: int
    left_at: datetime | None
    earns_from: datetime | None
    changed: bool = False


class _Earning:
    """What every chunk of one sync shares: the program, the rule versions, and the lookups that depend only on
    a version and an order's time or a product (an import's orders share a few hundred times and products)."""

    def __init__(self, workspace: Workspace, program: Program, rules: list[EarnRule]) -> None:
        self.workspace, self.program, self.rules = workspace, program, rules
        self.by_version = {r.version: r for r in rules}
        self.any_bonus = any(r.first_purchase_bonus for r in rules)
        self._rule_at: dict[datetime, EarnRule | None] = {}
        self._expiry: dict[datetime, datetime | None] = {}
        self._bonus: dict[tuple[int, datetime], int] = {}
        self._item: dict[tuple[int, str | None, str | None], int] = {}
        #: {customer id: member} locked by this sync (the locks last until the transaction ends), balances as
        #: this sync has changed them: written once, by ``flush_balances``, not after every chunk. (PostgreSQL:
        #: a member updated in each of an import's chunks became a chain of row versions every later lookup of
        #: the member walked.)
        self.held: dict[int, _Held] = {}

    def flush_balances(self, session: Session, customers: Iterable[int] | None = None) -> None:
        """Write the changed balances of these held members (all when none are named) and forget them, so that
        they are read again (after the row path changed them, say)."""
        chosen = list(self.held) if customers is None else [c for c in customers if c in self.held]
        changed = {self.held[c].id: self.held[c] for c in chosen if self.held[c].changed}
        for customer in chosen:
            del self.held[customer]
        if not changed:
            return
        now = utcnow()
        bulk_update(session.connection(), _MEMBERS, "id", ("points", "debt", "updated_at"),
                    [(m.id, m.points, m.debt, now) for m in changed.values()])  # fmt: skip
        # A member the session holds as an object reads its new balance without a round trip or a flush.
        for instance in list(session.identity_map.values()):
            member = changed.get(instance.id) if isinstance(instance, Member) else None
            if member is not None:
                set_committed_value(instance, "points", member.points)
                set_committed_value(instance, "debt", member.debt)
                set_committed_value(instance, "updated_at", now)

    def rule_at(self, moment: datetime) -> EarnRule | None:
        if moment not in self._rule_at:
            self._rule_at[moment] = rule_at(self.rules, moment)
        return self._rule_at[moment]

    def expiry(self, moment: datetime) -> datetime | None:
        if moment not in self._expiry:
            self._expiry[moment] = expiry_for(self.program, moment, self.workspace.timezone)
        return self._expiry[moment]

    def bonus(self, rule: EarnRule, ordered_at: datetime) -> int:
        """``bonus_percent_at``, once per version and time."""
        key = (rule.version, ordered_at)
        found = self._bonus.get(key)
        if found is None:
            found = self._bonus[key] = bonus_percent_at(rule, ordered_at)
        return found

    def item(self, rule: EarnRule, state: _LineState) -> int:
        """``item_percent``, once per version, product and category."""
        key = (rule.version, state.product, state.category)
        found = self._item.get(key)
        if found is None:
            found = self._item[key] = item_percent(rule, product=state.product, category=state.category)
        return found


#: (order, line_no (None: the bonus), points, idempotency key, reason, rule version, tier percent)
_Plan = tuple[_OrderRow, int | None, int, str, str, int | None, int | None]


def _lock_held(session: Session, workspace_id: int, customer_ids: Iterable[int]) -> dict[int, _Held]:
    """``_lock_members`` as plain rows: the same locks, in the same (id) order, balances read after them."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    m = _MEMBERS.c
    statement = (
        select(m.id, m.customer_id, m.points, m.debt, m.left_at, m.earns_from)
        .where(m.workspace_id == workspace_id, m.customer_id.in_(ids))
        .with_for_update()
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.order_by(m.id)  # row locks are taken in the order rows are read
    return {row[1]: _Held(*row) for row in session.connection().execute(statement)}


def _among(column: Any, ids: list[int]) -> Any:
    """``column IN ids`` (ascending), as a range when the ids are dense: an import's chunk is a run of ids,
    and rendering 500 parameters for each statement of each chunk cost more than the statement. Rows of ids in
    the range but not in ``ids`` come back too: callers skip them."""
    if ids[-1] - ids[0] < 2 * len(ids):
        return column.between(ids[0], ids[-1])
    return column.in_(ids)


def _sync_chunk_setwise(
    session: Session, earning: _Earning, order_ids: list[int], report: SyncReport
) -> None:
    """``_sync_chunk`` for a chunk of orders, set-wise: plain rows read with one statement per table, every
    line's points computed in Python over the chunk, then one bulk write each of the entries, lots, moves and
    members' balances (ids reserved up front; no ``INSERT … RETURNING``, which SQLite ran once per row).

    Same rules, same keys, same entries and lots as the row path (tests/loyalty/test_setwise.py). A member who
    has points to give back in the chunk (a cancelled, returned or refunded order: lots to take from, debt)
    goes through the row path whole; earning only adds, so it needs nothing but the member's debt to repay.
    The tier multiplier is the member's tier when the chunk starts, the upgrade comes after it, as there."""
    workspace, program, ws = earning.workspace, earning.program, earning.workspace.id
    session.flush()  # what the session holds is read below through its connection
    connection = session.connection()
    o = _ORDERS.c
    wanted = set(order_ids)
    rows = [
        _OrderRow(*row)
        for row in connection.execute(
            select(o.id, o.external_id, o.customer_id, o.ordered_at, o.status, o.currency, o.total_minor)
            .where(o.workspace_id == ws, _among(o.id, order_ids))
        ).all()
        if row[0] in wanted
    ]  # fmt: skip
    rows.sort(key=lambda r: (r.customer_id, r.ordered_at, r.id))
    customers = {r.customer_id for r in rows}
    # Members locked by an earlier chunk stay locked and are held with their balances: not read again.
    new = customers - earning.held.keys()
    _ensure_members(session, ws, new)
    earning.held.update(_lock_held(session, ws, new))
    members = {c: m for c in customers if (m := earning.held.get(c)) is not None and m.left_at is None}

    def earns(order: _OrderRow) -> bool:
        member = members.get(order.customer_id)
        return member is not None and (member.earns_from is None or order.ordered_at >= member.earns_from)

    orders = [r for r in rows if earns(r)]
    if not orders:
        return
    ids = sorted(r.id for r in orders)
    states: dict[int, dict[int | None, _LineState]] = {r.id: {} for r in orders}
    lines, products = _LINES.c, _PRODUCTS.c
    for order_id, number, quantity, amount, category, product in connection.execute(
        select(lines.order_id, lines.line_no, lines.quantity, lines.amount_minor, products.category,
               products.external_id)
        .select_from(_LINES.outerjoin(_PRODUCTS, products.id == lines.product_id))
        .where(lines.workspace_id == ws, _among(lines.order_id, ids))
    ).all():  # fmt: skip
        if order_id not in states:
            continue
        states[order_id][number] = _LineState(
            quantity=quantity, amount_minor=amount, category=category, product=product
        )
    e = _ENTRIES.c
    versions: dict[int, int] = {}
    for entry_order, line_no, points, count, version, percent in connection.execute(
        select(e.order_id, e.line_no, func.sum(e.points), func.count(), func.min(e.rule_version),
               func.min(e.tier_percent))
        .where(e.workspace_id == ws, _among(e.order_id, ids), e.order_id.between(ids[0], ids[-1]),
               e.kind.in_([EntryKind.EARN.value, EntryKind.REVERSE.value]))
        .group_by(e.order_id, e.line_no)
    ).all():  # fmt: skip
        if entry_order not in states:
            continue
        state = states[entry_order].setdefault(line_no, _LineState())
        state.earned, state.entries, state.tier_percent = int(points), int(count), percent
        if version is not None:
            versions[entry_order] = min(versions.get(entry_order, version), version)
    r = _REFUNDS.c
    for order_id, line_no, quantity in connection.execute(
        select(r.order_id, r.line_no, func.sum(r.quantity))
        .where(r.workspace_id == ws, _among(r.order_id, ids))
        .group_by(r.order_id, r.line_no)
    ):
        if order_id in states:
            states[order_id].setdefault(line_no, _LineState()).refunded = int(quantity)
    had_bonus: set[int] = set()
    if earning.any_bonus:
        keys = {_first_bonus_key(m.id): m.id for m in members.values()}
        had_bonus = {
            keys[key]
            for (key,) in connection.execute(
                select(e.idempotency_key).where(
                    e.workspace_id == ws, e.idempotency_key.in_(sorted(keys)),
                    e.source == Source.ORDER.value, e.kind == EntryKind.EARN.value,
                )
            )
        }  # fmt: skip
    now = utcnow()
    # A line that has not earned yet earns by the member's tier now (``tiers.member_benefits``, as plain rows).
    tier_set = tiers.current_set(session, ws, now)
    tier_percents: dict[int, int] = {}
    if tier_set is not None:
        t = _TIERS.c
        codes = dict(
            connection.execute(
                select(t.member_id, t.tier).where(
                    t.workspace_id == ws, t.member_id.in_(sorted(m.id for m in members.values()))
                )
            ).all()
        )
        tier_percents = {
            m.id: int(tier_set.tiers[tiers.tier_index(tier_set, codes.get(m.id))]["points_percent"])
            for m in members.values()
        }
    plans: dict[int, list[_Plan]] = defaultdict(list)
    counted: dict[int, int] = defaultdict(int)
    reversing: set[int] = set()
    for order in orders:
        member = members[order.customer_id]
        counted[member.id] += 1
        version = versions.get(order.id)
        rule = earning.by_version.get(version) if version is not None else earning.rule_at(order.ordered_at)
        lines_of = states[order.id]
        earns_now = (
            rule is not None
            and order.status in EARNING_STATUSES
            and order.currency == rule.currency
            and order.total_minor >= rule.min_spend_minor
        )
        bonus_percent = earning.bonus(rule, order.ordered_at) if earns_now and rule is not None else 100

        def base_points(rule: EarnRule, state: _LineState, percent: int, bonus: int = bonus_percent) -> int:
            return points_of(rule, state.amount_minor, earning.item(rule, state) * bonus * percent)

        targets, percents = _targets(
            lines_of, rule if earns_now else None, tier_percents.get(member.id, 100),
            member.id not in had_bonus, base_points,
        )  # fmt: skip
        for line_no, target in sorted(targets.items(), key=lambda item: (item[0] is not None, item[0] or 0)):
            state = lines_of.get(line_no, _LineState())
            change = target - state.earned
            if change == 0:
                continue
            if change < 0:
                reversing.add(member.id)  # the row path takes this member's orders of the chunk
                continue
            key, reason = _entry_key(order.id, member.id, line_no, state.entries)
            if line_no is None:
                had_bonus.add(member.id)
            assert rule is not None  # a positive target needs a rule
            plans[member.id].append(
                (order, line_no, change, key, reason, rule.version, percents.get(line_no))
            )
    if reversing:
        back = [r.id for r in orders if members[r.customer_id].id in reversing]
        earning.flush_balances(session, [c for c, m in members.items() if m.id in reversing])
        _sync_chunk(session, workspace, program, earning.rules, _order_rows(session, ws, [Order.id.in_(back)]),
                    report)  # fmt: skip
    by_id = {m.id: m for m in members.values()}
    credits = [
        (by_id[m], plan) for m, member_plans in plans.items() if m not in reversing for plan in member_plans
    ]
    report.orders += sum(n for m, n in counted.items() if m not in reversing)
    _write_credits(session, earning, credits, now, report)
    if tier_set is not None and len(tier_set.tiers) >= 2:
        # Upgrade at once, as the row path does (it needs the members as ORM objects, locked already).
        locked = _lock_members(
            session, ws, [m.customer_id for m in members.values() if m.id not in reversing]
        )
        tiers.upgrade(session, workspace=workspace, members=locked.values(), now=now)


def _write_credits(
    session: Session, earning: _Earning, credits: list[tuple[_Held, _Plan]], now: datetime, report: SyncReport
) -> None:
    """``credit_many`` in bulk: each credit repays the member's debt first, the rest fills a new lot."""
    if not credits:
        return
    ws, connection = earning.workspace.id, session.connection()
    kept: list[int] = []
    for member, (_, _, points, *_) in credits:
        repaid = min(points, member.debt)
        member.debt -= repaid
        member.points += points - repaid
        member.changed = True
        kept.append(points - repaid)
    report.earned += sum(points for _, (_, _, points, *_) in credits)
    report.entries += len(credits)
    entry_ids, lot_ids = reserve_ids(
        connection, [(_ENTRIES, len(credits)), (_LOTS, sum(1 for k in kept if k))]
    )
    entries: list[tuple[Any, ...]] = []
    filled: list[tuple[int, _Held, int, datetime, datetime | None]] = []
    for (member, (order, line_no, points, key, reason, version, percent)), entry_id, left in zip(
        credits, entry_ids, kept, strict=True
    ):
        entries.append((entry_id, ws, member.id, EntryKind.EARN.value, points, left - points, reason,
                        Source.ORDER.value, order.id, order.external_id, line_no, None, version, key, now,
                        percent))  # fmt: skip
        if left:
            filled.append((entry_id, member, left, order.ordered_at, earning.expiry(order.ordered_at)))
    dbapi: Any = connection.dialect.loaded_dbapi
    try:
        bulk_insert(connection, _ENTRIES, _ENTRY_COLUMNS, entries)
    except dbapi.IntegrityError:
        # Only an idempotency key can collide (keys are read under the members' locks): the transaction fails.
        raise Conflict("loyalty.key_reused", key=entries[0][13]) from None
    bulk_insert(
        connection, _LOTS, _LOT_COLUMNS,
        [(lot_id, ws, member.id, entry_id, earned_at, expires_at, kept, kept)
         for (entry_id, member, kept, earned_at, expires_at), lot_id in zip(filled, lot_ids, strict=True)],
    )  # fmt: skip
    bulk_insert(
        connection, _MOVES, _MOVE_COLUMNS,
        [(ws, entry_id, lot_id, kept) for (entry_id, _, kept, _, _), lot_id in zip(filled, lot_ids, strict=True)],
    )  # fmt: skip


def _order(session: Session, workspace_id: int, external_id: str) -> Order:
    order = session.scalar(scoped(Order, workspace_id, Order.external_id == external_id))
    if order is None:
        raise NotFound("loyalty.order_not_found", order=external_id)
    return order


def order_points(session: Session, *, workspace_id: int, order_external_id: str) -> OrderPoints:
    """What an order has earned, net of what it gave back, per line (``line_no`` none: its bonus)."""
    order = _order(session, workspace_id, order_external_id)
    customer = session.get_one(Customer, order.customer_id)
    rows = session.execute(
        select(Entry.line_no, func.sum(Entry.points), func.min(Entry.rule_version))
        .where(
            Entry.workspace_id == workspace_id,
            Entry.order_id == order.id,
            Entry.kind.in_([EntryKind.EARN.value, EntryKind.REVERSE.value]),
        )
        .group_by(Entry.line_no)
    ).all()
    lines = sorted(
        (OrderLinePoints(line_no=line_no, points=int(points)) for line_no, points, _ in rows),
        key=lambda p: (p.line_no is not None, p.line_no or 0),
    )
    versions = [v for _, _, v in rows if v is not None]
    return OrderPoints(
        order_id=order.external_id, customer_id=customer.external_id, status=order.status,
        rule_version=min(versions) if versions else None, points=sum(p.points for p in lines), lines=lines,
    )  # fmt: skip


def sync_order(session: Session, *, workspace: Workspace, order_external_id: str) -> OrderPoints:
    order = _order(session, workspace.id, order_external_id)
    sync_orders(session, workspace=workspace, order_ids=[order.id])
    return order_points(session, workspace_id=workspace.id, order_external_id=order_external_id)


def refund_order(
    session: Session, *, workspace: Workspace, order_external_id: str, data: RefundCreate
) -> OrderPoints:
    """Record units given back (all that is left of the order when no lines are named) and take back their
    share of the points. A retry with the same key returns the order's points and records nothing."""
    order = _order(session, workspace.id, order_external_id)
    _ensure_members(session, workspace.id, [order.customer_id])
    _lock_members(session, workspace.id, [order.customer_id])  # refunds of one member's orders queue here
    replay = session.scalar(
        select(func.count()).where(
            Refund.workspace_id == workspace.id, Refund.idempotency_key == data.idempotency_key
        )
    )
    if replay:
        same = session.scalar(
            select(func.count()).where(
                Refund.workspace_id == workspace.id,
                Refund.idempotency_key == data.idempotency_key,
                Refund.order_id != order.id,
            )
        )
        if same:
            raise Conflict("loyalty.key_reused", key=data.idempotency_key)
        result = order_points(session, workspace_id=workspace.id, order_external_id=order_external_id)
        return result.model_copy(update={"replayed": True})
    quantities: dict[int, int] = dict(
        session.execute(
            select(OrderLine.line_no, OrderLine.quantity).where(
                OrderLine.workspace_id == workspace.id, OrderLine.order_id == order.id
            )
        ).all()  # rows, not the Result: dict() would take a Result for a mapping (it has keys())
    )
    refunded: dict[int, int] = defaultdict(int)
    for line_no, quantity in session.execute(
        select(Refund.line_no, func.sum(Refund.quantity))
        .where(Refund.workspace_id == workspace.id, Refund.order_id == order.id)
        .group_by(Refund.line_no)
    ):
        refunded[line_no] = int(quantity)
    asked: dict[int, int] = defaultdict(int)
    if data.lines:
        for line in data.lines:
            asked[line.line_no] += line.quantity
    else:
        asked.update({n: q - refunded[n] for n, q in quantities.items() if q - refunded[n] > 0})
    if not asked:
        raise Conflict("loyalty.nothing_to_refund", order=order_external_id)
    for line_no, quantity in sorted(asked.items()):
        if line_no not in quantities:
            raise NotFound("loyalty.unknown_line", order=order_external_id, line=line_no)
        left = quantities[line_no] - refunded[line_no]
        if quantity > left:
            raise Conflict("loyalty.refund_too_much", order=order_external_id, line=line_no, quantity=quantity,
                           left=left)  # fmt: skip
    before = {p.line_no: p.points for p in order_points(session, workspace_id=workspace.id,
                                                            order_external_id=order_external_id).lines}  # fmt: skip
    now = utcnow()
    rows = {
        line_no: Refund(
            workspace_id=workspace.id,
            order_id=order.id,
            line_no=line_no,
            quantity=quantity,
            idempotency_key=data.idempotency_key,
            created_at=now,
        )
        for line_no, quantity in sorted(asked.items())
    }
    session.add_all(rows.values())
    session.flush()
    sync_orders(session, workspace=workspace, order_ids=[order.id])
    after = order_points(session, workspace_id=workspace.id, order_external_id=order_external_id)
    for point in after.lines:
        if point.line_no in rows:
            rows[point.line_no].points_reversed = before.get(point.line_no, 0) - point.points
    session.flush()
    return after
