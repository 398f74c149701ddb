"""Tiers: who is 一般會員, 高級會員 or VIP, decided by qualifying spend in a rolling window, never by balance.

A tier set is versioned program data (``TierSet``): each tier's threshold of qualifying spend in the rolling
``window_months`` (12) and its benefits. Qualifying spend is what a member's orders in an earning status paid
(lines' amounts, refunded units' share taken off) in the window, in the set's currency: a balance of points —
adjusted, given for a birthday, bought cheaply — never promotes anyone.

- **Upgrade at once**: after the points of orders are synced (``loyalty.orders.sync_orders``), every member of
  those orders whose spend in the window now reaches a higher threshold moves up (``upgrade``).
- **Downgrade only at the yearly review** (``review``, on or after the 1st of ``review_month``, workspace's
  zone), against the spend in the ``window_months`` before that day. The grace rule: a member who reached their
  tier less than ``grace_months`` before the review keeps it (``review_grace``); otherwise a member below their
  tier's threshold drops **one** tier per review (``review_downgrade``), never below what their spend qualifies for.

Every change is a ``TierMove`` with its reason and the spend that decided it; ``benefits`` is the one function
other code reads a member's benefits with. docs/loyalty.md has the rules and examples.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from patron.commerce.models import Order, OrderLine
from patron.core import validation
from patron.core.clock import as_utc, utcnow
from patron.core.documents import load_structured
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.i18n import translate
from patron.core.models import Workspace
from patron.core.money import from_minor, known_currencies
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.loyalty.models import Member, MemberTier, Program, Refund, TierMove, TierSet
from patron.loyalty.schemas import (
    TIER_LOCALES,
    MemberTierRead,
    ReviewReport,
    TierDefinition,
    TierMoveRead,
    TierRead,
    TierSetCreate,
    TierSetRead,
)
from patron.loyalty.service import EARNING_STATUSES, _amount_minor, _lock_members

_CHUNK = 500


class InvalidTiers(PatronError):
    """A tier file or body that does not validate; each problem says where it is."""

    def __init__(self, source: str, problems: list[validation.Problem]) -> None:
        super().__init__("loyalty.invalid_tiers", source=source)
        self.problems = problems

    def message(self, locale: str | None = None) -> str:
        return translate(self.code, locale, **self.params, problems=validation.summary(self.problems, locale))

    def details(self, locale: str | None = None) -> list[dict[str, Any]]:
        return [{"location": p.path, "message": p.message(locale), "type": p.code} for p in self.problems]


# --------------------------------------------------------------------------------------------- tier sets
def load_tier_file(path: Path) -> TierSetCreate:
    """A tier-set version from a YAML or JSON file (chosen by extension)."""
    document = load_structured(path, "loyalty.unreadable_tiers")
    return parse_tiers(document, str(path))


def parse_tiers(document: Any, source: str) -> TierSetCreate:
    try:
        return TierSetCreate.model_validate(document)
    except ValidationError as exc:
        raise InvalidTiers(source, validation.problems(exc, document)) from None


def _tier_name(tier: dict[str, Any], locale: str | None) -> str:
    names: dict[str, str] = tier["names"]
    return names.get(locale or "", "") or names.get("en", "") or next(iter(names.values()), tier["code"])


def tier_read(tier: dict[str, Any], currency: str, locale: str | None = None) -> TierRead:
    return TierRead(
        code=tier["code"],
        name=_tier_name(tier, locale),
        names=dict(tier["names"]),
        threshold=str(from_minor(int(tier["threshold_minor"]), currency)),
        threshold_minor=int(tier["threshold_minor"]),
        discount_percent=int(tier["discount_percent"]),
        points_percent=int(tier["points_percent"]),
        birthday_points=int(tier["birthday_points"]),
        exclusive_events=bool(tier["exclusive_events"]),
        early_access=bool(tier["early_access"]),
    )


def tier_set_read(tier_set: TierSet, locale: str | None = None) -> TierSetRead:
    return TierSetRead(
        version=tier_set.version,
        effective_from=tier_set.effective_from,
        currency=tier_set.currency,
        window_months=tier_set.window_months,
        review_month=tier_set.review_month,
        grace_months=tier_set.grace_months,
        tiers=[tier_read(t, tier_set.currency, locale) for t in tier_set.tiers],
        created_by=tier_set.created_by,
    )


def add_tier_set(
    session: Session,
    *,
    workspace: Workspace,
    data: TierSetCreate,
    actor: str | None = None,
    locale: str | None = None,
) -> TierSetRead:
    """A new tier-set version, from ``effective_from`` (now when not given), never before the latest one. The
    lowest tier's threshold is 0, thresholds rise strictly, codes are unique and every tier is named in zh-Hant,
    zh-Hans and en. Members keep their tier codes; a code the new version lacks reads as its lowest tier."""
    program = session.scalar(scoped(Program, workspace.id).with_for_update())  # one version at a time
    if program is None:
        raise NotFound("loyalty.no_program")
    currency = data.currency.upper()
    if currency not in known_currencies():
        raise PatronError("workspace.bad_currency", currency=data.currency)
    tiers: list[dict[str, Any]] = []
    previous: int | None = None
    for tier in data.tiers:
        missing = [loc for loc in TIER_LOCALES if not tier.names.get(loc, "").strip()]
        if missing:
            raise PatronError("loyalty.tier_names", tier=tier.code, missing=", ".join(missing))
        if any(t["code"] == tier.code for t in tiers):
            raise PatronError("loyalty.tier_duplicate", tier=tier.code)
        threshold = _amount_minor(tier.threshold, currency, "threshold")
        if previous is None and threshold != 0:
            raise PatronError("loyalty.tier_first_threshold", tier=tier.code, threshold=tier.threshold)
        if previous is not None and threshold <= previous:
            raise PatronError("loyalty.tier_thresholds", tier=tier.code, threshold=tier.threshold)
        previous = threshold
        tiers.append(_tier_dict(tier, threshold))
    effective_from = as_utc(data.effective_from) if data.effective_from else utcnow()
    latest = session.scalar(scoped(TierSet, workspace.id).order_by(TierSet.version.desc()).limit(1))
    if latest is not None and effective_from < latest.effective_from:
        raise Conflict(
            "loyalty.rule_before_latest",
            effective_from=effective_from.isoformat(),
            latest=latest.effective_from.isoformat(),
            version=latest.version,
        )
    tier_set = TierSet(
        workspace_id=workspace.id,
        version=(latest.version if latest else 0) + 1,
        effective_from=effective_from,
        currency=currency,
        window_months=data.window_months,
        review_month=data.review_month,
        grace_months=data.grace_months,
        tiers=tiers,
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(tier_set)
    session.flush()
    del program
    return tier_set_read(tier_set, locale)


def _tier_dict(tier: TierDefinition, threshold_minor: int) -> dict[str, Any]:
    return {
        "code": tier.code,
        "names": {loc: tier.names[loc].strip() for loc in tier.names},
        "threshold_minor": threshold_minor,
        "discount_percent": tier.discount_percent,
        "points_percent": tier.points_percent,
        "birthday_points": tier.birthday_points,
        "exclusive_events": tier.exclusive_events,
        "early_access": tier.early_access,
    }


def list_tier_sets(session: Session, *, workspace_id: int, locale: str | None = None) -> list[TierSetRead]:
    rows = session.scalars(scoped(TierSet, workspace_id).order_by(TierSet.version))
    return [tier_set_read(t, locale) for t in rows]


def current_set(session: Session, workspace_id: int, at: datetime | None = None) -> TierSet | None:
    """The version in force at ``at`` (now): the latest that started by then."""
    moment = at or utcnow()
    return session.scalar(
        scoped(TierSet, workspace_id, TierSet.effective_from <= moment)
        .order_by(TierSet.version.desc())
        .limit(1)
    )


def tier_index(tier_set: TierSet, code: str | None) -> int:
    """The position of ``code`` in the set (0, the lowest, for none or a code the version lacks)."""
    for index, tier in enumerate(tier_set.tiers):
        if tier["code"] == code:
            return index
    return 0


def qualifying_index(tier_set: TierSet, spend_minor: int) -> int:
    """The highest tier whose threshold ``spend_minor`` reaches."""
    best = 0
    for index, tier in enumerate(tier_set.tiers):
        if spend_minor >= int(tier["threshold_minor"]):
            best = index
    return best


# --------------------------------------------------------------------------------------------- spend
def months_before(moment: datetime, months: int, zone: str) -> datetime:
    """``months`` calendar months before ``moment`` on the workspace's clock, the day clamped to the month's
    last (31 May − 3 months = 28 or 29 February), as UTC."""
    local = moment.astimezone(ZoneInfo(zone))
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return as_utc(local.replace(year=year, month=month + 1, day=day))


def window(tier_set: TierSet, end: datetime, zone: str) -> tuple[datetime, datetime]:
    """The rolling window ending at ``end``: orders placed at or after its start and before ``end`` count."""
    return months_before(end, tier_set.window_months, zone), end


def spend(
    session: Session, *, workspace_id: int, currency: str, start: datetime, end: datetime,
    customer_ids: Sequence[int] | None = None,
) -> dict[int, int]:  # fmt: skip
    """{customer id: qualifying spend (minor units)} of orders in an earning status placed in [start, end), in
    ``currency``: the lines' amounts, each less its refunded share (⌊amount × refunded units / units⌋, the same
    share ``loyalty.orders`` takes points back by). Customers without such orders are left out."""
    where: list[Any] = [
        Order.workspace_id == workspace_id,
        Order.status.in_(sorted(EARNING_STATUSES)),
        Order.currency == currency,
        Order.ordered_at >= start,
        Order.ordered_at < end,
    ]
    if customer_ids is not None:
        where.append(Order.customer_id.in_(list(customer_ids)))
    joined = and_(OrderLine.workspace_id == Order.workspace_id, OrderLine.order_id == Order.id)
    totals: dict[int, int] = {
        customer: int(amount)
        for customer, amount in session.execute(
            select(Order.customer_id, func.sum(OrderLine.amount_minor))
            .join(OrderLine, joined)
            .where(*where)
            .group_by(Order.customer_id)
        )
    }
    refunded = (
        select(Refund.order_id, Refund.line_no, func.sum(Refund.quantity).label("units"))
        .where(Refund.workspace_id == workspace_id)
        .group_by(Refund.order_id, Refund.line_no)
        .subquery()
    )
    for customer, amount, quantity, units in session.execute(
        select(Order.customer_id, OrderLine.amount_minor, OrderLine.quantity, refunded.c.units)
        .join(OrderLine, joined)
        .join(refunded, and_(refunded.c.order_id == Order.id, refunded.c.line_no == OrderLine.line_no))
        .where(*where)
    ):
        if quantity > 0 and amount > 0:
            totals[customer] -= int(amount) * min(int(units), int(quantity)) // int(quantity)
    return totals


# --------------------------------------------------------------------------------------------- moves
def _statuses(session: Session, workspace_id: int, member_ids: Iterable[int]) -> dict[int, MemberTier]:
    ids = list(member_ids)
    if not ids:
        return {}
    return {
        s.member_id: s
        for s in session.scalars(
            scoped(MemberTier, workspace_id, MemberTier.member_id.in_(ids)).execution_options(
                populate_existing=True
            )
        )
    }


def _move(
    session: Session, member: Member, status: MemberTier | None, tier_set: TierSet, to: int, reason: str,
    spend_minor: int, now: datetime, *, since: datetime | None = None, reviewed_year: int | None = None,
) -> MemberTier:  # fmt: skip
    """Record a move (or a kept tier at a review) and set the member's tier; ``since`` changes with the tier."""
    code = tier_set.tiers[to]["code"]
    before = status.tier if status is not None else tier_set.tiers[0]["code"]
    if status is None:
        status = MemberTier(workspace_id=member.workspace_id, member_id=member.id, tier=code, since=now)
        session.add(status)
    if code != before:
        status.tier = code
        status.since = since or now
    if reviewed_year is not None:
        status.reviewed_year = reviewed_year
    session.add(
        TierMove(
            workspace_id=member.workspace_id, member_id=member.id, from_tier=before, to_tier=code, reason=reason,
            qualifying_minor=spend_minor, tier_set_version=tier_set.version, created_at=now,
        )
    )  # fmt: skip
    return status


