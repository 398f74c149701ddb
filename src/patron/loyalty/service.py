"""The points ledger: earning from orders by versioned rules, redemption, adjustment, reversal, expiry, check.

Every change to a member's points happens under that member's row lock (``_lock_members``, always in id
order; on SQLite the process's writer queue and ``BEGIN IMMEDIATE`` serialise instead), re-reads what it needs
after taking the lock, and writes an entry whose idempotency key is unique in the workspace. Services never
commit. The rules chosen (reversal after spending becomes debt, bonus once per member, …) are in docs/loyalty.md.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import ScalarSelect, Table, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.commerce.models import Order, OrderStatus
from patron.core import validation
from patron.core.clock import as_utc, utcnow
from patron.core.documents import load_structured
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.i18n import translate
from patron.core.models import Workspace
from patron.core.money import from_minor, known_currencies, parse_decimal, to_minor
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.loyalty.models import (
    EarnRule,
    Enrolment,
    Entry,
    EntryKind,
    ExpiryPolicy,
    Lot,
    LotMove,
    Member,
    Program,
    Source,
)
from patron.loyalty.schemas import (
    BalanceRead,
    BonusPeriod,
    CheckDifference,
    CheckReport,
    EarnRuleCreate,
    EarnRuleRead,
    EntryPage,
    EntryRead,
    ExpiringPoints,
    ExpiryReport,
    MembershipRead,
    OperationRead,
    ProgramRead,
    ProgramUpdate,
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
#: Members are told about points expiring within this many days (``BalanceRead.expiring_soon``).
EXPIRY_NOTICE_DAYS = 30
_CHUNK = 500


class InvalidRules(PatronError):
    """An earn-rule file or body that does not validate; each problem says where it is."""

    def __init__(self, source: str, problems: list[validation.Problem]) -> None:
        super().__init__("loyalty.invalid_rules", source=source)
        self.problems = problems

    def message(self, locale: str | None = None) -> str:
        return translate(self.code, locale, **self.params, problems=validation.summary(self.problems, locale))

    def details(self, locale: str | None = None) -> list[dict[str, Any]]:
        return [{"location": p.path, "message": p.message(locale), "type": p.code} for p in self.problems]


# --------------------------------------------------------------------------------------------- program
def get_program(session: Session, workspace_id: int) -> Program | None:
    return session.scalar(scoped(Program, workspace_id))


def require_program(session: Session, workspace_id: int) -> Program:
    program = get_program(session, workspace_id)
    if program is None:
        raise NotFound("loyalty.no_program")
    return program


def program_read(program: Program) -> ProgramRead:
    return ProgramRead(
        name=program.name,
        expiry_policy=ExpiryPolicy(program.expiry_policy),
        expiry_months=program.expiry_months,
        point_value=point_value_text(program.point_value_ten_thousandths),
        enrolment=Enrolment(program.enrolment),
    )


def point_value(program: Program) -> Decimal | None:
    """What one point is worth in the workspace's currency (major units), None when no value is set."""
    stored = program.point_value_ten_thousandths
    return None if stored is None else Decimal(stored).scaleb(-4)


def point_value_text(stored: int | None) -> str | None:
    """The stored value as the decimal string it was given in, without trailing zeros ("0.1", "1.25", "2")."""
    if stored is None:
        return None
    text = f"{Decimal(stored).scaleb(-4):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def set_program(session: Session, *, workspace: Workspace, data: ProgramUpdate) -> ProgramRead:
    """Create or change the workspace's program. A new expiry policy applies to points earned from then on."""
    program = get_program(session, workspace.id)
    if program is None:
        program = Program(workspace_id=workspace.id)
        session.add(program)
    program.name = data.name
    program.expiry_policy = data.expiry_policy.value
    program.expiry_months = data.expiry_months
    if data.point_value is not None:
        program.point_value_ten_thousandths = int(Decimal(data.point_value).scaleb(4))
    if data.enrolment is not None:
        program.enrolment = data.enrolment.value
    elif program.enrolment is None:
        program.enrolment = Enrolment.AUTO.value
    session.flush()
    return program_read(program)


@lru_cache(maxsize=4096)
def add_months(moment: datetime, months: int, zone: str) -> datetime:
    """``months`` calendar months later in the workspace's zone, the day clamped to the month's last
    (31 March + 1 month = 30 April), as UTC."""
    local = moment.astimezone(ZoneInfo(zone))
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return as_utc(local.replace(year=year, month=month + 1, day=day))


def expiry_for(program: Program, earned_at: datetime, zone: str) -> datetime | None:
    """When points earned at ``earned_at`` expire (exclusive: a lot is live while now < expires_at)."""
    if program.expiry_policy == ExpiryPolicy.NEVER.value:
        return None
    if program.expiry_policy == ExpiryPolicy.END_OF_NEXT_YEAR.value:
        local = earned_at.astimezone(ZoneInfo(zone))
        return as_utc(datetime(local.year + 2, 1, 1, tzinfo=ZoneInfo(zone)))
    return add_months(earned_at, program.expiry_months, zone)


