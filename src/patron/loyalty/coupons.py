"""Single-use coupon codes: made unguessable, checked, redeemed at a point of sale exactly once, cancelled.

A code is 15 symbols drawn by ``secrets`` from Crockford's base-32 alphabet (75 random bits) and a check symbol
(Luhn mod 32), shown in groups of four: ``7KQ3-M9XD-2HTW-8RPC``. Reading a code forgives case, dashes and
spaces and takes O for 0 and I or L for 1; a mistyped symbol (or two swapped neighbours, almost always) fails
the check and is refused before any look-up.

Using a coupon is one conditional ``UPDATE … WHERE status = 'issued' AND expires_at > now``: of any number of
point-of-sale requests for one code at once, the database lets exactly one change the row (on PostgreSQL the
others wait for its row lock, then find the status changed and update nothing). Cancelling takes the member's
lock first, then the same conditional update, then gives the points back with a ``reverse`` entry.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from patron.core.clock import as_utc, utcnow
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.models import Workspace
from patron.core.money import from_minor
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.loyalty.models import (
    Coupon,
    CouponStatus,
    Entry,
    EntryKind,
    Lot,
    LotMove,
    Member,
    Reward,
    RewardKind,
    Source,
)
from patron.loyalty.schemas import CouponRead
from patron.loyalty.service import _entry, _lock_members, _New, customer_of_member

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_SYMBOLS = 15
_FORGIVEN = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def _luhn_sum(symbols: str, *, start_doubled: bool) -> int:
    total, double = 0, start_doubled
    for symbol in reversed(symbols):
        value = ALPHABET.index(symbol) * (2 if double else 1)
        total += value // 32 + value % 32
        double = not double
    return total


def check_symbol(payload: str) -> str:
    """The Luhn mod 32 check symbol of ``payload``."""
    return ALPHABET[(32 - _luhn_sum(payload, start_doubled=True) % 32) % 32]


def new_code() -> str:
    payload = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_SYMBOLS))
    return payload + check_symbol(payload)


def shown(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_code(
    text: str,
    *,
    length: int = RANDOM_SYMBOLS + 1,
    error: str = "loyalty.coupon_mistyped",
    param: str = "coupon",
) -> str:
    """The stored form of a typed code (coupon or referral); ``error`` when it cannot be one."""
    code = text.upper().translate(_FORGIVEN)
    if (
        len(code) != length
        or any(c not in ALPHABET for c in code)
        or _luhn_sum(code, start_doubled=False) % 32
    ):
        raise PatronError(error, None, **{param: text[:40]})
    return code


def coupon_read(
    session: Session, coupon: Coupon, reward: Reward, currency: str, *, replayed: bool = False,
    balance: int | None = None,
) -> CouponRead:  # fmt: skip
    customer = session.scalar(
        select(Customer.external_id).where(
            Customer.workspace_id == coupon.workspace_id,
            Customer.id == customer_of_member(coupon.workspace_id, coupon.member_id),
        )
    )
    now = utcnow()
    return CouponRead(
        code=shown(coupon.code), reward=reward.code, kind=RewardKind(reward.kind), name_zh_hant=reward.name_zh_hant,
        name_zh_hans=reward.name_zh_hans, name_en=reward.name_en,
        amount=_amount(reward, currency), percent=reward.value if reward.kind == RewardKind.DISCOUNT else None,
        customer_id=customer or "", status=coupon.status,
        usable=coupon.status == CouponStatus.ISSUED and as_utc(coupon.expires_at) > now, points=coupon.points,
        issued_at=coupon.issued_at, expires_at=coupon.expires_at, used_at=coupon.used_at,
        used_reference=coupon.used_reference, cancelled_at=coupon.cancelled_at, replayed=replayed, balance=balance,
    )  # fmt: skip


def _amount(reward: Reward, currency: str) -> str | None:
    if reward.kind != RewardKind.VOUCHER or reward.value is None:
        return None
    return str(from_minor(reward.value, currency))


def _find(session: Session, workspace_id: int, text: str) -> tuple[Coupon, Reward]:
    code = normalise_code(text)
    row = session.execute(
        select(Coupon, Reward)
        .join(Reward, and_(Reward.workspace_id == Coupon.workspace_id, Reward.id == Coupon.reward_id))
        .where(Coupon.workspace_id == workspace_id, Coupon.code == code)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise NotFound("loyalty.coupon_not_found", coupon=shown(code))
    return row[0], row[1]


def _refuse(coupon: Coupon, now: datetime) -> None:
    """Why this coupon cannot be used or cancelled now (raises), or nothing when it can."""
    if coupon.status == CouponStatus.USED:
        raise Conflict(
            "loyalty.coupon_used", coupon=shown(coupon.code), at=as_utc(coupon.used_at or now).isoformat()
        )
    if coupon.status == CouponStatus.CANCELLED:
        raise Conflict("loyalty.coupon_cancelled", coupon=shown(coupon.code))
    if as_utc(coupon.expires_at) <= now:
        raise Conflict(
            "loyalty.coupon_expired", coupon=shown(coupon.code), at=as_utc(coupon.expires_at).isoformat()
        )


def check_coupon(session: Session, *, workspace: Workspace, code: str) -> CouponRead:
    """What a point of sale sees before redeeming: the reward, its value and whether the coupon is usable."""
    coupon, reward = _find(session, workspace.id, code)
    return coupon_read(session, coupon, reward, workspace.currency)


def use_coupon(
    session: Session, *, workspace: Workspace, code: str, reference: str | None = None
) -> CouponRead:
    """Redeem a coupon at a point of sale, exactly once. The same ``reference`` again (a retried request) is
    answered as the first time (``replayed``); any other second use is ``loyalty.coupon_used``."""
    coupon, reward = _find(session, workspace.id, code)
    now = utcnow()
    changed = session.execute(
        update(Coupon)
        .where(
            Coupon.workspace_id == workspace.id,
            Coupon.id == coupon.id,
            Coupon.status == CouponStatus.ISSUED.value,
            Coupon.expires_at > now,
        )
        .values(status=CouponStatus.USED.value, used_at=now, used_reference=reference)
        .returning(Coupon.id)
        .execution_options(synchronize_session=False)
    ).first()
    session.refresh(coupon)
    if changed is None:
        if (
            reference is not None
            and coupon.status == CouponStatus.USED
            and coupon.used_reference == reference
        ):
            return coupon_read(session, coupon, reward, workspace.currency, replayed=True)
        _refuse(coupon, now)
        raise Conflict(
            "loyalty.coupon_used", coupon=shown(coupon.code), at=now.isoformat()
        )  # pragma: no cover
    return coupon_read(session, coupon, reward, workspace.currency)


def cancel_coupon(session: Session, *, workspace: Workspace, code: str, actor: str) -> CouponRead:
    """Cancel a coupon not used yet (expired ones too): its points come back to the member by a ``reverse``
    entry, into lots with the expiry of the lots they were taken from (a cancellation never extends points),
    repaying debt first like any credit; the reward's stock gets the coupon back."""
    coupon, reward = _find(session, workspace.id, code)
    member_row = session.scalar(scoped(Member, workspace.id, Member.id == coupon.member_id))
    assert member_row is not None
    member = _lock_members(session, workspace.id, [member_row.customer_id])[member_row.customer_id]
    now = utcnow()
    changed = session.execute(
        update(Coupon)
        .where(
            Coupon.workspace_id == workspace.id,
            Coupon.id == coupon.id,
            Coupon.status == CouponStatus.ISSUED.value,
        )
        .values(status=CouponStatus.CANCELLED.value, cancelled_at=now, cancelled_by=actor)
        .returning(Coupon.id)
        .execution_options(synchronize_session=False)
    ).first()
    session.refresh(coupon)
    if changed is None:
        _refuse(coupon, now)
    new = _New(EntryKind.REVERSE, "coupon_cancelled", Source.REWARD, f"coupon-cancel:{coupon.code}",
               source_ref=f"reward:{reward.code}")  # fmt: skip
    entry = _restore(session, member, new, coupon, now)
    coupon.refund_entry_id = entry.id
    session.execute(
        update(Reward)
        .where(Reward.workspace_id == workspace.id, Reward.id == reward.id)
        .values(issued=Reward.issued - 1)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return coupon_read(session, coupon, reward, workspace.currency, balance=member.points)


def _restore(session: Session, member: Member, new: _New, coupon: Coupon, now: datetime) -> Entry:
    """Give back what the coupon's redeem entry took, lot by lot with each lot's own expiry (points whose lot is
    past its expiry come back due, and the expiry job takes them); debt is repaid first."""
    entry = _entry(session, member, new, coupon.points, now)
    taken = session.execute(
        select(Lot.earned_at, Lot.expires_at, -LotMove.points)
        .join(Lot, Lot.id == LotMove.lot_id)
        .where(
            LotMove.workspace_id == member.workspace_id,
            LotMove.entry_id == coupon.entry_id,
            LotMove.points < 0,
        )
        .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.id)
    ).all()
    repay = min(coupon.points, member.debt)
    entry.debt_delta = -repay
    member.debt -= repay
    for earned_at, expires_at, points in taken:
        used = min(repay, points)
        repay -= used
        kept = points - used
        if kept:
            lot = Lot(workspace_id=member.workspace_id, member_id=member.id, entry_id=entry.id, earned_at=earned_at,
                      expires_at=expires_at, points=kept, remaining=kept)  # fmt: skip
            session.add(lot)
            session.flush()
            session.add(
                LotMove(workspace_id=member.workspace_id, entry_id=entry.id, lot_id=lot.id, points=kept)
            )
            member.points += kept
    session.flush()
    return entry
