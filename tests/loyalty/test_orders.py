"""Points from orders: rules in force at the order's time, re-imports, cancellations, refunds and debt."""

from __future__ import annotations

from sqlalchemy import func, select

from patron.core.db import transaction
from patron.loyalty import orders, service
from patron.loyalty.models import Entry, Lot, Member
from patron.loyalty.schemas import RefundCreate, RefundLine
from patron.loyalty.service import line_points
from tests.loyalty.conftest import Program, order

# Hand-computed under RULE_V1 (1 point per NT$100, tea ×2, floor per line):
#   O1 line 1: P1 tea 2 × 680 = 1360.00 → 136000 minor × 1 × 200 % / 10000 = 27.2 → 27
#   O1 line 2: P2 coffee 250.50 → 2.505 → 2;  first-purchase bonus 50 → C001 earns 79
#   O2: 250.50 < the NT$300 minimum spend → 0;  O3 pending → 0
# Under RULE_V2 (2 per NT$100): O4 P2 4 × 250.50 = 1002.00 → 20.04 → 20 (no bonus in v2)
FIRST = [
    order("O1", 1, "C001", "2026-03-01T10:00:00+08:00", "completed", "P1", 2, "680"),
    order("O1", 2, "C001", "2026-03-01T10:00:00+08:00", "completed", "P2", 1, "250.50"),
    order("O2", 1, "C001", "2026-03-05T10:00:00+08:00", "completed", "P2", 1, "250.50"),
    order("O3", 1, "C002", "2026-03-02T10:00:00+08:00", "pending", "P1", 1, "680"),
    order("O4", 1, "C002", "2026-07-01T10:00:00+08:00", "completed", "P2", 4, "250.50"),
]


def _points(program: Program, customer: str) -> tuple[int, int]:
    with transaction(program.engine) as session:
        read = service.balance(session, workspace_id=program.workspace.id, customer_external_id=customer)
    return read.points, read.debt


def _entry_count(program: Program) -> int:
    with transaction(program.engine) as session:
        return int(
            session.scalar(select(func.count()).where(Entry.workspace_id == program.workspace.id)) or 0
        )


def _check_clean(program: Program) -> None:
    with transaction(program.engine) as session:
        report = service.check(session, workspace_id=program.workspace.id)
    assert report.differences == []


def test_imported_orders_earn_by_the_rule_of_their_time_and_a_reimport_earns_nothing_twice(
    program: Program,
) -> None:
    program.import_orders(FIRST)
    assert _points(program, "C001") == (79, 0)
    assert _points(program, "C002") == (20, 0)
    with transaction(program.engine) as session:
        o1 = orders.order_points(session, workspace_id=program.workspace.id, order_external_id="O1")
        o4 = orders.order_points(session, workspace_id=program.workspace.id, order_external_id="O4")
    assert [(p.line_no, p.points) for p in o1.lines] == [(None, 50), (1, 27), (2, 2)]
    assert (o1.rule_version, o1.points, o4.rule_version, o4.points) == (1, 79, 2, 20)
    count = _entry_count(program)
    assert count == 4  # O1: two lines and the bonus; O4: one line

    program.import_orders(FIRST, name="again.csv")  # the same orders again: unchanged, nothing moves
    with transaction(program.engine) as session:
        report = orders.sync_orders(session, workspace=program.workspace)  # and the full sync job
    assert (report.orders, report.entries) == (4, 0)
    assert _entry_count(program) == count and _points(program, "C001") == (79, 0)

    # O3 is paid now: it earns by v1, the rule of 2 March — P1 tea 680 → 13.6 → 13 — and, being C002's
    # first order under a rule with a bonus (v2 has none), the 50-point first-purchase bonus.
    program.import_orders(
        [order("O3", 1, "C002", "2026-03-02T10:00:00+08:00", "paid", "P1", 1, "680")], "o3.csv"
    )
    assert _points(program, "C002") == (20 + 13 + 50, 0)
    _check_clean(program)


