"""The dashboard's Loyalty tab: what the program owes and how points moved, read from the ledger.

Snapshot figures (members, points outstanding, debt, points expiring, top members) are as of now; the monthly
movements cover the page's trend window, month by month in the workspace's time zone, with the month under way
left out unless the filters include it (as on the Retention tab). The segment filter narrows everything to the
members whose customer is in that segment. Every figure is a sum over ledger rows (``loyalty.models``), so the
page agrees with ``patron loyalty check``: outstanding points are the live lots' ``remaining`` (lots past their
expiry count as gone even before the expiry job ran, like a member's balance), debt is the members' ``debt``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import get_global
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from patron.core.clock import as_utc, utcnow
from patron.core.errors import NotFound
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.dashboard import loyalty_member
from patron.dashboard.filters import Filters
from patron.dashboard.loyalty_tiers import tier_tables
from patron.dashboard.service import labels, under_way
from patron.dashboard.tables import Column, DataTable
from patron.loyalty import service, tiers
from patron.loyalty.models import Entry, EntryKind, Lot, Member, Program, Source
from patron.loyalty.schemas import ExpiringBucket, OverviewMonth, OverviewRead, TierCount

#: The "expiring soon" horizons, in days from now (each includes the shorter ones).
EXPIRY_HORIZONS = (30, 60, 90)
#: How many members the top-by-balance and debt tables list.
TOP_MEMBERS = 10
#: The monthly columns, in order: the entry kind each sums, and whether its points are shown negated.
MOVEMENTS = (
    ("earned", EntryKind.EARN, False),
    ("redeemed", EntryKind.REDEEM, True),
    ("expired", EntryKind.EXPIRE, True),
    ("reversed", EntryKind.REVERSE, True),
    ("adjusted", EntryKind.ADJUST, False),
)


@dataclass
class LoyaltyView:
    program: str | None
    members: int = 0
    #: Live points members hold: the program's liability, in points.
    outstanding: int = 0
    #: The program's value of one point (workspace currency, major units) and the liability and debt in money at
    #: that value; None when the program sets no value.
    point_value: Decimal | None = None
    currency: str = ""
    outstanding_money: Decimal | None = None
    debt_money: Decimal | None = None
    #: Points issued (earned, and credited by adjustments), redeemed and expired in the trend window's complete
    #: months (the month under way left out, so a rate never mixes a partial month with full ones), and the two
    #: rates over them in percent (None with nothing issued): redemption = redeemed ÷ issued, breakage =
    #: expired ÷ issued.
    window_issued: int = 0
    window_redeemed: int = 0
    window_expired: int = 0
    redemption_rate: float | None = None
    breakage_rate: float | None = None
    members_with_points: int = 0
    debt: int = 0
    members_with_debt: int = 0
    #: {days: (points, members)} expiring after now and at most ``days`` days from now.
    expiring: dict[int, tuple[int, int]] = field(default_factory=dict)
    tables: dict[str, DataTable] = field(default_factory=dict)
    under_way: date | None = None


def _month_after(month: date, months: int = 1) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _members(workspace_id: int, segment: str | None) -> Any:
    """Member ids in the program, narrowed to a customer segment when one is chosen."""
    query = select(Member.id).where(Member.workspace_id == workspace_id)
    if segment:
        query = query.join(
            Customer, and_(Customer.workspace_id == Member.workspace_id, Customer.id == Member.customer_id)
        ).where(Customer.segment == segment)
    return query


def _live(now: datetime) -> ColumnElement[bool]:
    return and_(Lot.remaining > 0, or_(Lot.expires_at.is_(None), Lot.expires_at > now))


def loyalty(session: Session, workspace: Workspace, filters: Filters, locale: str) -> LoyaltyView:
    t = labels(locale)
    program = session.scalar(select(Program).where(Program.workspace_id == workspace.id))
    if program is None:
        return LoyaltyView(None)
    now = utcnow()
    ws = workspace.id
    members = _members(ws, filters.segment).subquery()
    in_scope = Member.id.in_(select(members.c.id))
    view = LoyaltyView(program.name)
    # Members now: those who left the program are not counted (their history still is, in the movements).
    current = _members(ws, filters.segment).where(Member.left_at.is_(None)).subquery()
    view.members = int(session.scalar(select(func.count()).select_from(current)) or 0)
    debt = session.execute(
        select(func.coalesce(func.sum(Member.debt), 0), func.count().filter(Member.debt > 0)).where(
            Member.workspace_id == ws, in_scope
        )
    ).one()
    view.debt, view.members_with_debt = int(debt[0]), int(debt[1])
    lot_scope = (Lot.workspace_id == ws, Lot.member_id.in_(select(members.c.id)))
    held = session.execute(
        select(func.coalesce(func.sum(Lot.remaining), 0), func.count(func.distinct(Lot.member_id))).where(
            *lot_scope, _live(now)
        )
    ).one()
    view.outstanding, view.members_with_points = int(held[0]), int(held[1])
    for days in EXPIRY_HORIZONS:
        row = session.execute(
            select(func.coalesce(func.sum(Lot.remaining), 0), func.count(func.distinct(Lot.member_id))).where(
                *lot_scope, _live(now), Lot.expires_at <= now + timedelta(days=days)
            )
        ).one()
        view.expiring[days] = (int(row[0]), int(row[1]))

    view.currency = workspace.currency
    view.point_value = service.point_value(program)
    if view.point_value is not None:
        view.outstanding_money = money_of(view.outstanding, view.point_value, workspace.currency)
        view.debt_money = money_of(view.debt, view.point_value, workspace.currency)
    view.tables["movements"], view.under_way = _movements(session, workspace, filters, members, t, view)
    view.tables["summary"] = _summary_table(view, t)
    view.tables["expiring"] = _expiring_table(view, t)
    view.tables["rates"] = _rates_table(view, t)
    zone = ZoneInfo(workspace.timezone)
    view.tables["top"] = _top(session, ws, members, now, zone, t, by_debt=False)
    view.tables["debt"] = _top(session, ws, members, now, zone, t, by_debt=True)
    view.tables.update(tier_tables(session, workspace, filters, members, view.members, locale, current))
    return view


def money_of(points: int, point_value: Decimal, currency: str) -> Decimal:
    """``points`` at ``point_value`` each, rounded half-even to the currency's digits (NT$ to the cent)."""
    digits = get_global("currency_fractions").get(currency, get_global("currency_fractions")["DEFAULT"])[0]
    return (points * point_value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)


