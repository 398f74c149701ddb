"""Birthday rewards: by tier, once per member and calendar year, and a changed birthday never brings a second one
within a year."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from patron.core.db import transaction
from patron.customers.models import Customer
from patron.loyalty import service
from patron.loyalty.birthday import give_birthday_rewards
from patron.loyalty.models import Entry
from tests.loyalty.conftest import Program, utc
from tests.loyalty.test_tiers import add_tiers, coffee, import_at


def _birthday(program: Program, customer: str, day: date) -> None:
    with transaction(program.engine) as session:
        session.execute(
            update(Customer)
            .where(Customer.workspace_id == program.workspace.id, Customer.external_id == customer)
            .values(birthday=day)
        )


def _run(program: Program, at: str) -> tuple[int, int, int]:
    with transaction(program.engine) as session:
        report = give_birthday_rewards(session, workspace=program.workspace, now=utc(at))
    return report.rewarded, report.points, report.waiting


def test_birthday_rewards_once_a_year_by_tier_whatever_the_birthday_says(program: Program) -> None:
    add_tiers(program)  # birthday points: 一般會員 100, 高級會員 300
    # C001 is 高級會員 (NT$10,020 in the window); customers C001–C004 were born in January.
    import_at(
        program, "2026-12-01T10:00:00+08:00", [coffee("O1", "C001", "2026-11-30T10:00:00+08:00", 40)], "o.csv"
    )
    with transaction(program.engine) as session:
        for customer in ("C002", "C003"):
            service.enrol(session, workspace=program.workspace, customer_external_id=customer)
    # January 2027 (Taipei): C001 300 + C002 100 + C003 100; C004 is no member.
    assert _run(program, "2027-01-10T02:00:00Z") == (3, 500, 0)
    assert _run(program, "2027-01-20T02:00:00Z") == (0, 0, 0)  # the job again: nothing
    # C002 moves the birthday to March: already rewarded in 2027, nothing in March.
    _birthday(program, "C002", date(1990, 3, 15))
    assert _run(program, "2027-03-10T02:00:00Z") == (0, 0, 0)
    # C004 joins with a December birthday, rewarded in December 2027, then moves it to January:
    # January 2028 is within 12 months of that reward, so C004 waits; C001 and C003 get theirs (300 + 100).
    _birthday(program, "C004", date(1990, 12, 24))
    with transaction(program.engine) as session:
        service.enrol(session, workspace=program.workspace, customer_external_id="C004")
    assert _run(program, "2027-12-05T02:00:00Z") == (1, 100, 0)
    _birthday(program, "C004", date(1990, 1, 2))
    assert _run(program, "2028-01-05T02:00:00Z") == (2, 400, 1)
    # 31 Dec 2027 16:30 UTC is already 1 Jan 2028 in Taipei: C004 still waits, the others have theirs.
    assert _run(program, "2027-12-31T16:30:00Z") == (0, 0, 1)
    with transaction(program.engine) as session:
        rows = session.execute(
            select(Entry.points, Entry.reason, Entry.source_ref)
            .where(Entry.workspace_id == program.workspace.id, Entry.source == "birthday")
            .order_by(Entry.id)
        ).all()
        assert service.check(session, workspace_id=program.workspace.id).differences == []
    assert [tuple(r) for r in rows] == [
        (300, "birthday", "premium"), (100, "birthday", "member"), (100, "birthday", "member"),
        (100, "birthday", "member"), (300, "birthday", "premium"), (100, "birthday", "member"),
    ]  # fmt: skip