# --------------------------------------------------------------------------------------------- rules
def load_rule_file(path: Path) -> EarnRuleCreate:
    """An earn-rule version from a YAML or JSON file (chosen by extension)."""
    document = load_structured(path, "loyalty.unreadable_rules")
    return parse_rules(document, str(path))


def parse_rules(document: Any, source: str) -> EarnRuleCreate:
    try:
        return EarnRuleCreate.model_validate(document)
    except ValidationError as exc:
        raise InvalidRules(source, validation.problems(exc, document)) from None


def _amount_minor(text: str, currency: str, field: str) -> int:
    try:
        value = parse_decimal(text)
        minor = to_minor(value, currency)
    except ValueError:
        raise PatronError("loyalty.bad_amount", field=field, value=text, currency=currency) from None
    if minor < 0:
        raise PatronError("loyalty.bad_amount", field=field, value=text, currency=currency)
    return minor


def rule_read(rule: EarnRule) -> EarnRuleRead:
    return EarnRuleRead(
        version=rule.version,
        effective_from=rule.effective_from,
        currency=rule.currency,
        points_per_unit=rule.points_per_unit,
        per_amount=str(from_minor(rule.unit_minor, rule.currency)),
        category_multipliers=dict(rule.category_multipliers),
        product_multipliers=dict(rule.product_multipliers or {}),
        bonus_periods=[BonusPeriod.model_validate(p) for p in rule.bonus_periods],
        first_purchase_bonus=rule.first_purchase_bonus,
        min_spend=str(from_minor(rule.min_spend_minor, rule.currency)),
        created_by=rule.created_by,
    )