def _summary_table(view: LoyaltyView, t: Any) -> DataTable:
    columns = [
        Column(t("loy.figure")),
        Column(t("loyalty.col_points"), "int"),
        Column(t("loy.members"), "int"),
    ]
    if view.point_value is not None:
        columns.append(
            Column(t("loy.money_at_value", currency=view.currency), "amount", t("help.loy_point_value"))
        )
    table = DataTable("summary", t("loy.summary"), columns)
    rows: list[list[Any]] = [
        [t("loy.members"), None, view.members, None],
        [t("loy.outstanding"), view.outstanding, view.members_with_points, view.outstanding_money],
        [t("loy.debt"), view.debt, view.members_with_debt, view.debt_money],
    ]
    table.rows = [
        [*row[:3], None if row[3] is None else float(row[3])] if view.point_value is not None else row[:3]
        for row in rows
    ]
    return table


def _rates_table(view: LoyaltyView, t: Any) -> DataTable:
    """The window's flows and the two rates a finance team reads next to the liability."""
    table = DataTable("rates", t("loy.rates"),
                      [Column(t("loy.figure")), Column(t("loyalty.col_points"), "int"),
                       Column(t("loy.rate"), "percent")])  # fmt: skip
    table.rows = [
        [t("loy.issued"), view.window_issued, None],
        [t("loy.redeemed"), view.window_redeemed, view.redemption_rate],
        [t("loy.expired"), view.window_expired, view.breakage_rate],
    ]
    return table