def upgrade(
    session: Session, *, workspace: Workspace, members: Iterable[Member], now: datetime | None = None
) -> int:
    """Move up every one of these members (locked by the caller) whose spend in the window ending now reaches a
    higher tier's threshold; never down. The number moved."""
    moment = now or utcnow()
    tier_set = current_set(session, workspace.id, moment)
    held = {m.customer_id: m for m in members}
    if tier_set is None or len(tier_set.tiers) < 2 or not held:
        return 0
    start, end = window(tier_set, moment, workspace.timezone)
    moved = 0
    for first in range(0, len(held), _CHUNK):
        chunk = sorted(held)[first : first + _CHUNK]
        spent = spend(session, workspace_id=workspace.id, currency=tier_set.currency, start=start, end=end,
                      customer_ids=chunk)  # fmt: skip
        statuses = _statuses(session, workspace.id, (held[c].id for c in chunk))
        for customer_id in chunk:
            amount = spent.get(customer_id, 0)
            target = qualifying_index(tier_set, amount)
            if target == 0:
                continue
            member = held[customer_id]
            status = statuses.get(member.id)
            if target > tier_index(tier_set, status.tier if status else None):
                _move(session, member, status, tier_set, target, "upgrade", amount, moment)
                moved += 1
    session.flush()
    return moved


