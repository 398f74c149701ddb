"""Double-sided referrals: each member's code and share link, recording a new customer who came with a code
(refused, with the reason kept, for self-referral by the same customer, email or phone, a customer referred
before or already buying, or a referrer at the cap), and the settlement job that rewards both sides once the new
customer's first qualifying purchase has outlived the return window.

The rules (docs/loyalty.md, "Referrals"): a purchase qualifies when it was placed at or after the referral, is
in an earning status, in the workspace's currency, at least the minimum spend, and nothing of it was refunded;
it is the new customer's earliest such order. The settlement waits until ``return_days`` after it was placed;
an order cancelled or refunded before then stops qualifying and the next one is looked at. Recording and
settling take both members' locks (the ledger's one helper, in id order), so two recordings for one referrer
cannot both pass the cap, and a settlement run twice or at once rewards each referral once (its status moves
pending → rewarded under the lock, and the entries' idempotency keys name the referral).
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from patron.commerce.models import Order
from patron.core.clock import as_utc, utcnow
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.models import Workspace
from patron.core.money import from_minor
from patron.core.settings import get_settings
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.loyalty.coupons import ALPHABET, check_symbol, normalise_code
from patron.loyalty.models import (
    EntryKind,
    Member,
    Program,
    Referral,
    ReferralCode,
    ReferralReason,
    ReferralSettings,
    ReferralStatus,
    Refund,
    Source,
)
from patron.loyalty.orders import EARNING_STATUSES
from patron.loyalty.schemas import (
    ReferralCodeRead,
    ReferralCreate,
    ReferralPage,
    ReferralRead,
    ReferralSettingsRead,
    ReferralSettingsUpdate,
    SettleReport,
)
from patron.loyalty.service import (
    Consent,
    _amount_minor,
    _credit,
    _customer,
    _ensure_members,
    _lock_members,
    _locked_member,
    _New,
    customer_of_member,
    expiry_for,
    require_program,
)

CODE_RANDOM = 7


def settings_read(row: ReferralSettings | None, currency: str) -> ReferralSettingsRead:
    if row is None:
        return ReferralSettingsRead()
    return ReferralSettingsRead(
        referrer_points=row.referrer_points, referee_points=row.referee_points, return_days=row.return_days,
        cap=row.cap, min_spend=str(from_minor(row.min_spend_minor, currency)), share_url=row.share_url,
    )  # fmt: skip


def get_settings_row(session: Session, workspace_id: int) -> ReferralSettings | None:
    return session.scalar(scoped(ReferralSettings, workspace_id))


def read_settings(session: Session, *, workspace: Workspace) -> ReferralSettingsRead:
    return settings_read(get_settings_row(session, workspace.id), workspace.currency)


def set_settings(
    session: Session, *, workspace: Workspace, data: ReferralSettingsUpdate
) -> ReferralSettingsRead:
    require_program(session, workspace.id)
    row = get_settings_row(session, workspace.id)
    if row is None:
        row = ReferralSettings(workspace_id=workspace.id)
        session.add(row)
    row.referrer_points, row.referee_points = data.referrer_points, data.referee_points
    row.return_days, row.cap, row.share_url = data.return_days, data.cap, data.share_url
    row.min_spend_minor = _amount_minor(data.min_spend, workspace.currency, "min_spend")
    session.flush()
    return settings_read(row, workspace.currency)


def _link(row: ReferralSettings | None, workspace: Workspace, code: str) -> str:
    if row is not None and row.share_url:
        return f"{row.share_url}?ref={code}"
    return f"{get_settings().base_url()}/r/{workspace.slug}/{code}"


def member_code(session: Session, *, workspace: Workspace, customer_external_id: str) -> ReferralCodeRead:
    """The member's referral code (made on first use) with its share link and how its referrals stand."""
    require_program(session, workspace.id)
    member = _locked_member(session, workspace.id, customer_external_id, create=True)
    found = session.scalar(scoped(ReferralCode, workspace.id, ReferralCode.member_id == member.id))
    if found is None:
        payload = "".join(secrets.choice(ALPHABET) for _ in range(CODE_RANDOM))
        found = ReferralCode(workspace_id=workspace.id, member_id=member.id, code=payload + check_symbol(payload),
                             created_at=utcnow())  # fmt: skip
        session.add(found)
        session.flush()
    counts = dict(
        session.execute(
            select(Referral.status, func.count())
            .where(Referral.workspace_id == workspace.id, Referral.referrer_id == member.id)
            .group_by(Referral.status)
        ).all()
    )
    return ReferralCodeRead(
        customer_id=customer_external_id, code=found.code, link=_link(get_settings_row(session, workspace.id), workspace, found.code),
        pending=int(counts.get(ReferralStatus.PENDING.value, 0)), rewarded=int(counts.get(ReferralStatus.REWARDED.value, 0)),
        refused=int(counts.get(ReferralStatus.REFUSED.value, 0)),
    )  # fmt: skip


