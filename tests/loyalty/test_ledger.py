"""Redemption, adjustment, idempotency, lots and expiry, and the consistency check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from patron.core import clock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.loyalty import service
from patron.loyalty.models import Entry, ExpiryPolicy, Lot, LotMove, Member, Program
from tests.loyalty.conftest import Program as Fixture


def _adjust(fx: Fixture, points: int, key: str, customer: str = "C001") -> service.OperationRead:
    with transaction(fx.engine) as session:
        return service.adjust(session, workspace=fx.workspace, customer_external_id=customer, points=points,
                              reason="goodwill", idempotency_key=key, actor="manager@example.com")  # fmt: skip


def _redeem(fx: Fixture, points: int, key: str, customer: str = "C001") -> service.OperationRead:
    with transaction(fx.engine) as session:
        return service.redeem(session, workspace=fx.workspace, customer_external_id=customer, points=points,
                              reason="voucher", idempotency_key=key)  # fmt: skip


def _lots(fx: Fixture) -> list[tuple[datetime | None, int]]:
    with transaction(fx.engine) as session:
        rows = session.execute(
            select(Lot.expires_at, Lot.remaining).where(Lot.workspace_id == fx.workspace.id).order_by(Lot.id)
        ).all()
    return [(at, remaining) for at, remaining in rows]


def _error(action: object) -> PatronError:
    with pytest.raises(PatronError) as caught:
        action()  # type: ignore[operator]
    return caught.value


def test_redemption_takes_the_lots_expiring_first_and_expiry_takes_the_rest_once(program: Fixture) -> None:
    # Lots earned on 10 Jan and 10 Feb (Taipei) expire 12 months later, 10 Jan and 10 Feb 2027.
    with clock.frozen(datetime(2026, 2, 10, 4, tzinfo=UTC)):
        _adjust(program, 50, "feb")
    with clock.frozen(datetime(2026, 1, 10, 4, tzinfo=UTC)):
        _adjust(program, 50, "jan")
    result = _redeem(program, 60, "r1")
    assert (result.entry.points, result.balance.points, result.replayed) == (-60, 40, False)
    jan, feb = datetime(2027, 1, 10, 4, tzinfo=UTC), datetime(2027, 2, 10, 4, tzinfo=UTC)
    assert _lots(program) == [(feb, 40), (jan, 0)]
    with transaction(program.engine) as session:
        report = service.expire_due(
            session, workspace_id=program.workspace.id, now=datetime(2027, 1, 11, tzinfo=UTC)
        )
    assert (report.lots, report.points) == (0, 0)  # the January lot was spent
    for _ in range(2):  # the job run twice expires the February lot once
        with transaction(program.engine) as session:
            report = service.expire_due(
                session, workspace_id=program.workspace.id, now=datetime(2027, 2, 10, 4, tzinfo=UTC)
            )
    assert (report.lots, report.points) == (0, 0)
    with transaction(program.engine) as session:
        kinds = session.execute(
            select(Entry.kind, Entry.points)
            .where(Entry.workspace_id == program.workspace.id)
            .order_by(Entry.id)
        ).all()
        assert service.check(session, workspace_id=program.workspace.id).differences == []
    assert [tuple(k) for k in kinds] == [("adjust", 50), ("adjust", 50), ("redeem", -60), ("expire", -40)]
    assert _lots(program) == [(feb, 0), (jan, 0)]


def test_a_retry_moves_nothing_and_a_reused_key_is_refused(program: Fixture) -> None:
    _adjust(program, 100, "gift-1")
    again = _adjust(program, 100, "gift-1")
    assert again.replayed and again.balance.points == 100
    first = _redeem(program, 30, "order-77")
    retry = _redeem(program, 30, "order-77")
    assert retry.replayed and retry.entry.id == first.entry.id and retry.balance.points == 70
    error = _error(lambda: _redeem(program, 31, "order-77"))
    assert (error.code, error.status) == ("loyalty.key_reused", 409)
    _adjust(program, 40, "c2", customer="C002")
    error = _error(lambda: _redeem(program, 30, "order-77", customer="C002"))  # another member, same key
    assert (error.code, error.status) == ("loyalty.key_reused", 409)


def test_bad_requests_move_nothing(program: Fixture) -> None:
    _adjust(program, 10, "seed")
    for action, code, status in (
        (lambda: _redeem(program, 11, "too-much"), "loyalty.insufficient_points", 409),
        (lambda: _redeem(program, -5, "negative"), "loyalty.bad_points", 400),
        (lambda: _redeem(program, 0, "zero"), "loyalty.bad_points", 400),
        (lambda: _redeem(program, 5, "nobody", customer="C999"), "loyalty.member_not_found", 404),
        (lambda: _adjust(program, -11, "below-zero"), "loyalty.insufficient_points", 409),
    ):
        error = _error(action)
        assert (error.code, error.status) == (code, status)
    assert "10" in _error(lambda: _redeem(program, 11, "x")).message("en")
    with transaction(program.engine) as session:
        count = len(session.scalars(select(Entry).where(Entry.workspace_id == program.workspace.id)).all())
    assert count == 1 and _lots(program)[0][1] == 10


def test_expiry_policies() -> None:
    program = Program(workspace_id=0, name="x", expiry_policy=ExpiryPolicy.MONTHS.value, expiry_months=1)
    # 31 March (Taipei) + 1 month = 30 April, same local time.
    assert service.expiry_for(program, datetime(2026, 3, 31, 2, tzinfo=UTC), "Asia/Taipei") == datetime(
        2026, 4, 30, 2, tzinfo=UTC
    )
    program.expiry_months = 12  # 29 Feb 2028 + 12 months = 28 Feb 2029
    assert service.expiry_for(program, datetime(2028, 2, 29, 2, tzinfo=UTC), "Asia/Taipei") == datetime(
        2029, 2, 28, 2, tzinfo=UTC
    )
    program.expiry_policy = ExpiryPolicy.END_OF_NEXT_YEAR.value
    # Earned 31 Dec 2026 20:00 UTC = 1 Jan 2027 04:00 in Taipei: expires at the end of 2028 there.
    assert service.expiry_for(program, datetime(2026, 12, 31, 20, tzinfo=UTC), "Asia/Taipei") == datetime(
        2028, 12, 31, 16, tzinfo=UTC
    )
    program.expiry_policy = ExpiryPolicy.NEVER.value
    assert service.expiry_for(program, datetime(2026, 1, 1, tzinfo=UTC), "Asia/Taipei") is None


def test_balance_tells_what_expires_soon_and_leaves_out_what_is_due(program: Fixture) -> None:
    # The suite's clock starts 2026-11-24T02:00Z; with 1-month expiry a lot earned on 1 Nov expires on 1 Dec.
    with transaction(program.engine) as session:
        session.execute(
            update(Program).where(Program.workspace_id == program.workspace.id).values(expiry_months=1)
        )
    with clock.frozen(datetime(2026, 11, 1, 4, tzinfo=UTC)):
        _adjust(program, 25, "nov")
    with clock.frozen(datetime(2026, 10, 1, 4, tzinfo=UTC)):
        _adjust(program, 5, "oct")  # due on 1 Nov: not yet expired by the job, but not spendable
    with transaction(program.engine) as session:
        read = service.balance(session, workspace_id=program.workspace.id, customer_external_id="C001")
    assert read.points == 25
    assert [(e.points, e.expires_at) for e in read.expiring_soon] == [
        (25, datetime(2026, 12, 1, 4, tzinfo=UTC))
    ]
    error = _error(lambda: _redeem(program, 26, "r"))
    assert error.params == {"points": 26, "balance": 25}  # the redemption expired the due lot first


def test_the_check_finds_a_balance_that_does_not_add_up(program: Fixture) -> None:
    _adjust(program, 40, "a")
    _redeem(program, 15, "b")
    with transaction(program.engine) as session:
        assert service.check(session, workspace_id=program.workspace.id).differences == []
        member_id = session.scalar(select(Member.id).where(Member.workspace_id == program.workspace.id))
        session.execute(update(Member).where(Member.id == member_id).values(points=26))
        lot_id = session.scalar(select(LotMove.lot_id).where(LotMove.workspace_id == program.workspace.id))
        session.execute(update(Lot).where(Lot.id == lot_id).values(remaining=24))
    with transaction(program.engine) as session:
        report = service.check(session, workspace_id=program.workspace.id)
    found = {(d.what, d.expected, d.found) for d in report.differences}
    assert found == {
        ("lot_remaining", 25, 24),
        ("member_points_from_lots", 24, 26),
        ("member_net_from_entries", 25, 26),
    }