def test_a_cancelled_order_gives_back_exactly_what_it_earned_and_spent_points_become_debt(
    program: Program,
) -> None:
    program.import_orders(FIRST)
    with transaction(program.engine) as session:
        service.redeem(session, workspace=program.workspace, customer_external_id="C001", points=70,
                       reason="voucher", idempotency_key="r-1")  # fmt: skip
    assert _points(program, "C001") == (9, 0)
    cancelled = [(*row[:4], "cancelled", *row[5:]) for row in FIRST[:2]]
    program.import_orders(cancelled, "cancel.csv")
    # 79 given back: the 9 still in O1's lots, and 70 already spent become debt.
    assert _points(program, "C001") == (0, 70)
    with transaction(program.engine) as session:
        o1 = orders.order_points(session, workspace_id=program.workspace.id, order_external_id="O1")
        kinds = session.execute(
            select(Entry.kind, Entry.reason, Entry.points, Entry.debt_delta)
            .where(Entry.workspace_id == program.workspace.id, Entry.order_external_id == "O1",
                   Entry.kind == "reverse")
            .order_by(Entry.id)
        ).all()  # fmt: skip
    assert o1.points == 0
    assert [tuple(k) for k in kinds] == [
        ("reverse", "order_cancelled", -50, 41),  # bonus first: 9 from the lots, 41 owed
        ("reverse", "order_cancelled", -27, 27),
        ("reverse", "order_cancelled", -2, 2),
    ]
    # The next earning repays the debt first: O5, tea 2 × 680 under v2 (no multiplier) = 27.2 → 27.
    program.import_orders(
        [order("O5", 1, "C001", "2026-11-01T10:00:00+08:00", "completed", "P1", 2, "680")], "o5.csv"
    )
    assert _points(program, "C001") == (0, 43)
    program.import_orders(cancelled, "cancel-again.csv")  # cancelled again: nothing more to give back
    assert _points(program, "C001") == (0, 43)
    _check_clean(program)


def test_refunded_lines_give_back_their_share_and_a_retry_moves_nothing(program: Program) -> None:
    # O6: P1 3 × 680 = 2040.00 under v2 → 40.8 → 40 points.
    program.import_orders([order("O6", 1, "C003", "2026-08-01T10:00:00+08:00", "completed", "P1", 3, "680")])
    ws = program.workspace
    assert _points(program, "C003") == (40, 0)
    one = RefundCreate(idempotency_key="refund-1", lines=[RefundLine(line_no=1, quantity=1)])
    with transaction(program.engine) as session:
        result = orders.refund_order(session, workspace=ws, order_external_id="O6", data=one)
    assert (result.points, result.replayed) == (27, False)  # 40 − ⌊40 × 1 / 3⌋ = 40 − 13
    with transaction(program.engine) as session:
        again = orders.refund_order(session, workspace=ws, order_external_id="O6", data=one)
    assert (again.points, again.replayed) == (27, True)
    assert _points(program, "C003") == (27, 0)
    with transaction(program.engine) as session:
        try:
            orders.refund_order(session, workspace=ws, order_external_id="O6",
                                data=RefundCreate(idempotency_key="refund-2", lines=[RefundLine(line_no=1, quantity=3)]))  # fmt: skip
        except service.PatronError as error:
            assert (error.code, error.status, error.params["left"]) == ("loyalty.refund_too_much", 409, 2)
        else:
            raise AssertionError("refunding more than was bought must fail")
    with transaction(program.engine) as session:
        rest = orders.refund_order(session, workspace=ws, order_external_id="O6",
                                   data=RefundCreate(idempotency_key="refund-3"))  # fmt: skip
    assert rest.points == 0 and _points(program, "C003") == (0, 0)  # the whole 40 back, no rounding left over
    _check_clean(program)