def add_rule(
    session: Session, *, workspace: Workspace, data: EarnRuleCreate, actor: str | None = None
) -> EarnRuleRead:
    """A new earn-rule version. It starts at ``effective_from`` (now when not given), never before the latest
    version: orders already earned keep the version they earned by, so history is never rewritten."""
    program = session.scalar(scoped(Program, workspace.id).with_for_update())  # one version at a time
    if program is None:
        raise NotFound("loyalty.no_program")
    currency = data.currency.upper()
    if currency not in known_currencies():
        raise PatronError("workspace.bad_currency", currency=data.currency)
    unit_minor = _amount_minor(data.per_amount, currency, "per_amount")
    if unit_minor == 0:
        raise PatronError("loyalty.bad_amount", field="per_amount", value=data.per_amount, currency=currency)
    min_spend = _amount_minor(data.min_spend, currency, "min_spend")
    for period in data.bonus_periods:
        if period.end <= period.start:
            raise PatronError(
                "loyalty.bad_period", start=period.start.isoformat(), end=period.end.isoformat()
            )
    for category, percent in data.category_multipliers.items():
        if not 0 <= percent <= 10_000:
            raise PatronError("loyalty.bad_multiplier", category=category, percent=percent)
    for product, percent in data.product_multipliers.items():
        if not 0 <= percent <= 10_000:
            raise PatronError("loyalty.bad_product_multiplier", product=product, percent=percent)
    effective_from = as_utc(data.effective_from) if data.effective_from else utcnow()
    latest = session.scalar(scoped(EarnRule, workspace.id).order_by(EarnRule.version.desc()).limit(1))
    if latest is not None and effective_from < latest.effective_from:
        raise Conflict(
            "loyalty.rule_before_latest",
            effective_from=effective_from.isoformat(),
            latest=latest.effective_from.isoformat(),
            version=latest.version,
        )
    rule = EarnRule(
        workspace_id=workspace.id,
        version=(latest.version if latest else 0) + 1,
        effective_from=effective_from,
        currency=currency,
        points_per_unit=data.points_per_unit,
        unit_minor=unit_minor,
        category_multipliers=dict(data.category_multipliers),
        product_multipliers=dict(data.product_multipliers),
        bonus_periods=[p.model_dump(mode="json") for p in data.bonus_periods],
        first_purchase_bonus=data.first_purchase_bonus,
        min_spend_minor=min_spend,
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(rule)
    session.flush()
    del program
    return rule_read(rule)


def list_rules(session: Session, *, workspace_id: int) -> list[EarnRuleRead]:
    return [rule_read(r) for r in session.scalars(scoped(EarnRule, workspace_id).order_by(EarnRule.version))]


def rule_at(rules: Sequence[EarnRule], moment: datetime) -> EarnRule | None:
    chosen = None
    for rule in rules:  # ascending versions, ascending starts
        if rule.effective_from <= moment:
            chosen = rule
    return chosen


def item_percent(rule: EarnRule, *, product: str | None, category: str | None) -> int:
    """The multiplier of one product: its own when the rule names the product (it takes precedence, also over
    a category set to 0), else its category's, else 100 %. One multiplier, never product × category."""
    products = rule.product_multipliers or {}
    if product is not None and product in products:
        return int(products[product])
    return int(rule.category_multipliers.get(category or "", 100))


def bonus_percent_at(rule: EarnRule, ordered_at: datetime) -> int:
    """The bonus of the periods in force at ``ordered_at``: the highest, never multiplied (none: 100 %)."""
    percent = 100
    for period in rule.bonus_periods:
        start, end = datetime.fromisoformat(period["start"]), datetime.fromisoformat(period["end"])
        if start <= ordered_at < end:
            percent = max(percent, int(period["percent"]))
    return percent


def line_points(
    rule: EarnRule,
    *,
    amount_minor: int,
    category: str | None,
    ordered_at: datetime,
    tier_percent: int = 100,
    product: str | None = None,
) -> int:
    """Points a line earns by ``rule``: amount × points_per_unit / unit × product-or-category % × bonus % × the
    member's tier multiplier %, rounded down once (integers throughout: no float ever touches points)."""
    if amount_minor <= 0:
        return 0
    category_percent = item_percent(rule, product=product, category=category)
    bonus_percent = bonus_percent_at(rule, ordered_at)
    return points_of(rule, amount_minor, category_percent * bonus_percent * tier_percent)


def points_of(rule: EarnRule, amount_minor: int, percents: int) -> int:
    """The one rounding of ``line_points``: ``percents`` is the product of the item, bonus and tier percents
    (each ×100), so the division by 10⁶ undoes them; shared with the set-wise earning of ``loyalty.orders``."""
    if amount_minor <= 0:
        return 0
    return amount_minor * rule.points_per_unit * percents // (rule.unit_minor * 1_000_000)


# --------------------------------------------------------------------------------------------- members
def _insert_ignore(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


@dataclass(frozen=True)
class Consent:
    """A customer's recorded consent to join: when it was given, where it was recorded, by whom."""

    at: datetime
    source: str
    by: str | None = None


def enrolment_mode(session: Session, workspace_id: int) -> str:
    """How customers join the workspace's program (``Enrolment``); automatic when there is no program yet."""
    mode = session.scalar(select(Program.enrolment).where(Program.workspace_id == workspace_id))
    return mode or Enrolment.AUTO.value


def _ensure_members(
    session: Session, workspace_id: int, customer_ids: Iterable[int], consent: Consent | None = None
) -> None:
    """Enrol the customers that are not members yet (a concurrent enrolment of the same one is ignored).

    Without ``consent`` the enrolment is automatic (an order arrived): done only when the program enrols
    automatically. A member who left is never enrolled again here (``enrol`` brings them back)."""
    ids = set(customer_ids)
    if not ids:
        return
    mode = enrolment_mode(session, workspace_id)
    if consent is None and mode != Enrolment.AUTO.value:
        return
    ids -= set(
        session.scalars(
            select(Member.customer_id).where(Member.workspace_id == workspace_id, Member.customer_id.in_(ids))
        )
    )
    if not ids:
        return
    now = utcnow()
    statement = _insert_ignore(session)(Member.__table__).on_conflict_do_nothing(
        index_elements=["workspace_id", "customer_id"]
    )
    recorded = {
        "consent_at": consent.at if consent else None,
        "consent_source": consent.source if consent else "auto",
        "consent_by": consent.by if consent else None,
        # Joining by consent: orders earn from the consent on. Automatic programs: every order earns.
        "earns_from": consent.at if consent and mode == Enrolment.CONSENT.value else None,
        "left_at": None,
    }
    # executemany of one cached statement: a multi-row VALUES was compiled anew for every chunk (0.9 s each)
    session.execute(
        statement,
        [
            {
                "workspace_id": workspace_id,
                "customer_id": c,
                "enrolled_at": consent.at if consent else now,  # joined when they consented
                "points": 0,
                "debt": 0,
                "created_at": now,
                "updated_at": now,
                **recorded,
            }
            for c in sorted(ids)
        ],
    )


def _lock_members(session: Session, workspace_id: int, customer_ids: Iterable[int]) -> dict[int, Member]:
    """The members of these customers, locked in id order (the one helper that takes member locks), with
    their cached balances read after the lock."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    statement = scoped(Member, workspace_id, Member.customer_id.in_(ids))
    if session.get_bind().dialect.name == "postgresql":
        # Row locks are taken in the order rows are read. SQLite takes none (its writer lock serialises), and
        # asked to sort it walks every member of the workspace instead of the ids asked for.
        statement = statement.order_by(Member.id)
    members = session.scalars(statement.with_for_update().execution_options(populate_existing=True))
    return {m.customer_id: m for m in sorted(members, key=lambda m: m.id)}


def customer_id_of(workspace_id: int, external_id: str) -> ScalarSelect[int]:
    """The id of customer ``external_id`` as a scalar subquery, for a statement that then finds the member by it.

    PostgreSQL runs it first and once (an InitPlan), through the unique (workspace, external id) index, and then
    seeks the member by (workspace, customer). Written as a join instead, on tables not yet analysed (a new
    program's first minutes) the planner walked every member of the workspace and re-read the workspace's
    customers for each: 9–16 ms at 200 members, 31–69 ms at 500, against 0.06–0.16 ms this way
    (docs/benchmarks.md)."""
    return (
        select(Customer.id)
        .where(Customer.workspace_id == workspace_id, Customer.external_id == external_id)
        .scalar_subquery()
    )


def customer_of_member(workspace_id: int, member_id: int) -> ScalarSelect[int]:
    """The member's customer id as a scalar subquery: the member found first by its key, then the customer by
    its own (written as a join, fresh tables got every customer of the workspace read, as in ``customer_id_of``)."""
    return (
        select(Member.customer_id)
        .where(Member.workspace_id == workspace_id, Member.id == member_id)
        .scalar_subquery()
    )


def _customer(session: Session, workspace_id: int, external_id: str) -> Customer:
    customer = session.scalar(scoped(Customer, workspace_id, Customer.external_id == external_id))
    if customer is None:
        raise NotFound("loyalty.member_not_found", customer=external_id)
    return customer


def _locked_member(
    session: Session, workspace_id: int, external_id: str, *, create: bool, left: bool = False
) -> Member:
    """The member of customer ``external_id``, locked (found and locked in one statement), enrolled first
    when ``create`` (and the program enrols automatically). A member who left is refused unless ``left``."""
    member = session.scalar(
        select(Member)
        .where(
            Member.workspace_id == workspace_id,
            Member.customer_id == customer_id_of(workspace_id, external_id),
        )
        .with_for_update(of=Member)
        .execution_options(populate_existing=True)
    )
    if member is None and create:
        customer = _customer(session, workspace_id, external_id)
        _ensure_members(session, workspace_id, [customer.id])
        member = _lock_members(session, workspace_id, [customer.id]).get(customer.id)
    if member is None:
        raise NotFound("loyalty.member_not_found", customer=external_id)
    if member.left_at is not None and not left:
        raise Conflict("loyalty.member_left", customer=external_id)
    return member


def membership_read(
    member: Member, external_id: str, forfeited: int = 0, written_off: int = 0
) -> MembershipRead:
    return MembershipRead(
        customer_id=external_id, member=member.left_at is None, enrolled_at=member.enrolled_at,
        consent_at=member.consent_at, consent_source=member.consent_source, consent_by=member.consent_by,
        earns_from=member.earns_from, left_at=member.left_at, points=member.points, debt=member.debt,
        forfeited=forfeited, written_off=written_off,
    )  # fmt: skip


def enrol(
    session: Session, *, workspace: Workspace, customer_external_id: str, consent: Consent | None = None
) -> MembershipRead:
    """Enrol a customer with their recorded consent (given now, through the API, when none is passed). A member
    keeps their first record; one who left comes back with a new record, earning from now on and starting at
    zero (what they held was forfeited when they left)."""
    require_program(session, workspace.id)
    given = consent or Consent(at=utcnow(), source="api")
    customer = _customer(session, workspace.id, customer_external_id)
    if given.at > utcnow():
        raise PatronError("loyalty.consent_in_future", at=given.at.isoformat())
    _ensure_members(session, workspace.id, [customer.id], given)
    member = _locked_member(session, workspace.id, customer_external_id, create=False, left=True)
    if member.left_at is not None:
        now = utcnow()
        member.enrolled_at = now
        member.left_at = None
        member.earns_from = now
        member.consent_at, member.consent_source, member.consent_by = given.at, given.source, given.by
        session.flush()
    elif member.consent_at is None:
        # Joined automatically on an order; the consent now given is recorded (what it earns is unchanged).
        member.consent_at, member.consent_source, member.consent_by = given.at, given.source, given.by
        session.flush()
    return membership_read(member, customer_external_id)


def membership(session: Session, *, workspace_id: int, customer_external_id: str) -> MembershipRead:
    customer = _customer(session, workspace_id, customer_external_id)
    member = session.scalar(scoped(Member, workspace_id, Member.customer_id == customer.id))
    if member is None:
        raise NotFound("loyalty.member_not_found", customer=customer_external_id)
    return membership_read(member, customer_external_id)


def unenrol(
    session: Session, *, workspace: Workspace, customer_external_id: str, actor: str, reason: str = "left"
) -> MembershipRead:
    """Take a member out of the program. Their live points are forfeited (an ``expire`` entry per lot, source
    ``leave``: breakage, as at expiry) and any debt is written off (an ``adjust`` entry that repays it), so the
    ledger still adds up; the member row and its history stay. Leaving twice moves nothing."""
    require_program(session, workspace.id)
    member = _locked_member(session, workspace.id, customer_external_id, create=False, left=True)
    if member.left_at is not None:
        return membership_read(member, customer_external_id)
    now = utcnow()
    _expire_member(session, member, now)  # what was due expires as it would have anyway
    stamp = f"{member.id}:{now.isoformat()}"
    forfeited = 0
    for lot in _member_lots(session, member):
        new = _New(EntryKind.EXPIRE, reason, Source.LEAVE, f"leave:lot:{lot.id}", source_ref=actor)
        entry = _entry(session, member, new, -lot.remaining, now)
        session.add(
            LotMove(workspace_id=member.workspace_id, entry_id=entry.id, lot_id=lot.id, points=-lot.remaining)
        )
        member.points -= lot.remaining
        forfeited += lot.remaining
        lot.remaining = 0
    written_off = member.debt
    if written_off:
        new = _New(
            EntryKind.ADJUST, "debt_written_off", Source.LEAVE, f"leave:debt:{stamp}", source_ref=actor
        )
        entry = _entry(session, member, new, written_off, now)
        entry.debt_delta = -written_off
        member.debt = 0
    member.left_at = now
    session.flush()
    return membership_read(member, customer_external_id, forfeited, written_off)


def marketing_audience(
    session: Session, workspace_id: int, member_ids: Sequence[int]
) -> dict[int, list[str]]:
    """The channels each of these members may be sent marketing on (a birthday greeting, an expiry reminder):
    ``email`` when the customer consented to email and has an address, ``sms`` likewise with a phone. Members
    who left, erased customers and those with no consent are not in the answer."""
    audience: dict[int, list[str]] = {}
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), _CHUNK):
        for member_id, email, consent_email, phone, consent_sms in session.execute(
            select(Member.id, Customer.email, Customer.consent_email, Customer.phone, Customer.consent_sms)
            .join(
                Customer,
                and_(Customer.workspace_id == Member.workspace_id, Customer.id == Member.customer_id),
            )
            .where(
                Member.workspace_id == workspace_id,
                Member.id.in_(ids[start : start + _CHUNK]),
                Member.left_at.is_(None),
                Customer.erased_at.is_(None),
            )
        ):
            channels = [
                name
                for name, ok in (("email", consent_email and email), ("sms", consent_sms and phone))
                if ok
            ]
            if channels:
                audience[member_id] = channels
    return audience


# --------------------------------------------------------------------------------------------- ledger primitives
@dataclass
class _New:
    """What an entry is about, besides its points."""

    kind: EntryKind
    reason: str
    source: Source
    key: str
    order: Order | None = None
    line_no: int | None = None
    source_ref: str | None = None
    rule_version: int | None = None
    tier_percent: int | None = None


def _entry_values(member: Member, new: _New, points: int, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": member.workspace_id,
        "member_id": member.id,
        "kind": new.kind.value,
        "points": points,
        "debt_delta": 0,
        "reason": new.reason,
        "source": new.source.value,
        "order_id": new.order.id if new.order else None,
        "order_external_id": new.order.external_id if new.order else None,
        "line_no": new.line_no,
        "source_ref": new.source_ref,
        "rule_version": new.rule_version,
        "idempotency_key": new.key,
        "created_at": now,
        "tier_percent": new.tier_percent,
    }


def _entry(session: Session, member: Member, new: _New, points: int, now: datetime) -> Entry:
    entry = Entry(**_entry_values(member, new, points, now))
    session.add(entry)
    try:
        session.flush()
    except IntegrityError:
        # Only the idempotency key can collide (keys are checked under the member's lock first): the same key
        # was used for another member's operation. The caller's transaction is rolled back whole.
        raise Conflict("loyalty.key_reused", key=new.key) from None
    return entry


def _credit(
    session: Session, member: Member, new: _New, points: int, *, earned_at: datetime, expires_at: datetime | None,
    now: datetime,
) -> Entry:  # fmt: skip
    """Add ``points`` (> 0): they repay the member's debt first, the rest fills a new lot."""
    entry = _entry(session, member, new, points, now)
    repaid = min(points, member.debt)
    entry.debt_delta = -repaid
    member.debt -= repaid
    kept = points - repaid
    if kept:
        lot = Lot(workspace_id=member.workspace_id, member_id=member.id, entry_id=entry.id, earned_at=earned_at,
                  expires_at=expires_at, points=kept, remaining=kept)  # fmt: skip
        session.add(lot)
        session.flush()
        session.add(LotMove(workspace_id=member.workspace_id, entry_id=entry.id, lot_id=lot.id, points=kept))
        member.points += kept
    return entry


#: Rows per multi-row INSERT … RETURNING. PostgreSQL, 5,331 entries in pages of SQLAlchemy's 1,000 rows: 3.7 s and
#: 5.7 s; of 100: 1.3 s and 2.2 s (two runs each on a loaded machine: big statements cost more than their rows).
_PAGE = {"insertmanyvalues_page_size": 100}


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


@dataclass
class Credit:
    """Points to add, for ``credit_many``."""

    member: Member
    new: _New
    points: int
    earned_at: datetime
    expires_at: datetime | None


def credit_many(session: Session, credits: Sequence[Credit], now: datetime) -> None:
    """``_credit`` for many entries at once (members locked): one multi-row insert each of entries, lots and
    moves instead of a flush per row (earning for an import: 210 order lines a second became thousands)."""
    if not credits:
        return
    rows, kept = [], []
    for credit in credits:
        member = credit.member
        repaid = min(credit.points, member.debt)
        member.debt -= repaid
        kept.append(credit.points - repaid)
        member.points += credit.points - repaid
        rows.append({**_entry_values(member, credit.new, credit.points, now), "debt_delta": -repaid})
    # Core statements on the session's connection: the ORM's bulk path cost more than the inserts themselves.
    connection, entries, lots = session.connection(), _table(Entry), _table(Lot)
    try:
        ids = list(
            connection.scalars(
                entries.insert()
                .returning(entries.c.id, sort_by_parameter_order=True)
                .execution_options(**_PAGE),
                rows,
            )
        )
    except IntegrityError:
        raise Conflict("loyalty.key_reused", key=rows[0]["idempotency_key"]) from None
    filled = [
        (credit, points, entry_id)
        for credit, points, entry_id in zip(credits, kept, ids, strict=True)
        if points
    ]
    if not filled:
        return
    lot_ids = list(
        connection.scalars(
            lots.insert().returning(lots.c.id, sort_by_parameter_order=True).execution_options(**_PAGE),
            [
                {
                    "workspace_id": c.member.workspace_id,
                    "member_id": c.member.id,
                    "entry_id": entry_id,
                    "earned_at": c.earned_at,
                    "expires_at": c.expires_at,
                    "points": points,
                    "remaining": points,
                }
                for c, points, entry_id in filled
            ],
        )
    )
    connection.execute(
        _table(LotMove).insert(),
        [
            {"workspace_id": c.member.workspace_id, "entry_id": entry_id, "lot_id": lot_id, "points": points}
            for (c, points, entry_id), lot_id in zip(filled, lot_ids, strict=True)
        ],
    )


def _member_lots(session: Session, member: Member) -> list[Lot]:
    """The member's lots holding points, those expiring first first (read under the member's lock)."""
    return list(
        session.scalars(
            select(Lot)
            .where(Lot.workspace_id == member.workspace_id, Lot.member_id == member.id, Lot.remaining > 0)
            .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.id)
            .execution_options(populate_existing=True)
        )
    )


def _live_lots(
    session: Session, member: Member, now: datetime, first: Sequence[int] = (), lots: list[Lot] | None = None
) -> list[Lot]:
    """The member's live lots with points, ``first`` (ids) before the rest, then those expiring first."""
    held = _member_lots(session, member) if lots is None else lots
    live = [lot for lot in held if lot.remaining > 0 and (lot.expires_at is None or lot.expires_at > now)]
    preferred = set(first)
    lots = live
    return [lot for lot in lots if lot.id in preferred] + [lot for lot in lots if lot.id not in preferred]


def _debit(
    session: Session, member: Member, new: _New, points: int, now: datetime, *, first: Sequence[int] = (),
    allow_debt: bool = False, lots: list[Lot] | None = None,
) -> Entry:  # fmt: skip
    """Take ``points`` (> 0) from the member's live lots, earliest expiry first (``first`` before them); what
    they cannot cover becomes debt when allowed. Callers check the balance first when debt is not allowed."""
    entry = _entry(session, member, new, -points, now)
    left = points
    for lot in _live_lots(session, member, now, first, lots):
        if left == 0:
            break
        taken = min(left, lot.remaining)
        lot.remaining -= taken
        left -= taken
        member.points -= taken
        session.add(
            LotMove(workspace_id=member.workspace_id, entry_id=entry.id, lot_id=lot.id, points=-taken)
        )
    if left:
        if not allow_debt:
            raise Conflict("loyalty.insufficient_points", points=points, balance=points - left)
        entry.debt_delta = left
        member.debt += left
    session.flush()
    return entry


def _expire_member(
    session: Session, member: Member, now: datetime, lots: list[Lot] | None = None
) -> tuple[int, int]:
    """Expire the member's lots that are due (under the member's lock); (lots, points)."""
    held = _member_lots(session, member) if lots is None else lots
    due = [lot for lot in held if lot.remaining > 0 and lot.expires_at is not None and lot.expires_at <= now]
    total = 0
    for lot in due:
        # Nothing ever refills a lot, so it expires at most once: its id makes the key.
        new = _New(EntryKind.EXPIRE, "expiry", Source.EXPIRY, f"expire:lot:{lot.id}")
        entry = _entry(session, member, new, -lot.remaining, now)
        session.add(
            LotMove(workspace_id=member.workspace_id, entry_id=entry.id, lot_id=lot.id, points=-lot.remaining)
        )
        member.points -= lot.remaining
        total += lot.remaining
        lot.remaining = 0
    session.flush()
    return len(due), total


# --------------------------------------------------------------------------------------------- reading
def entry_read(entry: Entry) -> EntryRead:
    return EntryRead(
        id=entry.id, kind=entry.kind, points=entry.points, debt_delta=entry.debt_delta, reason=entry.reason,
        source=entry.source, order_external_id=entry.order_external_id, line_no=entry.line_no,
        source_ref=entry.source_ref, rule_version=entry.rule_version, idempotency_key=entry.idempotency_key,
        created_at=entry.created_at,
    )  # fmt: skip


def _balance(
    session: Session, member: Member, external_id: str, held: list[Lot] | None = None
) -> BalanceRead:
    now = utcnow()
    lots: Sequence[tuple[int, datetime | None]]
    if held is None:
        lots = [
            (remaining, at)
            for remaining, at in session.execute(
                select(Lot.remaining, Lot.expires_at).where(
                    Lot.workspace_id == member.workspace_id, Lot.member_id == member.id, Lot.remaining > 0
                )
            )
        ]
    else:
        lots = [(lot.remaining, lot.expires_at) for lot in held if lot.remaining > 0]
    return balance_of(external_id, member.debt, lots, now)


def balance_of(
    external_id: str, debt: int, lots: Sequence[tuple[int, datetime | None]], now: datetime
) -> BalanceRead:
    """The balance a member with ``debt`` and these lots (remaining, expiry) holding points has at ``now``."""
    live = sum(r for r, at in lots if at is None or as_utc(at) > now)
    horizon = now + timedelta(days=EXPIRY_NOTICE_DAYS)
    soon: dict[datetime, int] = defaultdict(int)
    for remaining, at in lots:
        if at is not None and now < as_utc(at) <= horizon:
            soon[as_utc(at)] += remaining
    return BalanceRead(
        customer_id=external_id,
        points=live,
        debt=debt,
        expiring_soon=[ExpiringPoints(points=p, expires_at=at) for at, p in sorted(soon.items())],
    )


def balance(session: Session, *, workspace_id: int, customer_external_id: str) -> BalanceRead:
    """Live points (lots past their expiry not counted even before the expiry job ran), debt and the points
    expiring in the next ``EXPIRY_NOTICE_DAYS`` days."""
    customer = _customer(session, workspace_id, customer_external_id)
    member = session.scalar(scoped(Member, workspace_id, Member.customer_id == customer.id))
    if member is None:
        raise NotFound("loyalty.member_not_found", customer=customer_external_id)
    return _balance(session, member, customer_external_id)


def entries(
    session: Session, *, workspace_id: int, customer_external_id: str, limit: int = 100, offset: int = 0
) -> EntryPage:
    customer = _customer(session, workspace_id, customer_external_id)
    member = session.scalar(scoped(Member, workspace_id, Member.customer_id == customer.id))
    if member is None:
        raise NotFound("loyalty.member_not_found", customer=customer_external_id)
    where = (Entry.workspace_id == workspace_id, Entry.member_id == member.id)
    total = int(session.scalar(select(func.count()).select_from(Entry).where(*where)) or 0)
    rows = session.scalars(select(Entry).where(*where).order_by(Entry.id.desc()).limit(limit).offset(offset))
    return EntryPage(items=[entry_read(e) for e in rows], total=total, limit=limit, offset=offset)


# --------------------------------------------------------------------------------------------- redeem, adjust
def _replay(session: Session, member: Member, key: str, kind: EntryKind, points: int) -> Entry | None:
    """The entry an earlier request with this key wrote, when it is the same request; another request under
    the same key is refused."""
    found = session.scalar(scoped(Entry, member.workspace_id, Entry.idempotency_key == key))
    if found is None:
        return None
    if found.member_id != member.id or found.kind != kind.value or found.points != points:
        raise Conflict("loyalty.key_reused", key=key)
    return found


def redeem(
    session: Session, *, workspace: Workspace, customer_external_id: str, points: int, reason: str,
    idempotency_key: str, source_ref: str | None = None,
) -> OperationRead:  # fmt: skip
    """Spend ``points`` (> 0) from the member's lots, those expiring first. Refused, moving nothing, when the live
    balance is short; a retry with the same key returns the first entry and moves nothing."""
    if points <= 0:
        raise PatronError("loyalty.bad_points", points=points)
    member = _locked_member(session, workspace.id, customer_external_id, create=False)
    first = _replay(session, member, idempotency_key, EntryKind.REDEEM, -points)
    if first is not None:
        return OperationRead(entry=entry_read(first), replayed=True,
                             balance=_balance(session, member, customer_external_id))  # fmt: skip
    now = utcnow()
    lots = _member_lots(session, member)
    _expire_member(session, member, now, lots)
    if member.points < points:
        raise Conflict("loyalty.insufficient_points", points=points, balance=member.points)
    new = _New(EntryKind.REDEEM, reason, Source.REWARD, idempotency_key, source_ref=source_ref)
    entry = _debit(session, member, new, points, now, lots=lots)
    return OperationRead(entry=entry_read(entry), replayed=False,
                         balance=_balance(session, member, customer_external_id, lots))  # fmt: skip


def adjust(
    session: Session, *, workspace: Workspace, customer_external_id: str, points: int, reason: str,
    idempotency_key: str, actor: str,
) -> OperationRead:  # fmt: skip
    """A manual correction by ``actor``: positive points fill a lot expiring by the program's policy (after
    repaying debt), negative ones are taken like a redemption and never below zero."""
    if points == 0:
        raise PatronError("loyalty.bad_points", points=points)
    program = require_program(session, workspace.id)
    member = _locked_member(session, workspace.id, customer_external_id, create=True)
    first = _replay(session, member, idempotency_key, EntryKind.ADJUST, points)
    if first is not None:
        return OperationRead(entry=entry_read(first), replayed=True,
                             balance=_balance(session, member, customer_external_id))  # fmt: skip
    now = utcnow()
    new = _New(EntryKind.ADJUST, reason, Source.MANUAL, idempotency_key, source_ref=actor)
    if points > 0:
        entry = _credit(session, member, new, points, earned_at=now,
                        expires_at=expiry_for(program, now, workspace.timezone), now=now)  # fmt: skip
    else:
        _expire_member(session, member, now)
        if member.points < -points:
            raise Conflict("loyalty.insufficient_points", points=-points, balance=member.points)
        entry = _debit(session, member, new, -points, now)
    session.flush()
    return OperationRead(entry=entry_read(entry), replayed=False,
                         balance=_balance(session, member, customer_external_id))  # fmt: skip


# --------------------------------------------------------------------------------------------- expiry
def expire_due(session: Session, *, workspace_id: int, now: datetime | None = None) -> ExpiryReport:
    """Expire every lot past its expiry. Safe to run twice or at once: each member is locked and its due lots
    re-read under the lock, so a lot already expired by another run holds nothing to expire."""
    moment = now or utcnow()
    customer_ids = session.scalars(
        select(Member.customer_id)
        .join(Lot, and_(Lot.workspace_id == Member.workspace_id, Lot.member_id == Member.id))
        .where(Member.workspace_id == workspace_id, Lot.remaining > 0, Lot.expires_at <= moment)
        .distinct()
    ).all()
    lots = points = 0
    for start in range(0, len(customer_ids), _CHUNK):
        members = _lock_members(session, workspace_id, customer_ids[start : start + _CHUNK])
        for member in sorted(members.values(), key=lambda m: m.id):
            count, total = _expire_member(session, member, moment)
            lots += count
            points += total
    return ExpiryReport(lots=lots, points=points)


# --------------------------------------------------------------------------------------------- check
def check(session: Session, *, workspace_id: int) -> CheckReport:
    """Recompute every cached number from the rows it summarises: each lot's remaining from its moves, each
    entry's moves against its points and debt, each member's points from its lots and its points and debt from
    its entries. Any difference is listed (none expected, ever)."""
    differences: list[CheckDifference] = []
    lot_sums = (
        select(LotMove.lot_id, func.sum(LotMove.points).label("moved"))
        .where(LotMove.workspace_id == workspace_id)
        .group_by(LotMove.lot_id)
        .subquery()
    )
    for lot_id, remaining, _original, moved in session.execute(
        select(Lot.id, Lot.remaining, Lot.points, func.coalesce(lot_sums.c.moved, 0))
        .outerjoin(lot_sums, lot_sums.c.lot_id == Lot.id)
        .where(
            Lot.workspace_id == workspace_id,
            or_(
                Lot.remaining != func.coalesce(lot_sums.c.moved, 0),
                Lot.remaining < 0,
                Lot.remaining > Lot.points,
            ),
        )
    ):
        differences.append(
            CheckDifference(what="lot_remaining", id=lot_id, expected=int(moved), found=remaining)
        )
    entry_moves = (
        select(LotMove.entry_id, func.sum(LotMove.points).label("moved"))
        .where(LotMove.workspace_id == workspace_id)
        .group_by(LotMove.entry_id)
        .subquery()
    )
    for entry_id, expected, moved in session.execute(
        select(Entry.id, Entry.points + Entry.debt_delta, func.coalesce(entry_moves.c.moved, 0))
        .outerjoin(entry_moves, entry_moves.c.entry_id == Entry.id)
        .where(
            Entry.workspace_id == workspace_id,
            Entry.points + Entry.debt_delta != func.coalesce(entry_moves.c.moved, 0),
        )
    ):
        differences.append(
            CheckDifference(what="entry_moves", id=entry_id, expected=int(expected), found=int(moved))
        )
    entry_sums = (
        select(
            Entry.member_id,
            func.sum(Entry.points).label("net"),
            func.sum(Entry.debt_delta).label("debt"),
            func.count().label("n"),
        )
        .where(Entry.workspace_id == workspace_id)
        .group_by(Entry.member_id)
        .subquery()
    )
    member_lots = (
        select(Lot.member_id, func.sum(Lot.remaining).label("remaining"), func.count().label("n"))
        .where(Lot.workspace_id == workspace_id)
        .group_by(Lot.member_id)
        .subquery()
    )
    counts = {"members": 0, "entries": 0, "lots": 0}
    for member_id, points, debt, net, entry_debt, n_entries, remaining, n_lots in session.execute(
        select(
            Member.id,
            Member.points,
            Member.debt,
            func.coalesce(entry_sums.c.net, 0),
            func.coalesce(entry_sums.c.debt, 0),
            func.coalesce(entry_sums.c.n, 0),
            func.coalesce(member_lots.c.remaining, 0),
            func.coalesce(member_lots.c.n, 0),
        )
        .outerjoin(entry_sums, entry_sums.c.member_id == Member.id)
        .outerjoin(member_lots, member_lots.c.member_id == Member.id)
        .where(Member.workspace_id == workspace_id)
        .order_by(Member.id)
    ):
        counts["members"] += 1
        counts["entries"] += int(n_entries)
        counts["lots"] += int(n_lots)
        for what, expected, found in (
            ("member_points_from_lots", int(remaining), points),
            ("member_debt_from_entries", int(entry_debt), debt),
            ("member_net_from_entries", int(net), points - debt),
        ):
            if expected != found:
                differences.append(CheckDifference(what=what, id=member_id, expected=expected, found=found))
        if points < 0 or debt < 0:
            differences.append(
                CheckDifference(what="member_negative", id=member_id, expected=0, found=min(points, debt))
            )
    return CheckReport(**counts, differences=differences)
