"""What the customer page shows of a member: balance, debt, the lots holding points and the last entries.

Read-only and lock-free (a page view must never wait on a redemption): the balance is the live lots' sum, the
same number ``service.balance`` answers, and lots past their expiry are shown as due, not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.clock import as_utc, utcnow
from patron.core.i18n import translate
from patron.loyalty.models import Entry, Lot, Member, Program
from patron.loyalty.service import EXPIRY_NOTICE_DAYS

#: Reasons the ledger writes itself (``loyalty.orders``, expiry); their text comes from the catalogs. Reasons
#: people type (redemptions, adjustments) are shown as typed.
SYSTEM_REASONS = frozenset(
    {"order", "first_purchase_bonus", "order_cancelled", "order_returned", "order_refund", "order_pending",
     "expiry", "birthday"}
)  # fmt: skip
#: Reasons the rewards catalog, coupons and referrals write (loyalty.rewards, coupons, referrals).
SYSTEM_REASONS |= {"reward", "coupon_cancelled", "referral_referrer", "referral_referee"}
#: Reasons leaving the program writes (``service.unenrol``; "left" is its default reason).
SYSTEM_REASONS |= {"left", "debt_written_off"}
LAST_ENTRIES = 20
SHOWN_LOTS = 50


@dataclass(frozen=True)
class LotRow:
    earned_at: datetime
    expires_at: datetime | None
    points: int
    remaining: int
    #: Past its expiry, waiting for the expiry job: not in the balance any more.
    due: bool


@dataclass(frozen=True)
class EntryRow:
    created_at: datetime
    kind: str
    points: int
    debt_delta: int
    reason: str
    order: str | None
    line_no: int | None
    source_ref: str | None


@dataclass(frozen=True)
class MemberCard:
    program: str
    enrolled_at: datetime
    points: int
    debt: int
    expiring_soon: int
    lots: list[LotRow]
    entries: list[EntryRow]
    entries_total: int
    #: When the member left the program (None: a member).
    left_at: datetime | None = None


def reason_text(reason: str, locale: str) -> str:
    return translate(f"loy.reason.{reason}", locale) if reason in SYSTEM_REASONS else reason


def member_card(session: Session, *, workspace_id: int, customer_id: int, locale: str) -> MemberCard | None:
    """The customer's loyalty account, or None when the workspace has no program or the customer is no member."""
    program = session.scalar(select(Program).where(Program.workspace_id == workspace_id))
    member = session.scalar(
        select(Member).where(Member.workspace_id == workspace_id, Member.customer_id == customer_id)
    )
    if program is None or member is None:
        return None
    now = utcnow()
    horizon = now + timedelta(days=EXPIRY_NOTICE_DAYS)
    lots = [
        LotRow(
            lot.earned_at,
            lot.expires_at,
            lot.points,
            lot.remaining,
            lot.expires_at is not None and as_utc(lot.expires_at) <= now,
        )
        for lot in session.scalars(
            select(Lot)
            .where(Lot.workspace_id == workspace_id, Lot.member_id == member.id, Lot.remaining > 0)
            .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.id)
            .limit(SHOWN_LOTS)
        )
    ]
    live = sum(lot.remaining for lot in lots if not lot.due)
    soon = sum(
        lot.remaining
        for lot in lots
        if not lot.due and lot.expires_at is not None and as_utc(lot.expires_at) <= horizon
    )
    where = (Entry.workspace_id == workspace_id, Entry.member_id == member.id)
    total = int(session.scalar(select(func.count()).select_from(Entry).where(*where)) or 0)
    entries = [
        EntryRow(
            e.created_at,
            e.kind,
            e.points,
            e.debt_delta,
            reason_text(e.reason, locale),
            e.order_external_id,
            e.line_no,
            e.source_ref,
        )
        for e in session.scalars(select(Entry).where(*where).order_by(Entry.id.desc()).limit(LAST_ENTRIES))
    ]
    if len(lots) == SHOWN_LOTS:  # more lots than shown: the balance from all of them
        live = int(
            session.scalar(
                select(func.coalesce(func.sum(Lot.remaining), 0)).where(
                    Lot.workspace_id == workspace_id,
                    Lot.member_id == member.id,
                    Lot.remaining > 0,
                    (Lot.expires_at.is_(None)) | (Lot.expires_at > now),
                )
            )
            or 0
        )
    return MemberCard(
        program.name, member.enrolled_at, live, member.debt, soon, lots, entries, total, member.left_at
    )