def test_entries_are_only_ever_appended(program: Program) -> None:
    program.import_orders(FIRST)
    with transaction(program.engine) as session:
        before = [tuple(r) for r in session.execute(select(Entry.id, Entry.points, Entry.debt_delta)
                                                    .where(Entry.workspace_id == program.workspace.id))]  # fmt: skip
    cancelled = [(*row[:4], "returned", *row[5:]) for row in FIRST]
    program.import_orders(cancelled, "returned.csv")
    with transaction(program.engine) as session:
        after = [tuple(r) for r in session.execute(select(Entry.id, Entry.points, Entry.debt_delta)
                                                   .where(Entry.workspace_id == program.workspace.id))]  # fmt: skip
        members = session.scalars(select(Member).where(Member.workspace_id == program.workspace.id)).all()
        live = session.scalar(select(func.sum(Lot.remaining)).where(Lot.workspace_id == program.workspace.id))
    assert set(before) <= set(after) and len(after) == len(before) * 2
    assert all(m.points == 0 and m.debt == 0 for m in members) and live == 0


def test_line_points_by_hand() -> None:
    from datetime import UTC, datetime

    from patron.loyalty.models import EarnRule

    rule = EarnRule(
        points_per_unit=3, unit_minor=5000, currency="TWD", category_multipliers={"tea": 150, "gift": 0},
        bonus_periods=[
            {"start": "2026-12-05T00:00:00+08:00", "end": "2026-12-07T00:00:00+08:00", "percent": 200},
            {"start": "2026-12-06T00:00:00+08:00", "end": "2026-12-08T00:00:00+08:00", "percent": 300},
        ],
    )  # fmt: skip
    plain = datetime(2026, 12, 1, 4, tzinfo=UTC)
    saturday = datetime(2026, 12, 5, 4, tzinfo=UTC)  # 12:00 in Taipei, inside the first period only
    sunday = datetime(2026, 12, 6, 4, tzinfo=UTC)  # inside both: the higher applies, they do not multiply
    # NT$1,234.56 = 123456 minor: 123456 × 3 / 5000 = 74.07 → 74; tea ×1.5 → 111.1 → 111
    assert line_points(rule, amount_minor=123456, category=None, ordered_at=plain) == 74
    assert line_points(rule, amount_minor=123456, category="tea", ordered_at=plain) == 111
    assert line_points(rule, amount_minor=123456, category="tea", ordered_at=saturday) == 222  # 222.2
    assert line_points(rule, amount_minor=123456, category="tea", ordered_at=sunday) == 333  # 333.3
    assert line_points(rule, amount_minor=123456, category="gift", ordered_at=sunday) == 0
    assert line_points(rule, amount_minor=-500, category=None, ordered_at=plain) == 0


def test_a_new_rule_version_never_changes_what_an_order_earned(program: Program) -> None:
    from patron.loyalty.schemas import EarnRuleCreate

    program.import_orders(FIRST)
    with transaction(program.engine) as session:
        service.add_rule(session, workspace=program.workspace, actor="tests", data=EarnRuleCreate(
            effective_from=None, currency="TWD", points_per_unit=10, per_amount="1"))  # fmt: skip
        orders.sync_orders(session, workspace=program.workspace)
    assert _points(program, "C001") == (79, 0)  # still v1's 79 after v3 (10 points per NT$1) came in
    # O1's line 2 changes (2 coffees instead of 1): the line earns again by O1's own version, v1: 501.00 → 5.
    changed = [FIRST[0], order("O1", 2, "C001", "2026-03-01T10:00:00+08:00", "completed", "P2", 2, "250.50")]
    program.import_orders(changed, "changed.csv")
    with transaction(program.engine) as session:
        o1 = orders.order_points(session, workspace_id=program.workspace.id, order_external_id="O1")
        versions = set(session.scalars(select(Entry.rule_version).where(Entry.order_external_id == "O1",
                                                                        Entry.workspace_id == program.workspace.id)))  # fmt: skip
    assert [(p.line_no, p.points) for p in o1.lines] == [(None, 50), (1, 27), (2, 5)] and versions == {1}
    _check_clean(program)