_DIGITS = re.compile(r"\D")


def _phone(text: str | None) -> str | None:
    """A phone number compared by its last 9 digits (drops +886 / 0 prefixes and punctuation)."""
    digits = _DIGITS.sub("", text or "")
    return digits[-9:] if len(digits) >= 6 else None


def _email(text: str | None) -> str | None:
    return text.strip().casefold() if text and text.strip() else None


def referral_read(session: Session, referral: Referral) -> ReferralRead:
    referrer = session.scalar(
        select(Customer.external_id).where(
            Customer.workspace_id == referral.workspace_id,
            Customer.id == customer_of_member(referral.workspace_id, referral.referrer_id),
        )
    )
    referee = session.scalar(
        scoped(
            Customer, referral.workspace_id, Customer.id == referral.referee_customer_id
        ).with_only_columns(Customer.external_id)
    )
    return ReferralRead(
        id=referral.id, referrer=referrer or "", referee=referee or "", code=referral.code, status=referral.status,
        reason=referral.reason, referrer_points=referral.referrer_points, referee_points=referral.referee_points,
        order_id=referral.order_external_id, created_at=referral.created_at, settled_at=referral.settled_at,
    )  # fmt: skip


def record(session: Session, *, workspace: Workspace, data: ReferralCreate) -> ReferralRead:
    """Record that customer ``data.customer_id`` came with code ``data.code``. A refused referral is recorded too,
    with its reason (``status: refused``); the caller decides how to answer it."""
    require_program(session, workspace.id)
    code = normalise_code(
        data.code, length=CODE_RANDOM + 1, error="loyalty.referral_code_not_found", param="referral_code"
    )
    owner = session.scalar(scoped(ReferralCode, workspace.id, ReferralCode.code == code))
    if owner is None:
        raise NotFound("loyalty.referral_code_not_found", referral_code=data.code[:40])
    referee = _customer(session, workspace.id, data.customer_id)
    referrer_row = session.scalar(scoped(Member, workspace.id, Member.id == owner.member_id))
    assert referrer_row is not None
    # Coming with a member's code is joining the program: the referral is the consent (source "referral").
    _ensure_members(session, workspace.id, [referee.id], Consent(at=utcnow(), source="referral"))
    _lock_members(session, workspace.id, [referrer_row.customer_id, referee.id])
    referrer = session.scalar(scoped(Customer, workspace.id, Customer.id == referrer_row.customer_id))
    assert referrer is not None
    terms = get_settings_row(session, workspace.id)
    reason: ReferralReason | None = None
    if referee.id == referrer.id:
        reason = ReferralReason.SELF_CUSTOMER
    elif _email(referee.email) is not None and _email(referee.email) == _email(referrer.email):
        reason = ReferralReason.SELF_EMAIL
    elif _phone(referee.phone) is not None and _phone(referee.phone) == _phone(referrer.phone):
        reason = ReferralReason.SELF_PHONE
    elif session.scalar(
        select(
            exists().where(
                Referral.workspace_id == workspace.id,
                Referral.referee_customer_id == referee.id,
                Referral.status != ReferralStatus.REFUSED.value,
            )
        )
    ):
        reason = ReferralReason.ALREADY_REFERRED
    elif session.scalar(
        select(
            exists().where(
                Order.workspace_id == workspace.id,
                Order.customer_id == referee.id,
                Order.status.in_(EARNING_STATUSES),
                Order.ordered_at < utcnow(),
            )
        )
    ):
        reason = ReferralReason.NOT_NEW
    elif terms is not None and terms.cap is not None:
        held = session.scalar(
            select(func.count()).select_from(Referral).where(
                Referral.workspace_id == workspace.id, Referral.referrer_id == referrer_row.id,
                Referral.status != ReferralStatus.REFUSED.value,
            )
        )  # fmt: skip
        if (held or 0) >= terms.cap:
            reason = ReferralReason.CAP
    referral = Referral(
        workspace_id=workspace.id, referrer_id=referrer_row.id, referee_customer_id=referee.id, code=code,
        status=(ReferralStatus.REFUSED if reason else ReferralStatus.PENDING).value,
        reason=reason.value if reason else None,
        referrer_points=terms.referrer_points if terms and not reason else 0,
        referee_points=terms.referee_points if terms and not reason else 0, created_at=utcnow(),
    )  # fmt: skip
    session.add(referral)
    session.flush()
    return referral_read(session, referral)


