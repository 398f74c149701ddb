"""The rewards catalog: rewards (voucher, discount, free product, experience) with names in three languages, a
points cost, stock, a validity window and a per-member limit; every change recorded with who made it; and
redemption, which spends the member's points through the ledger and issues a single-use coupon.

Redemption takes the member's lock (the ledger's one helper), re-reads everything after it and refuses, moving
nothing, a reward that is unknown or withdrawn, not yet or no longer valid, out of stock, over the member's
limit, or dearer than the member's live points. Stock is taken by one conditional ``UPDATE … WHERE issued <
stock`` (the reward's row lock, always after the member's), so concurrent redemptions never issue more than
the stock. A retry with the same idempotency key returns the first coupon.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from patron.core import validation
from patron.core.clock import as_utc, utcnow
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.i18n import translate
from patron.core.models import Workspace
from patron.core.money import from_minor
from patron.core.tenancy import scoped
from patron.loyalty.coupons import coupon_read, new_code
from patron.loyalty.models import CatalogChange, Coupon, CouponStatus, EntryKind, Reward, RewardKind, Source
from patron.loyalty.schemas import CatalogChangeRead, CouponRead, RewardCreate, RewardRead, RewardUpdate
from patron.loyalty.service import (
    _amount_minor,
    _debit,
    _expire_member,
    _locked_member,
    _member_lots,
    _New,
    require_program,
)

M = TypeVar("M", bound=BaseModel)

#: Fields an update may change, in the order the audit trail lists them.
_FIELDS = ("name_zh_hant", "name_zh_hans", "name_en", "points_cost", "value", "stock", "valid_from", "valid_until",
           "per_member_limit", "coupon_days", "active")  # fmt: skip


def reward_read(reward: Reward, currency: str) -> RewardRead:
    voucher = reward.kind == RewardKind.VOUCHER and reward.value is not None
    return RewardRead(
        code=reward.code, kind=RewardKind(reward.kind), name_zh_hant=reward.name_zh_hant,
        name_zh_hans=reward.name_zh_hans, name_en=reward.name_en, points_cost=reward.points_cost,
        amount=str(from_minor(reward.value, currency)) if voucher and reward.value is not None else None,
        percent=reward.value if reward.kind == RewardKind.DISCOUNT else None, stock=reward.stock,
        issued=reward.issued, left=None if reward.stock is None else reward.stock - reward.issued,
        valid_from=reward.valid_from, valid_until=reward.valid_until, per_member_limit=reward.per_member_limit,
        coupon_days=reward.coupon_days, active=reward.active,
    )  # fmt: skip


def reward_name(reward: Reward | RewardRead | CouponRead, locale: str) -> str:
    if locale.startswith("zh") and ("Hans" in locale or locale in ("zh-CN", "zh-SG")):
        return reward.name_zh_hans
    if locale.startswith("zh"):
        return reward.name_zh_hant
    return reward.name_en


def _get(session: Session, workspace_id: int, code: str, *, lock: bool = False) -> Reward:
    query = scoped(Reward, workspace_id, Reward.code == code)
    reward = session.scalar(query.with_for_update() if lock else query)
    if reward is None:
        raise NotFound("loyalty.reward_not_found", reward=code)
    return reward


def _value(kind: RewardKind, amount: str | None, percent: int | None, currency: str, code: str) -> int | None:
    """The stored value: a voucher's amount in minor units, a discount's percent."""
    if kind == RewardKind.VOUCHER:
        if amount is None or percent is not None:
            raise PatronError("loyalty.reward_value", reward=code, kind=kind.value)
        minor = _amount_minor(amount, currency, "amount")
        if minor == 0:
            raise PatronError("loyalty.bad_amount", field="amount", value=amount, currency=currency)
        return minor
    if kind == RewardKind.DISCOUNT:
        if percent is None or amount is not None:
            raise PatronError("loyalty.reward_value", reward=code, kind=kind.value)
        return percent
    if amount is not None or percent is not None:
        raise PatronError("loyalty.reward_value", reward=code, kind=kind.value)
    return None


def _check_window(code: str, start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and as_utc(end) <= as_utc(start):
        raise PatronError("loyalty.bad_period", start=start.isoformat(), end=end.isoformat())


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _audit(
    session: Session, workspace_id: int, code: str, action: str, actor: str, changes: dict[str, Any]
) -> None:
    session.add(CatalogChange(workspace_id=workspace_id, reward_code=code, action=action, actor=actor,
                              changes=changes, created_at=utcnow()))  # fmt: skip


def create_reward(session: Session, *, workspace: Workspace, data: RewardCreate, actor: str) -> RewardRead:
    require_program(session, workspace.id)
    if session.scalar(scoped(Reward, workspace.id, Reward.code == data.code)) is not None:
        raise Conflict("loyalty.reward_exists", reward=data.code)
    _check_window(data.code, data.valid_from, data.valid_until)
    reward = Reward(
        workspace_id=workspace.id, code=data.code, kind=data.kind.value, name_zh_hant=data.name_zh_hant,
        name_zh_hans=data.name_zh_hans, name_en=data.name_en, points_cost=data.points_cost,
        value=_value(data.kind, data.amount, data.percent, workspace.currency, data.code), stock=data.stock,
        issued=0, valid_from=as_utc(data.valid_from) if data.valid_from else None,
        valid_until=as_utc(data.valid_until) if data.valid_until else None,
        per_member_limit=data.per_member_limit, coupon_days=data.coupon_days, active=data.active,
    )  # fmt: skip
    session.add(reward)
    session.flush()
    _audit(session, workspace.id, data.code, "create", actor,
           {f: [None, _json(getattr(reward, f))] for f in ("kind", *_FIELDS)})  # fmt: skip
    session.flush()
    return reward_read(reward, workspace.currency)


def update_reward(
    session: Session, *, workspace: Workspace, code: str, data: RewardUpdate, actor: str
) -> RewardRead:
    """Change the fields given; each change is recorded (old and new). Stock may not drop below what was issued."""
    reward = _get(session, workspace.id, code, lock=True)
    given = data.model_fields_set
    wanted: dict[str, Any] = {f: getattr(data, f) for f in given if f not in ("amount", "percent")}
    for field in ("name_zh_hant", "name_zh_hans", "name_en", "points_cost", "coupon_days", "active"):
        if field in wanted and wanted[field] is None:
            raise PatronError("loyalty.reward_field_required", field=field)
    if "amount" in given or "percent" in given:
        wanted["value"] = _value(RewardKind(reward.kind), data.amount, data.percent, workspace.currency, code)
    for field in ("valid_from", "valid_until"):
        if wanted.get(field) is not None:
            wanted[field] = as_utc(wanted[field])
    _check_window(
        code, wanted.get("valid_from", reward.valid_from), wanted.get("valid_until", reward.valid_until)
    )
    if "stock" in wanted and wanted["stock"] is not None and wanted["stock"] < reward.issued:
        raise Conflict("loyalty.stock_below_issued", reward=code, stock=wanted["stock"], issued=reward.issued)
    changes: dict[str, Any] = {}
    for field in _FIELDS:
        if field in wanted:
            old, new = getattr(reward, field), wanted[field]
            if isinstance(old, datetime):
                old = as_utc(old)
            if old != new:
                changes[field] = [_json(old), _json(new)]
                setattr(reward, field, new)
    if changes:
        _audit(session, workspace.id, code, "update", actor, changes)
    session.flush()
    return reward_read(reward, workspace.currency)


def list_rewards(session: Session, *, workspace: Workspace) -> list[RewardRead]:
    return [reward_read(r, workspace.currency)
            for r in session.scalars(scoped(Reward, workspace.id).order_by(Reward.points_cost, Reward.code))]  # fmt: skip


def get_reward(session: Session, *, workspace: Workspace, code: str) -> RewardRead:
    return reward_read(_get(session, workspace.id, code), workspace.currency)


def catalog_changes(
    session: Session, *, workspace_id: int, code: str | None = None, limit: int = 100
) -> list[CatalogChangeRead]:
    query = scoped(CatalogChange, workspace_id)
    if code is not None:
        query = query.where(CatalogChange.reward_code == code)
    return [
        CatalogChangeRead(
            reward=c.reward_code,
            action=c.action,
            actor=c.actor,
            changes=dict(c.changes),
            created_at=c.created_at,
        )
        for c in session.scalars(query.order_by(CatalogChange.id.desc()).limit(limit))
    ]


def redeem_reward(
    session: Session, *, workspace: Workspace, code: str, customer_external_id: str, idempotency_key: str
) -> CouponRead:
    """Spend the reward's points cost and issue a coupon; refused, moving nothing, when the reward is unknown or
    withdrawn (404), not yet or no longer valid, out of stock, over the member's limit, or the member's live
    points are short (409)."""
    require_program(session, workspace.id)
    member = _locked_member(session, workspace.id, customer_external_id, create=False)
    replay = session.scalar(scoped(Coupon, workspace.id, Coupon.idempotency_key == idempotency_key))
    reward = _get(session, workspace.id, code)
    if replay is not None:
        if replay.member_id != member.id or replay.reward_id != reward.id:
            raise Conflict("loyalty.key_reused", key=idempotency_key)
        return coupon_read(session, replay, reward, workspace.currency, replayed=True, balance=member.points)
    if not reward.active:
        raise NotFound("loyalty.reward_not_found", reward=code)
    now = utcnow()
    if reward.valid_from is not None and now < as_utc(reward.valid_from):
        raise Conflict("loyalty.reward_not_yet", reward=code, at=as_utc(reward.valid_from).isoformat())
    if reward.valid_until is not None and now >= as_utc(reward.valid_until):
        raise Conflict("loyalty.reward_ended", reward=code, at=as_utc(reward.valid_until).isoformat())
    if reward.stock is not None and reward.issued >= reward.stock:
        raise Conflict("loyalty.reward_out_of_stock", reward=code)
    if reward.per_member_limit is not None:
        held = session.scalar(
            select(func.count()).select_from(Coupon).where(
                Coupon.workspace_id == workspace.id, Coupon.member_id == member.id, Coupon.reward_id == reward.id,
                Coupon.status != CouponStatus.CANCELLED.value,
            )
        )  # fmt: skip
        if (held or 0) >= reward.per_member_limit:
            raise Conflict("loyalty.reward_limit", reward=code, limit=reward.per_member_limit)
    lots = _member_lots(session, member)
    _expire_member(session, member, now, lots)
    if member.points < reward.points_cost:
        raise Conflict("loyalty.insufficient_points", points=reward.points_cost, balance=member.points)
    taken = session.execute(
        update(Reward)
        .where(Reward.workspace_id == workspace.id, Reward.id == reward.id,
               or_(Reward.stock.is_(None), Reward.issued < Reward.stock))
        .values(issued=Reward.issued + 1)
        .returning(Reward.issued)
        .execution_options(synchronize_session=False)
    ).first()  # fmt: skip
    if taken is None:  # another member took the last one since it was read
        raise Conflict("loyalty.reward_out_of_stock", reward=code)
    session.refresh(reward)
    new = _New(
        EntryKind.REDEEM, "reward", Source.REWARD, f"coupon:{idempotency_key}", source_ref=f"reward:{code}"
    )
    entry = _debit(session, member, new, reward.points_cost, now, lots=lots)
    coupon = Coupon(
        workspace_id=workspace.id, code=new_code(), reward_id=reward.id, member_id=member.id,
        status=CouponStatus.ISSUED.value, points=reward.points_cost, entry_id=entry.id,
        idempotency_key=idempotency_key, issued_at=now, expires_at=now + timedelta(days=reward.coupon_days),
    )  # fmt: skip
    session.add(coupon)
    session.flush()
    return coupon_read(session, coupon, reward, workspace.currency, balance=member.points)


class InvalidInput(PatronError):
    """A reward, coupon or referral document (CLI options) that does not validate; each problem says where."""

    def __init__(self, problems: list[validation.Problem]) -> None:
        super().__init__("loyalty.invalid_input")
        self.problems = problems

    def message(self, locale: str | None = None) -> str:
        return translate(self.code, locale, problems=validation.summary(self.problems, locale))

    def details(self, locale: str | None = None) -> list[dict[str, Any]]:
        return [{"location": p.path, "message": p.message(locale), "type": p.code} for p in self.problems]


def parse(model: type[M], document: dict[str, Any]) -> M:
    """``document`` (CLI options, Nones left out) as ``model``; ``loyalty.invalid_input`` naming each problem."""
    given = {k: v for k, v in document.items() if v is not None}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise InvalidInput(validation.problems(exc, given)) from None
