"""The member's own page on the phone, behind a signed link (``/m/{token}``, ``web/member_pages.py``).

The token is the workspace and member ids signed with the server's secret (itsdangerous, as survey links are):
it cannot be guessed or altered, and it names one member of one workspace. It does not expire; rotating the
secret key (``PATRON_SECRET_KEY``) withdraws every link. The page only reads: balance, points expiring soon,
tier and progress to the next one, the tier's benefits, the ledger's latest entries and the tier history, each
with its reason. Rewards to redeem and the referral link come from the rewards part (a marked slot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import as_utc, utcnow
from patron.core.errors import NotFound
from patron.core.models import Workspace
from patron.core.settings import get_settings
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.loyalty import referrals, rewards, service, tiers
from patron.loyalty.member_view import reason_text
from patron.loyalty.models import Entry, Member, Program
from patron.loyalty.schemas import BalanceRead, MemberLinkRead, MemberTierRead, ReferralCodeRead

_SALT = "patron-member-page"
ENTRIES_SHOWN = 20


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().resolved_secret_key(), salt=_SALT)


def member_token(workspace_id: int, member_id: int) -> str:
    return str(_serializer().dumps([workspace_id, member_id]))


def read_member_token(token: str) -> tuple[int, int] | None:
    """(workspace id, member id), or None for a tampered or foreign token."""
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
        return int(value[0]), int(value[1])
    return None


def member_url(workspace_id: int, member_id: int) -> str:
    return f"{get_settings().base_url()}/m/{member_token(workspace_id, member_id)}"


def mint_link(session: Session, *, workspace: Workspace, customer_external_id: str) -> MemberLinkRead:
    """The member's page link (the same link every time: it is the member's, not one message's)."""
    customer = session.scalar(scoped(Customer, workspace.id, Customer.external_id == customer_external_id))
    member = (
        session.scalar(scoped(Member, workspace.id, Member.customer_id == customer.id)) if customer else None
    )
    if member is None:
        raise NotFound("loyalty.member_not_found", customer=customer_external_id)
    token = member_token(workspace.id, member.id)
    return MemberLinkRead(
        customer_id=customer_external_id, token=token, url=f"{get_settings().base_url()}/m/{token}"
    )


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    points: int
    reason: str


@dataclass(frozen=True)
class RewardOffer:
    name: str
    points_cost: int
    #: Points still missing; 0 when the balance covers it.
    missing: int


@dataclass
class MemberPage:
    workspace: Workspace
    program: str
    name: str | None
    balance: BalanceRead
    tier: MemberTierRead | None
    entries: list[HistoryRow]
    #: {tier code: name in the page's language}, for the tier history.
    tier_names: dict[str, str] = field(default_factory=dict)
    #: Rewards the member can redeem now (in stock, within their window), cheapest first.
    rewards: list[RewardOffer] = field(default_factory=list)
    #: The member's referral code and share link, when the program rewards referrals.
    referral: ReferralCodeRead | None = None


def member_page(session: Session, token: str, locale: str) -> MemberPage | None:
    """What the member's page shows, or None when the link is not valid (any more)."""
    ids = read_member_token(token)
    if ids is None:
        return None
    workspace_id, member_id = ids
    member = session.scalar(select(Member).where(Member.workspace_id == workspace_id, Member.id == member_id))
    workspace = session.get(Workspace, workspace_id)
    program = session.scalar(select(Program).where(Program.workspace_id == workspace_id))
    if member is None or workspace is None or program is None:
        return None
    customer = session.get_one(Customer, member.customer_id)
    balance = service.balance(session, workspace_id=workspace_id, customer_external_id=customer.external_id)
    tier, names = None, {}
    tier_set = tiers.current_set(session, workspace_id)
    if tier_set is not None:
        names = {t["code"]: tiers.tier_read(t, tier_set.currency, locale).name for t in tier_set.tiers}
        tier = tiers.member_tier(
            session, workspace=workspace, customer_external_id=customer.external_id, locale=locale, history=20
        )
    entries = [
        HistoryRow(e.created_at, e.points, reason_text(e.reason, locale))
        for e in session.scalars(
            select(Entry)
            .where(Entry.workspace_id == workspace_id, Entry.member_id == member.id)
            .order_by(Entry.id.desc())
            .limit(ENTRIES_SHOWN)
        )
    ]
    now = utcnow()
    offers = [
        RewardOffer(rewards.reward_name(r, locale), r.points_cost, max(r.points_cost - balance.points, 0))
        for r in rewards.list_rewards(session, workspace=workspace)
        if r.active
        and (r.left is None or r.left > 0)
        and (r.valid_from is None or as_utc(r.valid_from) <= now)
        and (r.valid_until is None or now < as_utc(r.valid_until))
    ]
    settings = referrals.read_settings(session, workspace=workspace)
    referral = (
        referrals.member_code(session, workspace=workspace, customer_external_id=customer.external_id)
        if settings.referrer_points or settings.referee_points
        else None
    )
    return MemberPage(workspace, program.name, customer.name, balance, tier, entries, names, offers, referral)
