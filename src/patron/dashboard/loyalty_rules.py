"""Earn rules and tiers as forms: the dashboard adds a new version (never edits one: what orders earned keeps the
version that produced it). The form starts from the latest version; what an admin typed becomes the same document
a rule file holds, checked by ``loyalty.service.parse_rules`` and ``add_rule`` (named errors, ``created_by`` the
admin).

Category and product multipliers are typed one per line as ``category: percent`` (``product id: percent``);
bonus periods one per line as ``start | end | percent`` with times in the workspace's zone
(``2026-12-05 00:00 | 2026-12-07 00:00 | 200``).

Tiers have more structure (a list of tiers, each named in three languages with its benefits), so their form is
the tier file itself: the YAML of the latest version, edited and sent as the next version (``tiers.parse_tiers``
and ``add_tier_set`` check it as they check a file).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.loyalty import service, tiers
from patron.loyalty.schemas import EarnRuleRead, TierSetRead

FIELDS = ("effective_from", "currency", "points_per_unit", "per_amount", "category_multipliers",
          "product_multipliers", "bonus_periods", "first_purchase_bonus", "min_spend")  # fmt: skip
_WHOLE = re.compile(r"^[+-]?\d{1,15}$")


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def form_of(latest: EarnRuleRead | None, workspace: Workspace) -> dict[str, str]:
    """The form for the next version: the latest one's terms, starting now (empty)."""
    if latest is None:
        return {"effective_from": "", "currency": workspace.currency, "points_per_unit": "1", "per_amount": "100",
                "category_multipliers": "", "product_multipliers": "", "bonus_periods": "", "first_purchase_bonus": "0", "min_spend": "0"}  # fmt: skip
    zone = workspace.timezone
    return {
        "effective_from": "", "currency": latest.currency, "points_per_unit": str(latest.points_per_unit),
        "per_amount": latest.per_amount, "first_purchase_bonus": str(latest.first_purchase_bonus),
        "min_spend": latest.min_spend,
        "category_multipliers": "\n".join(f"{c}: {p}" for c, p in latest.category_multipliers.items()),
        "product_multipliers": "\n".join(f"{c}: {p}" for c, p in latest.product_multipliers.items()),
        "bonus_periods": "\n".join(f"{_local(b.start, zone)} | {_local(b.end, zone)} | {b.percent}"
                                   for b in latest.bonus_periods),
    }  # fmt: skip


def _moment(text: str, zone: str, line: int, field: str) -> str:
    try:
        moment = datetime.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise PatronError("loy.rule_form_line", field=field, line=line, text=text[:80]) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))).isoformat()


def _number(text: str) -> Any:
    text = text.strip()
    return int(text) if _WHOLE.match(text) else text


def _multipliers(form: dict[str, str], field: str) -> dict[str, Any]:
    """``name: percent`` lines; the name is everything before the last colon (product ids may hold one)."""
    found: dict[str, Any] = {}
    for number, line in enumerate(form.get(field, "").splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, percent = line.rpartition(":")
        if not colon or not name.strip():
            raise PatronError("loy.rule_form_line", field=field, line=number, text=line[:80])
        found[name.strip()] = _number(percent)
    return found


def document_of(form: dict[str, str], zone: str) -> dict[str, Any]:
    """The typed form as a rule document; a line that cannot be read is refused naming the field and line."""
    categories = _multipliers(form, "category_multipliers")
    products = _multipliers(form, "product_multipliers")
    periods: list[dict[str, Any]] = []
    for number, line in enumerate(form.get("bonus_periods", "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != 3:
            raise PatronError("loy.rule_form_line", field="bonus_periods", line=number, text=line[:80])
        periods.append({"start": _moment(parts[0], zone, number, "bonus_periods"),
                        "end": _moment(parts[1], zone, number, "bonus_periods"), "percent": _number(parts[2])})  # fmt: skip
    document: dict[str, Any] = {
        "currency": form.get("currency", "").strip(), "points_per_unit": _number(form.get("points_per_unit", "")),
        "per_amount": form.get("per_amount", "").strip(), "category_multipliers": categories,
        "product_multipliers": products,
        "bonus_periods": periods, "first_purchase_bonus": _number(form.get("first_purchase_bonus", "") or "0"),
        "min_spend": form.get("min_spend", "").strip() or "0",
    }  # fmt: skip
    start = form.get("effective_from", "").strip()
    if start:
        document["effective_from"] = _moment(start, zone, 1, "effective_from")
    return document


def add_from_form(session: Session, workspace: Workspace, form: dict[str, str], actor: str) -> EarnRuleRead:
    data = service.parse_rules(document_of(form, workspace.timezone), "form")
    return service.add_rule(session, workspace=workspace, data=data, actor=actor)


# --------------------------------------------------------------------------------------------- tiers
def tiers_document(latest: TierSetRead | None, workspace: Workspace) -> str:
    """The next tier-set version as the YAML a tier file holds, starting from the latest version's terms (no
    ``effective_from``: from now)."""
    if latest is None:
        document: dict[str, Any] = {
            "currency": workspace.currency, "window_months": 12, "review_month": 1, "grace_months": 6,
            "tiers": [{"code": "member", "names": {"zh-Hant": "一般會員", "zh-Hans": "一般会员", "en": "Member"}}],
        }  # fmt: skip
    else:
        document = {
            "currency": latest.currency, "window_months": latest.window_months, "review_month": latest.review_month,
            "grace_months": latest.grace_months,
            "tiers": [
                {"code": t.code, "names": t.names, "threshold": t.threshold, "discount_percent": t.discount_percent,
                 "points_percent": t.points_percent, "birthday_points": t.birthday_points,
                 "exclusive_events": t.exclusive_events, "early_access": t.early_access}
                for t in latest.tiers
            ],
        }  # fmt: skip
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def add_tiers_from_text(
    session: Session, workspace: Workspace, text: str, actor: str, locale: str
) -> TierSetRead:
    """A tier-set version from the YAML typed on the page, checked like a tier file."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise PatronError("loyalty.unreadable_tiers", file="form", reason=reason[:200]) from None
    data = tiers.parse_tiers(document, "form")
    return tiers.add_tier_set(session, workspace=workspace, data=data, actor=actor, locale=locale)