def _expiring_table(view: LoyaltyView, t: Any) -> DataTable:
    table = DataTable("expiring", t("loy.expiring"),
                      [Column(t("loy.within")), Column(t("loyalty.col_points"), "int"),
                       Column(t("loy.members"), "int")])  # fmt: skip
    table.rows = [[t("loy.within_days", days=days), *view.expiring[days]] for days in EXPIRY_HORIZONS]
    return table


def _movements(
    session: Session, workspace: Workspace, filters: Filters, members: Any, t: Any, view: LoyaltyView
) -> tuple[DataTable, date | None]:
    """Points earned, redeemed, expired, reversed and adjusted per month of the trend window, and the window's
    issued, redeemed and expired points and rates over its complete months (into ``view``). One query: each
    entry's month is found by comparing its time with the months' starts (local midnight, as UTC)."""
    monthly = replace(filters, grain="month")
    window = monthly.trend_window()
    zone = ZoneInfo(workspace.timezone)
    months = filters.trend_months()
    columns = [Column(t("dash.period"), "month")] + [
        Column(t(f"loy.{name}"), "int", t(f"help.loy_{name}")) for name, _, _ in MOVEMENTS
    ]
    table = DataTable("movements", t("loy.movements"), columns)
    if not months:
        return table, None
    starts = [as_utc(datetime(m.year, m.month, 1, tzinfo=zone)) for m in [*months, _month_after(months[-1])]]
    # months are consecutive except the one under way, which is only ever the last: a gap is impossible
    bucket = case(
        *((Entry.created_at < start, literal(i - 1)) for i, start in enumerate(starts) if i > 0),
        else_=literal(-1),
    )
    # A debt written off when a member leaves is an adjustment that credits nothing new: not issued.
    credit = and_(Entry.points > 0, Entry.source != Source.LEAVE.value)
    rows = session.execute(
        select(bucket.label("month"), Entry.kind, credit.label("credit"), func.sum(Entry.points))
        .where(
            Entry.workspace_id == workspace.id,
            Entry.member_id.in_(select(members.c.id)),
            Entry.created_at >= starts[0],
            Entry.created_at < starts[-1],
        )
        .group_by(bucket, Entry.kind, credit)
    ).all()
    sums: dict[tuple[int, str], int] = defaultdict(int)
    issued: dict[int, int] = defaultdict(int)
    for i, kind, credited, total in rows:
        sums[int(i), kind] += int(total)
        if kind == EntryKind.EARN.value or (kind == EntryKind.ADJUST.value and credited):
            issued[int(i)] += int(total)
    for i, start in enumerate(months):
        cells: list[Any] = [start]
        for _, kind, negated in MOVEMENTS:
            value = sums.get((i, kind.value), 0)
            cells.append(-value if negated else value)
        if monthly.period_is_partial(start):
            table.partial_rows.add(len(table.rows))
        else:
            view.window_issued += issued.get(i, 0)
            view.window_redeemed -= sums.get((i, EntryKind.REDEEM.value), 0)
            view.window_expired -= sums.get((i, EntryKind.EXPIRE.value), 0)
        table.rows.append(cells)
    if view.window_issued > 0:
        view.redemption_rate = 100 * view.window_redeemed / view.window_issued
        view.breakage_rate = 100 * view.window_expired / view.window_issued
    return table, under_way(monthly, window, "month")


