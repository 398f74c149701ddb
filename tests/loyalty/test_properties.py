"""Random sequences of earning, redemption, withdrawal, orders cancelled or partly refunded, and expiry runs,
over many months: after every step the balance is the sum of the live lots, never negative, and every point is
accounted for (the check finds no difference)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from patron.commerce.models import Order, OrderLine
from patron.core import clock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.customers.models import Customer
from patron.loyalty import orders, service
from patron.loyalty.models import Lot, Member
from patron.loyalty.schemas import RefundCreate, RefundLine
from tests.loyalty.conftest import Program, utc

START = utc("2026-11-24T02:00:00+00:00")
_ids = itertools.count(1)

step = st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 80)),
    st.tuples(st.just("redeem"), st.integers(1, 120)),
    st.tuples(st.just("withdraw"), st.integers(1, 60)),
    st.tuples(st.just("order"), st.integers(1, 4)),  # units of NT$680 (13 points each under v2)
    st.tuples(st.just("refund"), st.integers(1, 4)),
    st.tuples(st.just("cancel"), st.just(0)),
    st.tuples(st.just("expire"), st.just(0)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(step, st.integers(0, 120)), min_size=1, max_size=25))
def test_random_sequences_keep_every_point_accounted_for(
    program: Program, steps: list[tuple[tuple[str, int], int]]
) -> None:
    ws = program.workspace
    n = next(_ids)
    customer_id = f"H{n:05d}"
    with transaction(program.engine) as session:
        customer = Customer(workspace_id=ws.id, external_id=customer_id)
        session.add(customer)
        session.flush()
        cid = customer.id
    now, placed = START, []
    for index, ((kind, amount), days) in enumerate(steps):
        now += timedelta(days=days)
        key = f"h{n}-{index}"
        with clock.frozen(now):
            try:
                with transaction(program.engine) as session:
                    if kind == "earn":
                        service.adjust(session, workspace=ws, customer_external_id=customer_id, points=amount,
                                       reason="earn", idempotency_key=key, actor="hypothesis")  # fmt: skip
                    elif kind in ("redeem", "withdraw"):
                        call = service.redeem if kind == "redeem" else service.adjust
                        points = amount if kind == "redeem" else -amount
                        extra = {} if kind == "redeem" else {"actor": "hypothesis"}
                        call(session, workspace=ws, customer_external_id=customer_id, points=points, reason=kind,
                             idempotency_key=key, **extra)  # type: ignore[operator]  # fmt: skip
                    elif kind == "order":
                        order = Order(workspace_id=ws.id, external_id=f"HO{n}-{index}", customer_id=cid,
                                      ordered_at=now, status="completed", currency="TWD", total_minor=68000 * amount)  # fmt: skip
                        session.add(order)
                        session.flush()
                        session.add(OrderLine(workspace_id=ws.id, order_id=order.id, line_no=1, quantity=amount,
                                              unit_price_minor=68000, discount_minor=0, amount_minor=68000 * amount))  # fmt: skip
                        session.flush()
                        orders.sync_orders(session, workspace=ws, order_ids=[order.id])
                        placed.append(order.external_id)
                    elif kind == "refund" and placed:
                        orders.refund_order(session, workspace=ws, order_external_id=placed[-1],
                                            data=RefundCreate(idempotency_key=key, lines=[RefundLine(line_no=1, quantity=amount)]))  # fmt: skip
                    elif kind == "cancel" and placed:
                        session.execute(update(Order).where(Order.workspace_id == ws.id, Order.external_id == placed[0])
                                        .values(status="cancelled"))  # fmt: skip
                        orders.sync_orders(session, workspace=ws, order_ids=list(session.scalars(
                            select(Order.id).where(Order.workspace_id == ws.id, Order.external_id == placed[0]))))  # fmt: skip
                    elif kind == "expire":
                        service.expire_due(session, workspace_id=ws.id)
            except PatronError as error:  # refused steps move nothing
                assert error.code in (
                    "loyalty.insufficient_points",
                    "loyalty.refund_too_much",
                    "loyalty.nothing_to_refund",
                    "loyalty.member_not_found",  # redeeming before ever earning
                )
            with transaction(program.engine) as session:
                report = service.check(session, workspace_id=ws.id)
                assert report.differences == []
                member = session.scalar(
                    select(Member).where(Member.workspace_id == ws.id, Member.customer_id == cid)
                )
                if member is None:
                    continue
                assert member.points >= 0 and member.debt >= 0
                live = sum(
                    lot.remaining
                    for lot in session.scalars(
                        select(Lot).where(Lot.workspace_id == ws.id, Lot.member_id == member.id)
                    )
                    if lot.expires_at is None or lot.expires_at > now
                )
                read = service.balance(session, workspace_id=ws.id, customer_external_id=customer_id)
                assert read.points == live and read.debt == member.debt