def review_moment(tier_set: TierSet, year: int, zone: str) -> datetime:
    """The yearly review of ``year``: the 1st of the review month, midnight on the workspace's clock."""
    return as_utc(datetime(year, tier_set.review_month, 1, tzinfo=ZoneInfo(zone)))


def review(session: Session, *, workspace: Workspace, now: datetime | None = None) -> ReviewReport:
    """The yearly review, for a scheduler to run daily: nothing before this year's review day; on or after it,
    every member above the lowest tier, not yet reviewed this year and holding the tier since before the review
    day, is judged on the spend in the window that ends on the review day (so the day the job runs changes
    nothing), under the grace rule (module docstring).
    Safe to run twice or at once: members are locked and their review year re-read under the lock."""
    moment = now or utcnow()
    year = moment.astimezone(ZoneInfo(workspace.timezone)).year
    tier_set = current_set(session, workspace.id, moment)
    report = ReviewReport(year=year, due=False, members=0, kept=0, grace=0, downgraded=0, upgraded=0)
    if tier_set is None:
        return report
    at = review_moment(tier_set, year, workspace.timezone)
    if moment < at:
        return report
    report.due = True
    start, end = window(tier_set, at, workspace.timezone)
    grace_from = months_before(at, tier_set.grace_months, workspace.timezone)
    lowest = tier_set.tiers[0]["code"]
    customer_ids = list(
        session.scalars(
            select(Member.customer_id)
            .join(MemberTier, and_(MemberTier.workspace_id == Member.workspace_id, MemberTier.member_id == Member.id))
            .where(
                Member.workspace_id == workspace.id,
                MemberTier.tier != lowest,
                (MemberTier.reviewed_year.is_(None)) | (MemberTier.reviewed_year < year),
                MemberTier.since < at,
            )
            .order_by(Member.customer_id)
        )
    )  # fmt: skip
    for first in range(0, len(customer_ids), _CHUNK):
        chunk = customer_ids[first : first + _CHUNK]
        members = _lock_members(session, workspace.id, chunk)
        spent = spend(session, workspace_id=workspace.id, currency=tier_set.currency, start=start, end=end,
                      customer_ids=chunk)  # fmt: skip
        statuses = _statuses(session, workspace.id, (m.id for m in members.values()))
        for customer_id in chunk:
            member = members[customer_id]
            status = statuses.get(member.id)
            if status is None or status.tier == lowest or (status.reviewed_year or 0) >= year:
                continue  # reviewed by a run at the same time, or moved down meanwhile
            if as_utc(status.since) >= at:
                continue  # reached after this year's review day: next year's review judges it
            amount = spent.get(customer_id, 0)
            current = tier_index(tier_set, status.tier)
            qualifies = qualifying_index(tier_set, amount)
            report.members += 1
            if qualifies > current:
                _move(session, member, status, tier_set, qualifies, "review_upgrade", amount, moment,
                      since=at, reviewed_year=year)  # fmt: skip
                report.upgraded += 1
            elif qualifies == current:
                _move(session, member, status, tier_set, current, "review_kept", amount, moment,
                      reviewed_year=year)  # fmt: skip
                report.kept += 1
            elif as_utc(status.since) > grace_from:
                _move(session, member, status, tier_set, current, "review_grace", amount, moment,
                      reviewed_year=year)  # fmt: skip
                report.grace += 1
            else:
                _move(session, member, status, tier_set, max(qualifies, current - 1), "review_downgrade", amount,
                      moment, since=at, reviewed_year=year)  # fmt: skip
                report.downgraded += 1
        session.flush()
    return report


