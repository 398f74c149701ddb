"""The rewards catalog as a form: what the dashboard's editor shows for a reward and how what an admin typed
becomes a ``RewardCreate`` / ``RewardUpdate`` for ``loyalty.rewards`` (which checks it, records the change with
who made it in ``loyalty_catalog_changes``, and refuses what breaks a rule with a named error).

Every field arrives as text. Whole numbers are read as integers (anything else is passed on as typed, so the
schema names the field that is wrong), an empty stock, limit or validity means none (unlimited, no limit, open),
and the validity is a ``datetime-local`` in the workspace's zone.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from patron.core.models import Workspace
from patron.loyalty import rewards
from patron.loyalty.models import RewardKind
from patron.loyalty.schemas import CatalogChangeRead, RewardCreate, RewardRead, RewardUpdate

#: The form's fields, in the order the page shows them (``code`` and ``kind`` only for a new reward).
FIELDS = ("code", "kind", "name_zh_hant", "name_zh_hans", "name_en", "points_cost", "amount", "percent", "stock",
          "valid_from", "valid_until", "per_member_limit", "coupon_days", "active")  # fmt: skip
_INTEGERS = ("points_cost", "percent", "stock", "per_member_limit", "coupon_days")
_OPTIONAL = ("stock", "per_member_limit", "valid_from", "valid_until")
_WHOLE = re.compile(r"^[+-]?\d{1,15}$")
KINDS = tuple(k.value for k in RewardKind)


def _local(value: datetime | None, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value is not None else ""


def form_of(reward: RewardRead | None, zone: str) -> dict[str, str]:
    """The form's values for a reward (empty for a new one: a voucher, 30-day coupons, active)."""
    if reward is None:
        return dict.fromkeys(FIELDS, "") | {
            "kind": RewardKind.VOUCHER.value,
            "coupon_days": "30",
            "active": "1",
        }
    return {
        "code": reward.code, "kind": reward.kind.value, "name_zh_hant": reward.name_zh_hant,
        "name_zh_hans": reward.name_zh_hans, "name_en": reward.name_en, "points_cost": str(reward.points_cost),
        "amount": reward.amount or "", "percent": "" if reward.percent is None else str(reward.percent),
        "stock": "" if reward.stock is None else str(reward.stock),
        "valid_from": _local(reward.valid_from, zone), "valid_until": _local(reward.valid_until, zone),
        "per_member_limit": "" if reward.per_member_limit is None else str(reward.per_member_limit),
        "coupon_days": str(reward.coupon_days), "active": "1" if reward.active else "",
    }  # fmt: skip


def _document(form: dict[str, str], kind: str, zone: str) -> dict[str, Any]:
    """The typed form as the schemas' document: numbers as integers, empty optional fields as None, the
    validity with the workspace's offset, the value only of the kind's own field."""
    document: dict[str, Any] = {}
    for name in ("name_zh_hant", "name_zh_hans", "name_en", *_INTEGERS, "valid_from", "valid_until"):
        text = form.get(name, "").strip()
        if name in _OPTIONAL and not text:
            document[name] = None
            continue
        if name in _INTEGERS and _WHOLE.match(text):
            document[name] = int(text)
        elif name in ("valid_from", "valid_until"):
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                document[name] = text  # the schema names it
                continue
            document[name] = (moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))).isoformat()
        else:
            document[name] = text
    document["active"] = form.get("active", "") in ("1", "on", "true")
    document.pop("percent", None)
    # An empty value is none given: the catalog then names what the kind needs (``loyalty.reward_value``).
    if kind == RewardKind.VOUCHER.value:
        document["amount"] = form.get("amount", "").strip() or None
    elif kind == RewardKind.DISCOUNT.value:
        percent = form.get("percent", "").strip()
        document["percent"] = (int(percent) if _WHOLE.match(percent) else percent) or None
    return document


def create_from_form(session: Session, workspace: Workspace, form: dict[str, str], actor: str) -> RewardRead:
    document = _document(form, form.get("kind", ""), workspace.timezone)
    document |= {"code": form.get("code", "").strip(), "kind": form.get("kind", "")}
    data = rewards.parse(RewardCreate, document)
    return rewards.create_reward(session, workspace=workspace, data=data, actor=actor)


def update_from_form(
    session: Session, workspace: Workspace, code: str, form: dict[str, str], actor: str
) -> tuple[RewardRead, bool]:
    """The reward after the change, and whether anything changed (an unchanged form records nothing)."""
    before = rewards.get_reward(session, workspace=workspace, code=code)
    document = _document(form, before.kind.value, workspace.timezone)
    # ``parse`` leaves out Nones; here an empty stock, limit or validity clears it, so they are put back.
    data = rewards.parse(RewardUpdate, document)
    for name in _OPTIONAL:
        if document.get(name) is None:
            setattr(data, name, None)
    after = rewards.update_reward(session, workspace=workspace, code=code, data=data, actor=actor)
    return after, after != before


def history(session: Session, workspace: Workspace, code: str) -> list[CatalogChangeRead]:
    """The reward's changes, newest first."""
    return rewards.catalog_changes(session, workspace_id=workspace.id, code=code)
