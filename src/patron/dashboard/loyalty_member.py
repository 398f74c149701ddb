"""The dashboard's member look-up: one member's whole account for a manager or finance.

The membership (since when, the recorded consent, when they left), the balance tiles the customer page shows,
the full ledger a page at a time (every entry with its reason, source, order and line, rule version and who —
``source_ref`` holds the user, campaign, referral or reward that moved the points), filtered by kind and source
from the URL, every lot with its expiry and what is left of it, the tier history with the qualifying spend that
decided each move, and the member's coupons. Every table is a ``DataTable``, so the page's CSV/Excel export
writes the same rows (the ledger export: every entry the filters select, not just the page shown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.clock import as_utc, utcnow
from patron.core.errors import NotFound, PatronError
from patron.core.models import Workspace
from patron.core.money import from_minor
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.dashboard.service import labels
from patron.dashboard.tables import Column, DataTable
from patron.loyalty import tiers
from patron.loyalty.member_view import MemberCard, member_card, reason_text
from patron.loyalty.models import Coupon, Entry, EntryKind, Lot, Member, Reward, Source, TierMove
from patron.loyalty.rewards import reward_name

#: Where a member's page is (``patron.web.loyalty_pages``); other tables link their members to it.
MEMBERS_PATH = "/dashboard/loyalty/members"
LEDGER_PAGE = 50
#: The export's ceiling, as the dashboard's other exports.
EXPORT_ROWS = 100_000
KINDS = tuple(k.value for k in EntryKind)
SOURCES = tuple(s.value for s in Source)


def member_url(external_id: str) -> str:
    """The dashboard page of the member who is customer ``external_id``."""
    return f"{MEMBERS_PATH}/{quote(external_id, safe='')}"


@dataclass(frozen=True)
class LedgerFilters:
    """The ledger's filters as the URL carries them; an unknown value is refused with a named message."""

    kind: str = ""
    source: str = ""
    page: int = 1

    def query(self, page: int | None = None) -> str:
        """The URL query of these filters (on ``page`` when given); page 1 is left out."""
        values = {"kind": self.kind, "source": self.source, "page": self.page if page is None else page}
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == 1)})


def parse_ledger_filters(params: dict[str, str]) -> LedgerFilters:
    kind, source = params.get("kind", "").strip(), params.get("source", "").strip()
    if kind and kind not in KINDS:
        raise PatronError("loy.member_bad_filter", field="kind", value=kind[:40], choices=", ".join(KINDS))
    if source and source not in SOURCES:
        raise PatronError(
            "loy.member_bad_filter", field="source", value=source[:40], choices=", ".join(SOURCES)
        )
    raw = params.get("page", "1").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise PatronError("loy.member_bad_filter", field="page", value=raw[:40], choices="1, 2, 3, …")
    return LedgerFilters(kind, source, int(raw))


@dataclass
class MemberPage:
    external_id: str
    name: str
    member: Member
    card: MemberCard
    tier: str | None
    filters: LedgerFilters
    total: int
    pages: int
    tables: dict[str, DataTable] = field(default_factory=dict)


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if moment is None else as_utc(moment).astimezone(zone).replace(tzinfo=None)