def _top(
    session: Session, workspace_id: int, members: Any, now: datetime, zone: ZoneInfo, t: Any, *, by_debt: bool
) -> DataTable:
    """The members holding the most live points (or owing the most debt), with their debt and what expires in
    the first horizon."""
    live = (
        select(
            Lot.member_id.label("member_id"),
            func.sum(Lot.remaining).label("points"),
            func.sum(
                case((Lot.expires_at <= now + timedelta(days=EXPIRY_HORIZONS[0]), Lot.remaining), else_=0)
            ).label("soon"),
        )
        .where(Lot.workspace_id == workspace_id, _live(now))
        .group_by(Lot.member_id)
        .subquery()
    )
    points = func.coalesce(live.c.points, 0)
    order = (Member.debt.desc(), points.desc()) if by_debt else (points.desc(), Member.debt.desc())
    query = (
        select(
            Customer.external_id,
            Customer.name,
            points,
            Member.debt,
            func.coalesce(live.c.soon, 0),
            Member.enrolled_at,
        )
        .select_from(Member)
        .join(Customer, and_(Customer.workspace_id == Member.workspace_id, Customer.id == Member.customer_id))
        .outerjoin(live, live.c.member_id == Member.id)
        .where(Member.workspace_id == workspace_id, Member.id.in_(select(members.c.id)))
        .where(Member.debt > 0 if by_debt else live.c.points > 0)
        .order_by(*order, Customer.external_id)
        .limit(TOP_MEMBERS)
    )
    key = "debt" if by_debt else "top"
    table = DataTable(key, t(f"loy.{key}_members"),
                      [Column(t("ui.external_id")), Column(t("ui.name")), Column(t("loy.balance"), "int"),
                       Column(t("loy.debt"), "int", t("help.loy_debt")),
                       Column(t("loy.expiring_30"), "int"), Column(t("loy.enrolled"), "date")])  # fmt: skip
    for external_id, name, balance, debt, soon, enrolled in session.execute(query):
        table.links[len(table.rows)] = loyalty_member.member_url(external_id)
        table.rows.append(
            [
                external_id,
                name or "",
                int(balance),
                int(debt),
                int(soon),
                as_utc(enrolled).astimezone(zone).date(),
            ]
        )
    return table


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def overview(session: Session, workspace: Workspace, filters: Filters) -> OverviewRead:
    """The tab's figures as data (``GET /api/v1/loyalty/overview``, ``patron loyalty overview``): members now
    and by tier, the liability in points and money, debt, points expiring, and the movements per month of the
    trend window with the redemption and breakage rates over its complete months."""
    view = loyalty(session, workspace, filters, "en")
    if view.program is None:
        raise NotFound("loyalty.no_program")
    window = replace(filters, grain="month").trend_window()
    by_tier: list[TierCount] = []
    tier_set = tiers.current_set(session, workspace.id)
    if tier_set is not None and "tiers" in view.tables:
        for tier, row in zip(tier_set.tiers, view.tables["tiers"].rows, strict=True):
            by_tier.append(TierCount(tier=tier["code"], members=int(row[2])))  # type: ignore[arg-type]
    months = []
    for index, row in enumerate(view.tables["movements"].rows):
        counts = [int(cell) for cell in row[1:]]  # type: ignore[arg-type]
        month = row[0].strftime("%Y-%m")  # type: ignore[union-attr]
        months.append(OverviewMonth(month=month, earned=counts[0], redeemed=counts[1], expired=counts[2],
                                    reversed=counts[3], adjusted=counts[4],
                                    partial=index in view.tables["movements"].partial_rows))  # fmt: skip
    return OverviewRead(
        program=view.program, since=window.since, until=window.until, segment=filters.segment,
        members=view.members, members_with_points=view.members_with_points, outstanding=view.outstanding,
        currency=view.currency, point_value=_text(view.point_value), outstanding_money=_text(view.outstanding_money),
        debt=view.debt, debt_money=_text(view.debt_money), members_with_debt=view.members_with_debt,
        expiring=[ExpiringBucket(days=d, points=p, members=m) for d, (p, m) in sorted(view.expiring.items())],
        by_tier=by_tier, months=months, issued=view.window_issued, redeemed=view.window_redeemed,
        expired=view.window_expired, redemption_rate=view.redemption_rate, breakage_rate=view.breakage_rate,
    )  # fmt: skip