def refusal(read: ReferralRead) -> PatronError | None:
    """The named error a refused referral is answered with (after it was recorded)."""
    if read.status != ReferralStatus.REFUSED.value or read.reason is None:
        return None
    return Conflict(f"loyalty.referral_{read.reason}", customer=read.referee, referrer=read.referrer)


def list_referrals(
    session: Session,
    *,
    workspace_id: int,
    status: ReferralStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> ReferralPage:
    where = [Referral.workspace_id == workspace_id]
    if status is not None:
        where.append(Referral.status == status.value)
    total = int(session.scalar(select(func.count()).select_from(Referral).where(*where)) or 0)
    rows = session.scalars(
        select(Referral).where(*where).order_by(Referral.id.desc()).limit(limit).offset(offset)
    )
    return ReferralPage(items=[referral_read(session, r) for r in rows], total=total)


def settle(session: Session, *, workspace: Workspace) -> SettleReport:
    """Reward both sides of every pending referral whose qualifying purchase has outlived the return window.
    Safe to run twice or at once."""
    report = SettleReport(rewarded=0, waiting=0, points=0)
    program = require_program(session, workspace.id)
    terms = get_settings_row(session, workspace.id)
    return_days = terms.return_days if terms else 30
    min_spend = terms.min_spend_minor if terms else 0
    now = utcnow()
    pending = session.scalars(
        scoped(Referral, workspace.id, Referral.status == ReferralStatus.PENDING.value).order_by(Referral.id)
    ).all()
    refunded = select(Refund.order_id).where(Refund.workspace_id == workspace.id).scalar_subquery()
    for referral in pending:
        first = session.scalar(
            scoped(
                Order, workspace.id, Order.customer_id == referral.referee_customer_id,
                Order.ordered_at >= referral.created_at, Order.status.in_(EARNING_STATUSES),
                Order.currency == workspace.currency, Order.total_minor >= min_spend, Order.id.not_in(refunded),
            ).order_by(Order.ordered_at, Order.id).limit(1)
        )  # fmt: skip
        if first is None or as_utc(first.ordered_at) + timedelta(days=return_days) > now:
            report.waiting += 1
            continue
        referrer = session.scalar(scoped(Member, workspace.id, Member.id == referral.referrer_id))
        assert referrer is not None
        locked = _lock_members(session, workspace.id, [referrer.customer_id, referral.referee_customer_id])
        session.refresh(referral)
        if referral.status != ReferralStatus.PENDING.value:  # another run settled it meanwhile
            continue
        expires = expiry_for(program, now, workspace.timezone)
        for side, customer_id, points in (
            ("referrer", referrer.customer_id, referral.referrer_points),
            ("referee", referral.referee_customer_id, referral.referee_points),
        ):
            if points and locked[customer_id].left_at is None:  # a side that left the program gets nothing
                new = _New(EntryKind.EARN, f"referral_{side}", Source.REFERRAL, f"referral:{referral.id}:{side}",
                           order=first, source_ref=f"referral:{referral.id}")  # fmt: skip
                _credit(session, locked[customer_id], new, points, earned_at=now, expires_at=expires, now=now)
                report.points += points
        referral.status = ReferralStatus.REWARDED.value
        referral.order_id, referral.order_external_id = first.id, first.external_id
        referral.settled_at = now
        report.rewarded += 1
    session.flush()
    return report


def invitation(session: Session, *, workspace_slug: str, code: str) -> tuple[str, str] | None:
    """The program's name and the code, for the page a share link opens; None for an unknown workspace or code."""
    try:
        normal = normalise_code(code, length=CODE_RANDOM + 1)
    except PatronError:
        return None
    row = session.execute(
        select(Program.name)
        .join(Workspace, Workspace.id == Program.workspace_id)
        .join(ReferralCode, ReferralCode.workspace_id == Program.workspace_id)
        .where(Workspace.slug == workspace_slug, ReferralCode.code == normal)
    ).first()
    return None if row is None else (row[0], normal)
