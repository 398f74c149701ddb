"""The set-wise earning of ``loyalty.orders`` (the default) against the row path it replaced (``row_by_row``):
the same mixed import — three rule versions, category and product multipliers, a bonus weekend, tiers crossed
inside a chunk, first-purchase bonuses, minimum spend, a pending order paid later, a cancellation after
spending (debt), a partial refund, debt repaid by later earning — run once each way in two workspaces of one
database, with chunks of three orders so that chunks end inside a member's orders, gives identical entries,
lots, moves, balances and tier moves; the numbers are worked out by hand below."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.commerce.models import Order
from patron.core.clock import frozen
from patron.core.db import transaction
from patron.customers.models import Customer
from patron.importers import import_file
from patron.loyalty import orders, service
from patron.loyalty.models import Entry, Lot, LotMove, Member, Refund, TierMove
from patron.loyalty.schemas import EarnRuleCreate, RefundCreate, RefundLine
from tests.factories import write_csv
from tests.loyalty.conftest import Program, make_program, order, utc
from tests.loyalty.test_tiers import add_tiers, import_at

_SYNC = orders.sync_orders  # the real one, whatever a test patches in

#: v3 from 1 Sep 2026: 1 point per NT$100; tea ×2, coffee ×0; P3 ×3 and P2 ×1.5 by product (they take
#: precedence); double points on 3–4 October (Taipei); 30 points on the first purchase.
RULE_V3: dict[str, Any] = {
    "effective_from": "2026-09-01T00:00:00+08:00",
    "currency": "TWD",
    "points_per_unit": 1,
    "per_amount": "100",
    "category_multipliers": {"tea": 200, "coffee": 0},
    "product_multipliers": {"P3": 300, "P2": 150},
    "bonus_periods": [
        {"start": "2026-10-03T00:00:00+08:00", "end": "2026-10-05T00:00:00+08:00", "percent": 200}
    ],
    "first_purchase_bonus": 30,
}


def _at(day: str) -> str:
    return f"{day}T10:00:00+08:00"


# Imported on 5 Oct 2026 three orders at a time, each import one chunk: [A1 A2 A3] [A4 A5 A6] [A7 A8 A9].
BATCH_1 = [
    # v1 (1 per NT$100, tea ×2, bonus 50, NT$300 minimum): 136,000 × 200 % / 10,000 = 27.2 → 27; 2.505 → 2; +50
    order("A1", 1, "C001", _at("2026-03-01"), "completed", "P1", 2, "680"),
    order("A1", 2, "C001", _at("2026-03-01"), "completed", "P2", 1, "250.50"),
    # v3, P2 ×1.5: 1,002,000 × 150 % / 10,000 = 150.3 → 150; NT$10,020 crosses 高級會員's NT$10,000 ...
    order("A2", 1, "C001", _at("2026-09-10"), "completed", "P2", 40, "250.50"),
    # ... but in the same chunk A3 earns at the tier the chunk started with (100 %): Saturday 3 Oct, P3 ×3,
    # double: 135,000 × 300 % × 200 % / 10,000 = 81
    order("A3", 1, "C001", _at("2026-10-03"), "completed", "P3", 3, "450"),
    order("A4", 1, "C002", _at("2026-03-02"), "pending", "P1", 1, "680"),  # pending: nothing yet
    # v2 (2 per NT$100, no bonus): 100,200 × 2 / 10,000 = 20.04 → 20
    order("A5", 1, "C003", _at("2026-07-01"), "completed", "P2", 4, "250.50"),
    # Next chunk, C001 高級會員 (150 %): Sunday 4 Oct, tea ×2, double: 68,000 × 200 % × 200 % × 150 % = 40.8 → 40
    order("A6", 1, "C001", _at("2026-10-04"), "completed", "P1", 1, "680"),
    # v3: P3 45,000 × 300 % = 13.5 → 13 and the 30-point first-purchase bonus; A8 tea 13.6 → 13, no second bonus
    order("A7", 1, "C004", _at("2026-09-20"), "completed", "P3", 1, "450"),
    order("A8", 1, "C004", _at("2026-09-21"), "completed", "P1", 1, "680"),
    order("A9", 1, "C003", _at("2026-02-01"), "completed", "P2", 1, "250.50"),  # NT$250.50 < NT$300: 0
]
# Synced on 1 Nov, one chunk: A1 cancelled after C001 spent 320 of 350 (79 back: 30 from lots, 49 owed);
# A4 paid: v1 tea 13.6 → 13 and C002's first bonus, 50; A13 v3 P2 50,100 × 150 % = 7.515 → 7.
BATCH_2 = [
    order("A1", 1, "C001", _at("2026-03-01"), "cancelled", "P1", 2, "680"),
    order("A1", 2, "C001", _at("2026-03-01"), "cancelled", "P2", 1, "250.50"),
    order("A4", 1, "C002", _at("2026-03-02"), "paid", "P1", 1, "680"),
    order("A13", 1, "C004", _at("2026-10-25"), "completed", "P2", 2, "250.50"),
]
# Synced on 10 Nov: A14 v3 tea ×2 at 150 %: 204,000 × 200 % × 150 % / 10,000 = 61.2 → 61, which repays C001's
# 49 owed first (12 left in a lot); A15 P3 90,000 × 300 % = 27.
BATCH_3 = [
    order("A14", 1, "C001", _at("2026-11-09"), "completed", "P1", 3, "680"),
    order("A15", 1, "C002", _at("2026-11-09"), "completed", "P3", 2, "450"),
]


def _run(engine: Engine, folder: Path, *, row_by_row: bool, monkeypatch: pytest.MonkeyPatch) -> Program:
    program = make_program(engine, folder)
    products = write_csv(folder / "p3.csv", ("external_id", "name", "category", "price"),
                         [("P3", "冠軍東方美人", "tea", "450")])  # fmt: skip
    import_file(engine, workspace_slug=program.workspace.slug, kind="products", path=products)
    with transaction(engine) as session:
        service.add_rule(session, workspace=program.workspace, actor="tests",
                         data=EarnRuleCreate.model_validate(RULE_V3))  # fmt: skip
    add_tiers(program)
    ws = program.workspace
    with monkeypatch.context() as patch:
        patch.setattr(orders, "_CHUNK", 3)
        # Every sync of the run — the importer's, the refund's, the full one — takes the same path.
        patch.setattr(orders, "sync_orders", functools.partial(_SYNC, row_by_row=row_by_row))
        for n, rows in enumerate((BATCH_1[:4], BATCH_1[4:7], BATCH_1[7:])):  # (A1 has two lines)
            import_at(program, f"2026-10-05T12:{n}0:00+08:00", rows, f"b1-{n}.csv")
        with frozen(utc("2026-10-06T12:00:00+08:00")), transaction(engine) as session:
            service.redeem(session, workspace=ws, customer_external_id="C001", points=320, reason="voucher",
                           idempotency_key="r-1")  # fmt: skip
        import_at(program, "2026-11-01T12:00:00+08:00", BATCH_2, "b2.csv")
        # C003 gives back 1 of A5's 4 units: 20 − ⌊20 × 3 / 4⌋ = 5 points back.
        with frozen(utc("2026-11-02T12:00:00+08:00")), transaction(engine) as session:
            orders.refund_order(session, workspace=ws, order_external_id="A5",
                                data=RefundCreate(idempotency_key="f-1", lines=[RefundLine(line_no=1, quantity=1)]))  # fmt: skip
        import_at(program, "2026-11-10T12:00:00+08:00", BATCH_3, "b3.csv")
        with frozen(utc("2026-11-11T12:00:00+08:00")), transaction(engine) as session:
            again = orders.sync_orders(session, workspace=ws)
        assert (again.orders, again.entries) == (12, 0)  # the 12 orders of members: nothing moves twice
    return program


def _ledger(program: Program) -> dict[str, Any]:
    """Everything the two paths must agree on, with database ids replaced by what they stand for."""
    ws = program.workspace.id
    with transaction(program.engine) as session:
        customers = dict(session.execute(select(Customer.id, Customer.external_id).where(Customer.workspace_id == ws)).all())  # fmt: skip
        members = {m.id: customers[m.customer_id] for m in session.scalars(select(Member).where(Member.workspace_id == ws))}  # fmt: skip
        order_names = dict(session.execute(select(Order.id, Order.external_id).where(Order.workspace_id == ws)).all())  # fmt: skip

        def key(text: str) -> str:
            text = re.sub(r"^order:(\d+):", lambda m: f"order:{order_names[int(m[1])]}:", text)
            return re.sub(r"^first_purchase:(\d+)$", lambda m: f"first_purchase:{members[int(m[1])]}", text)

        entries = {
            e.id: (members[e.member_id], e.kind, e.points, e.debt_delta, e.reason, e.source, e.order_external_id,
                   e.line_no, e.rule_version, key(e.idempotency_key), e.tier_percent, e.created_at)
            for e in session.scalars(select(Entry).where(Entry.workspace_id == ws))
        }  # fmt: skip
        lots = {
            lot.id: (members[lot.member_id], entries[lot.entry_id][9], lot.earned_at, lot.expires_at, lot.points,
                     lot.remaining)
            for lot in session.scalars(select(Lot).where(Lot.workspace_id == ws))
        }  # fmt: skip
        moves = sorted(
            (entries[m.entry_id][9], lots[m.lot_id][1], m.points)
            for m in session.scalars(select(LotMove).where(LotMove.workspace_id == ws))
        )
        balances = sorted(
            (members[m.id], m.points, m.debt) for m in session.scalars(select(Member).where(Member.workspace_id == ws))
        )  # fmt: skip
        moved = sorted(
            (members[t.member_id], t.from_tier, t.to_tier, t.reason, t.qualifying_minor, t.created_at)
            for t in session.scalars(select(TierMove).where(TierMove.workspace_id == ws))
        )
        refunds = [(r.line_no, r.quantity, r.points_reversed) for r in session.scalars(select(Refund).where(Refund.workspace_id == ws))]  # fmt: skip
        assert service.check(session, workspace_id=ws).differences == []
    return {
        "entries": sorted(entries.values(), key=lambda e: e[9]),
        "lots": sorted(lots.values(), key=lambda lot: lot[1]),
        "moves": moves,
        "balances": balances,
        "tier_moves": moved,
        "refunds": refunds,
    }


def test_setwise_earning_writes_exactly_what_the_row_path_writes(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _ledger(_run(engine, tmp_path / "rows", row_by_row=True, monkeypatch=monkeypatch))
    setwise = _ledger(_run(engine, tmp_path / "setwise", row_by_row=False, monkeypatch=monkeypatch))
    assert setwise == rows
    earned = [(e[6], e[7], e[2], e[8], e[10]) for e in setwise["entries"] if e[1] == "earn"]
    # (order, line, points, rule version, tier %): by hand above; the bonus lines have no tier multiplier.
    assert sorted(earned, key=str) == sorted([
        ("A1", None, 50, 1, None), ("A1", 1, 27, 1, 100), ("A1", 2, 2, 1, 100), ("A2", 1, 150, 3, 100),
        ("A3", 1, 81, 3, 100), ("A6", 1, 40, 3, 150), ("A7", None, 30, 3, None), ("A7", 1, 13, 3, 100),
        ("A8", 1, 13, 3, 100), ("A5", 1, 20, 2, 100), ("A4", None, 50, 1, None), ("A4", 1, 13, 1, 100),
        ("A13", 1, 7, 3, 100), ("A14", 1, 61, 3, 150), ("A15", 1, 27, 3, 100),
    ], key=str)  # fmt: skip
    reversed_ = sorted(((e[6], e[7], e[2], e[3]) for e in setwise["entries"] if e[1] == "reverse"), key=str)
    # A1's 79 back, its bonus first: 30 still in lots, then 49 owed; A5's refunded unit: 5 from its lot.
    assert reversed_ == sorted(
        [("A1", None, -50, 20), ("A1", 1, -27, 27), ("A1", 2, -2, 2), ("A5", 1, -5, 0)], key=str
    )
    a14 = next(e for e in setwise["entries"] if e[6] == "A14")
    assert (a14[2], a14[3]) == (61, -49)  # the debt repaid first ...
    assert [lot[4] for lot in setwise["lots"] if lot[1] == a14[9]] == [12]  # ... the rest in a lot
    # C001 350 − 320 spent − 79 back = 49 owed, then 61 earned; C002 13 + 50 + 27; C003 20 − 5; C004 13 + 30 + 13 + 7.
    assert setwise["balances"] == [("C001", 12, 0), ("C002", 90, 0), ("C003", 15, 0), ("C004", 63, 0)]
    # C001 crossed NT$10,000 with A2: upgraded after the chunk, on NT$1,610.50 + NT$10,020 + NT$1,350.
    assert [(m[0], m[1], m[2], m[4]) for m in setwise["tier_moves"]] == [
        ("C001", "member", "premium", 1_298_050)
    ]
    assert setwise["refunds"] == [(1, 1, 5)]