def member_page(
    session: Session, workspace: Workspace, external_id: str, filters: LedgerFilters, locale: str,
    *, exporting: bool = False,
) -> MemberPage:  # fmt: skip
    """The member's account (see the module); 404 ``loyalty.member_not_found`` for a customer who never joined."""
    customer = session.scalar(scoped(Customer, workspace.id, Customer.external_id == external_id))
    member = None
    if customer is not None:
        member = session.scalar(scoped(Member, workspace.id, Member.customer_id == customer.id))
    card = (
        member_card(session, workspace_id=workspace.id, customer_id=customer.id, locale=locale)
        if customer is not None and member is not None
        else None
    )
    if customer is None or member is None or card is None:
        raise NotFound("loyalty.member_not_found", customer=external_id)
    t = labels(locale)
    zone = ZoneInfo(workspace.timezone)
    benefit = tiers.benefits(session, workspace_id=workspace.id, customer_id=customer.id, locale=locale)
    where = [Entry.workspace_id == workspace.id, Entry.member_id == member.id]
    if filters.kind:
        where.append(Entry.kind == filters.kind)
    if filters.source:
        where.append(Entry.source == filters.source)
    total = int(session.scalar(select(func.count()).select_from(Entry).where(*where)) or 0)
    pages = max(1, -(-total // LEDGER_PAGE))
    query = select(Entry).where(*where).order_by(Entry.id.desc())
    query = (
        query.limit(EXPORT_ROWS)
        if exporting
        else query.limit(LEDGER_PAGE).offset((filters.page - 1) * LEDGER_PAGE)
    )
    ledger = DataTable("ledger", t("loy.member_ledger"), [
        Column(t("loyalty.col_time")), Column(t("loyalty.col_kind")), Column(t("loyalty.col_points"), "int"),
        Column(t("loy.debt_change"), "int"), Column(t("loyalty.col_reason")), Column(t("loyalty.col_source")),
        Column(t("loy.order_line")), Column(t("loyalty.col_version"), "int"), Column(t("loy.who")),
        Column(t("loy.idempotency_key")),
    ])  # fmt: skip
    for e in session.scalars(query):
        order = e.order_external_id or ""
        if order and e.line_no is not None:
            order += f" #{e.line_no}"
        ledger.rows.append([
            _local(e.created_at, zone).isoformat(sep=" ", timespec="seconds"),  # type: ignore[union-attr]
            t(f"loy.kind.{e.kind}"), e.points, e.debt_delta, reason_text(e.reason, locale),
            t(f"loy.source.{e.source}"), order, e.rule_version, e.source_ref or "", e.idempotency_key,
        ])  # fmt: skip
    now = utcnow()
    lots = DataTable("lots", t("loy.member_lots"), [
        Column(t("loy.earned_on"), "date"), Column(t("loy.expires_on"), "date"), Column(t("loy.lot_points"), "int"),
        Column(t("loy.lot_left"), "int"), Column(t("loyalty.col_status")),
    ])  # fmt: skip
    for lot in session.scalars(
        select(Lot)
        .where(Lot.workspace_id == workspace.id, Lot.member_id == member.id)
        .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.id)
        .limit(EXPORT_ROWS)
    ):
        expires = as_utc(lot.expires_at) if lot.expires_at is not None else None
        status = "used" if lot.remaining == 0 else "due" if expires is not None and expires <= now else "live"
        lots.rows.append([
            as_utc(lot.earned_at).astimezone(zone).date(), expires.astimezone(zone).date() if expires else None,
            lot.points, lot.remaining, t(f"loy.lot_status.{status}"),
        ])  # fmt: skip
    tier_set = tiers.current_set(session, workspace.id)
    names = {}
    if tier_set is not None:
        names = {
            tier["code"]: tiers.tier_read(tier, tier_set.currency, locale).name for tier in tier_set.tiers
        }
    history = DataTable("tier_history", t("loy.member_tier_history"), [
        Column(t("loyalty.col_time")), Column(t("loy.tier_from")), Column(t("loy.tier_to")),
        Column(t("loyalty.col_reason")), Column(t("loy.qualifying_spend", currency=workspace.currency), "amount"),
        Column(t("loy.tier_set_version"), "int"),
    ])  # fmt: skip
    for move in session.scalars(
        select(TierMove)
        .where(TierMove.workspace_id == workspace.id, TierMove.member_id == member.id)
        .order_by(TierMove.id.desc())
        .limit(EXPORT_ROWS)
    ):
        history.rows.append([
            _local(move.created_at, zone).isoformat(sep=" ", timespec="seconds"),  # type: ignore[union-attr]
            names.get(move.from_tier, move.from_tier), names.get(move.to_tier, move.to_tier),
            t(f"loy.tier_reason.{move.reason}"), float(from_minor(move.qualifying_minor, workspace.currency)),
            move.tier_set_version,
        ])  # fmt: skip
    coupons = DataTable("coupons", t("loy.member_coupons"), [
        Column(t("loy.coupon_code")), Column(t("loyalty.col_reward")), Column(t("loyalty.col_points"), "int"),
        Column(t("loyalty.col_status")), Column(t("loy.issued_on"), "date"), Column(t("loy.expires_on"), "date"),
        Column(t("loy.used_on"), "date"),
    ])  # fmt: skip
    for coupon, reward in session.execute(
        select(Coupon, Reward)
        .join(Reward, Reward.id == Coupon.reward_id)
        .where(Coupon.workspace_id == workspace.id, Coupon.member_id == member.id)
        .order_by(Coupon.id.desc())
        .limit(EXPORT_ROWS)
    ):
        expired = coupon.status == "issued" and as_utc(coupon.expires_at) <= now
        coupons.rows.append([
            coupon.code, reward_name(reward, locale), coupon.points,
            t("loy.coupon.expired" if expired else f"loy.coupon.{coupon.status}"),
            as_utc(coupon.issued_at).astimezone(zone).date(), as_utc(coupon.expires_at).astimezone(zone).date(),
            as_utc(coupon.used_at).astimezone(zone).date() if coupon.used_at else None,
        ])  # fmt: skip
    page = MemberPage(external_id, customer.name or "", member, card, benefit.name if benefit else None,
                      filters, total, pages)  # fmt: skip
    page.tables = {"ledger": ledger, "lots": lots, "tier_history": history, "coupons": coupons}
    return page