# --------------------------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Benefits:
    """What a member's tier gives, for any part of Patron (earning reads ``points_percent``)."""

    tier: str
    name: str
    discount_percent: int
    points_percent: int
    birthday_points: int
    exclusive_events: bool
    early_access: bool


def _benefits(tier: dict[str, Any], locale: str | None) -> Benefits:
    return Benefits(
        tier=tier["code"],
        name=_tier_name(tier, locale),
        discount_percent=int(tier["discount_percent"]),
        points_percent=int(tier["points_percent"]),
        birthday_points=int(tier["birthday_points"]),
        exclusive_events=bool(tier["exclusive_events"]),
        early_access=bool(tier["early_access"]),
    )


def member_benefits(
    session: Session, workspace_id: int, member_ids: Iterable[int], at: datetime | None = None,
    locale: str | None = None,
) -> dict[int, Benefits]:  # fmt: skip
    """{member id: benefits} of the tier each member holds under the version in force; {} without tiers."""
    tier_set = current_set(session, workspace_id, at)
    ids = list(member_ids)
    if tier_set is None or not ids:
        return {}
    statuses = _statuses(session, workspace_id, ids)
    return {
        m: _benefits(
            tier_set.tiers[tier_index(tier_set, statuses[m].tier if m in statuses else None)], locale
        )
        for m in ids
    }


