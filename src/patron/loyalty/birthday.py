"""Birthday rewards: points by tier (``birthday_points``) once a year, in the member's birthday month.

``give_birthday_rewards`` is the job a scheduler runs (daily is fine): in the workspace's zone, for this month,
every member whose customer's birthday falls in it and who has had no reward this calendar year gets their
tier's birthday points as an ``earn`` entry (source ``birthday``, reason ``birthday``), expiring by the
program's policy, and a ``BirthdayReward`` row (unique per member and year: the database itself refuses a
second one). Changing the birthday cannot give a second reward within a year: a member already rewarded this
calendar year gets nothing more, and when the birthday month differs from the month of the last reward (the
birthday was changed), the next reward waits until 12 months after the last one.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, extract, select
from sqlalchemy.orm import Session

from patron.core.clock import as_utc, utcnow
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.loyalty import tiers
from patron.loyalty.models import BirthdayReward, EntryKind, Member, Source
from patron.loyalty.schemas import BirthdayReport
from patron.loyalty.service import (
    _credit,
    _lock_members,
    _New,
    add_months,
    expiry_for,
    get_program,
    marketing_audience,
)

_CHUNK = 500


def give_birthday_rewards(
    session: Session, *, workspace: Workspace, now: datetime | None = None
) -> BirthdayReport:
    """Reward this month's birthdays (see the module). Safe to run twice or at once: members are locked and
    their rewards re-read under the lock, and (member, year) is unique."""
    moment = now or utcnow()
    local = moment.astimezone(ZoneInfo(workspace.timezone))
    report = BirthdayReport(year=local.year, month=local.month, rewarded=0, points=0, waiting=0)
    program = get_program(session, workspace.id)
    if program is None or tiers.current_set(session, workspace.id, moment) is None:
        return report
    rewarded = select(BirthdayReward.member_id).where(
        BirthdayReward.workspace_id == workspace.id, BirthdayReward.year == local.year
    )
    customer_ids = list(
        session.scalars(
            select(Member.customer_id)
            .join(
                Customer,
                and_(Customer.workspace_id == Member.workspace_id, Customer.id == Member.customer_id),
            )
            .where(
                Member.workspace_id == workspace.id,
                Member.left_at.is_(None),
                Customer.birthday.is_not(None),
                extract("month", Customer.birthday) == local.month,
                Member.id.not_in(rewarded),
            )
            .order_by(Member.customer_id)
        )
    )
    greeted: list[int] = []
    for first in range(0, len(customer_ids), _CHUNK):
        members = _lock_members(session, workspace.id, customer_ids[first : first + _CHUNK])
        ids = [m.id for m in members.values()]
        benefits = tiers.member_benefits(session, workspace.id, ids, moment)
        last: dict[int, BirthdayReward] = {}
        for row in session.scalars(
            select(BirthdayReward)
            .where(BirthdayReward.workspace_id == workspace.id, BirthdayReward.member_id.in_(ids))
            .order_by(BirthdayReward.year)
            .execution_options(populate_existing=True)
        ):
            last[row.member_id] = row  # the latest year wins
        for member in sorted(members.values(), key=lambda m: m.id):
            previous = last.get(member.id)
            if previous is not None and previous.year >= local.year:
                continue  # a run at the same time gave it
            if (
                previous is not None
                and previous.month != local.month
                and moment < add_months(as_utc(previous.given_at), 12, workspace.timezone)
            ):
                report.waiting += 1  # the birthday was changed: 12 months from the last reward first
                continue
            benefit = benefits.get(member.id)
            if benefit is None or benefit.birthday_points <= 0:
                continue
            new = _New(EntryKind.EARN, "birthday", Source.BIRTHDAY, f"birthday:{member.id}:{local.year}",
                       source_ref=benefit.tier)  # fmt: skip
            entry = _credit(session, member, new, benefit.birthday_points, earned_at=moment,
                            expires_at=expiry_for(program, moment, workspace.timezone), now=moment)  # fmt: skip
            session.add(
                BirthdayReward(
                    workspace_id=workspace.id, member_id=member.id, year=local.year, month=local.month,
                    tier=benefit.tier, points=benefit.birthday_points, entry_id=entry.id, given_at=moment,
                )
            )  # fmt: skip
            report.rewarded += 1
            report.points += benefit.birthday_points
            greeted.append(member.id)
        session.flush()
    # The greeting is a marketing message: only to those whose consent allows it (the message itself is sent
    # by the care domain; this is its audience).
    audience = marketing_audience(session, workspace.id, greeted)
    report.greet_email = sum(1 for channels in audience.values() if "email" in channels)
    report.greet_sms = sum(1 for channels in audience.values() if "sms" in channels)
    return report