def benefits(
    session: Session, *, workspace_id: int, customer_id: int, locale: str | None = None
) -> Benefits | None:
    """The one function other code reads a customer's tier benefits with: None when the customer is no member or
    the program has no tiers."""
    member_id = session.scalar(
        select(Member.id).where(Member.workspace_id == workspace_id, Member.customer_id == customer_id)
    )
    if member_id is None:
        return None
    return member_benefits(session, workspace_id, [member_id], locale=locale).get(member_id)


def _member(session: Session, workspace_id: int, external_id: str) -> tuple[Customer, Member]:
    customer = session.scalar(scoped(Customer, workspace_id, Customer.external_id == external_id))
    member = (
        session.scalar(scoped(Member, workspace_id, Member.customer_id == customer.id)) if customer else None
    )
    if customer is None or member is None:
        raise NotFound("loyalty.member_not_found", customer=external_id)
    return customer, member


def member_tier(
    session: Session, *, workspace: Workspace, customer_external_id: str, locale: str | None = None,
    history: int = 50,
) -> MemberTierRead:  # fmt: skip
    """A member's tier, spend in the window ending now, the next tier and how far it is, and the latest moves."""
    tier_set = current_set(session, workspace.id)
    if tier_set is None:
        raise NotFound("loyalty.no_tiers")
    customer, member = _member(session, workspace.id, customer_external_id)
    now = utcnow()
    start, end = window(tier_set, now, workspace.timezone)
    amount = spend(session, workspace_id=workspace.id, currency=tier_set.currency, start=start, end=end,
                   customer_ids=[customer.id]).get(customer.id, 0)  # fmt: skip
    status = _statuses(session, workspace.id, [member.id]).get(member.id)
    index = tier_index(tier_set, status.tier if status else None)
    following = tier_set.tiers[index + 1] if index + 1 < len(tier_set.tiers) else None
    currency = tier_set.currency
    to_next = max(0, int(following["threshold_minor"]) - amount) if following else None
    progress = 100
    if following is not None:
        progress = min(100, amount * 100 // max(1, int(following["threshold_minor"])))
    moves = session.scalars(
        scoped(TierMove, workspace.id, TierMove.member_id == member.id)
        .order_by(TierMove.id.desc())
        .limit(history)
    )
    return MemberTierRead(
        customer_id=customer_external_id,
        tier=tier_read(tier_set.tiers[index], currency, locale),
        since=status.since if status and index > 0 else None,
        currency=currency,
        window_start=start,
        window_end=end,
        qualifying=str(from_minor(amount, currency)),
        qualifying_minor=amount,
        next_tier=tier_read(following, currency, locale) if following else None,
        to_next=str(from_minor(to_next, currency)) if to_next is not None else None,
        to_next_minor=to_next,
        progress_percent=progress,
        history=[
            TierMoveRead(
                from_tier=m.from_tier, to_tier=m.to_tier, reason=m.reason,
                qualifying=str(from_minor(m.qualifying_minor, currency)), qualifying_minor=m.qualifying_minor,
                tier_set_version=m.tier_set_version, created_at=m.created_at,
            )
            for m in moves
        ],
    )  # fmt: skip


def members_by_tier(session: Session, workspace_id: int) -> list[tuple[dict[str, Any], int]]:
    """[(tier, members)] under the version in force, lowest first (members without a tier row in the lowest;
    members who left the program not counted)."""
    tier_set = current_set(session, workspace_id)
    if tier_set is None:
        return []
    active = select(Member.id).where(Member.workspace_id == workspace_id, Member.left_at.is_(None))
    total = int(session.scalar(select(func.count()).select_from(active.subquery())) or 0)
    counts = [0] * len(tier_set.tiers)
    placed = 0
    for code, count in session.execute(
        select(MemberTier.tier, func.count())
        .where(MemberTier.workspace_id == workspace_id, MemberTier.member_id.in_(active))
        .group_by(MemberTier.tier)
    ):
        counts[tier_index(tier_set, code)] += int(count)
        placed += int(count)
    counts[0] += total - placed
    return list(zip(tier_set.tiers, counts, strict=True))
