"""Loyalty shapes: the program, earn-rule versions (as data), balances, entries and order accounts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from patron.loyalty.models import Enrolment, ExpiryPolicy, RewardKind

IdempotencyKey = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9._:\-]+$")


class ProgramUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="Loyalty", min_length=1, max_length=200)
    expiry_policy: ExpiryPolicy = ExpiryPolicy.MONTHS
    expiry_months: int = Field(default=12, ge=1, le=120)
    #: What one point is worth in the workspace's currency, major units as a decimal string ("0.1", "1.25"), up
    #: to four decimals; the outstanding points are then also shown as money. Left out: unchanged.
    point_value: str | None = Field(default=None, pattern=r"^\d{1,6}(\.\d{1,4})?$")
    #: How customers join: ``auto`` (on their first synced order; a new program's default) or ``consent`` (only
    #: when enrolled with a recorded consent). Left out: unchanged.
    enrolment: Enrolment | None = None


class ProgramRead(ProgramUpdate):
    enrolment: Enrolment | None = Enrolment.AUTO


class EnrolmentCreate(BaseModel):
    """The consent a customer gave to join (``POST /members/{customer}``); an empty body: given now, via the API."""

    model_config = ConfigDict(extra="forbid")
    #: When the customer consented (now when left out); never in the future.
    consented_at: AwareDatetime | None = None
    #: Where the consent was collected: "pos", "web_form", "paper", "app", … (default "api").
    source: str = Field(default="api", min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:\-]+$")
    #: Who recorded it (a cashier, a system); up to 320 characters.
    recorded_by: str | None = Field(default=None, min_length=1, max_length=320)


class TierCount(BaseModel):
    tier: str
    members: int


class ExpiringBucket(BaseModel):
    #: Points expiring after now and at most ``days`` days from now, and the members holding them.
    days: int
    points: int
    members: int


class OverviewMonth(BaseModel):
    month: str
    earned: int
    redeemed: int
    expired: int
    reversed: int
    adjusted: int
    #: The month under way (only with ``partial``): left out of the rates.
    partial: bool


class OverviewRead(BaseModel):
    """The program's figures (docs/loyalty.md, "Where managers see it"); money as decimal strings in
    ``currency``, None without a point value."""

    program: str
    since: date
    until: date
    segment: str | None
    members: int
    members_with_points: int
    outstanding: int
    currency: str
    point_value: str | None
    outstanding_money: str | None
    debt: int
    debt_money: str | None
    members_with_debt: int
    expiring: list[ExpiringBucket]
    by_tier: list[TierCount]
    months: list[OverviewMonth]
    issued: int
    redeemed: int
    expired: int
    redemption_rate: float | None
    breakage_rate: float | None


class UnenrolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="left", min_length=1, max_length=300)


class MembershipRead(BaseModel):
    """A customer's membership: whether they are a member, their recorded consent, and on leaving, what was
    forfeited (live points) and written off (debt)."""

    customer_id: str
    member: bool
    enrolled_at: datetime
    consent_at: datetime | None
    consent_source: str | None
    consent_by: str | None
    earns_from: datetime | None
    left_at: datetime | None
    points: int
    debt: int
    forfeited: int = 0
    written_off: int = 0


class BonusPeriod(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: AwareDatetime
    end: AwareDatetime
    percent: int = Field(ge=0, le=10_000)


class EarnRuleCreate(BaseModel):
    """An earn-rule version as data (a YAML or JSON file, or the API body)."""

    model_config = ConfigDict(extra="forbid")
    effective_from: AwareDatetime | None = None
    currency: str = Field(min_length=3, max_length=3)
    points_per_unit: int = Field(ge=0, le=1_000_000)
    #: Spend in the currency's major units that earns ``points_per_unit`` points, as a decimal string ("100").
    per_amount: str = Field(min_length=1, max_length=20)
    category_multipliers: dict[str, int] = Field(default_factory=dict, max_length=500)
    #: {product external id: percent}; it takes precedence over the product's category multiplier.
    product_multipliers: dict[str, int] = Field(default_factory=dict, max_length=5000)
    bonus_periods: list[BonusPeriod] = Field(default_factory=list, max_length=100)
    first_purchase_bonus: int = Field(default=0, ge=0, le=10_000_000)
    min_spend: str = Field(default="0", max_length=20)


class EarnRuleRead(BaseModel):
    version: int
    effective_from: datetime
    currency: str
    points_per_unit: int
    per_amount: str
    category_multipliers: dict[str, int]
    product_multipliers: dict[str, int] = Field(default_factory=dict)
    bonus_periods: list[BonusPeriod]
    first_purchase_bonus: int
    min_spend: str
    created_by: str | None = None


class PointsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: int = Field(ge=-1_000_000_000, le=1_000_000_000)
    reason: str = Field(min_length=1, max_length=300)
    idempotency_key: str = IdempotencyKey


class EntryRead(BaseModel):
    id: int
    kind: str
    points: int
    debt_delta: int
    reason: str
    source: str
    order_external_id: str | None = None
    line_no: int | None = None
    source_ref: str | None = None
    rule_version: int | None = None
    idempotency_key: str
    created_at: datetime


class ExpiringPoints(BaseModel):
    points: int
    expires_at: datetime


class BalanceRead(BaseModel):
    customer_id: str
    points: int
    debt: int
    expiring_soon: list[ExpiringPoints]


class EntryPage(BaseModel):
    items: list[EntryRead]
    total: int
    limit: int
    offset: int


class OperationRead(BaseModel):
    """The answer to a redeem or adjust: the entry (the first one, when the request was a retry) and the
    balance after it."""

    entry: EntryRead
    replayed: bool
    balance: BalanceRead


class RefundLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: int = Field(ge=1, le=1_000_000)
    quantity: int = Field(ge=1, le=1_000_000_000)


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    idempotency_key: str = IdempotencyKey
    #: The units given back; none means the whole order.
    lines: list[RefundLine] = Field(default_factory=list, max_length=10_000)


class OrderLinePoints(BaseModel):
    line_no: int | None
    points: int


class OrderPoints(BaseModel):
    order_id: str
    customer_id: str
    status: str
    rule_version: int | None
    points: int
    lines: list[OrderLinePoints]
    replayed: bool = False


class SyncReport(BaseModel):
    orders: int
    earned: int
    reversed: int
    entries: int


class ExpiryReport(BaseModel):
    lots: int
    points: int


class CheckDifference(BaseModel):
    what: str
    id: int
    expected: int
    found: int


class CheckReport(BaseModel):
    members: int
    entries: int
    lots: int
    differences: list[CheckDifference]


# --------------------------------------------------------------------------------------------- tiers, birthday
TIER_LOCALES = ("zh-Hant", "zh-Hans", "en")


class TierDefinition(BaseModel):
    """One tier of a tier-set version: who qualifies (spend in the rolling window) and what it gives."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_\-]+$")
    #: {"zh-Hant": "高級會員", "zh-Hans": "高级会员", "en": "Premium"}: all three required.
    names: dict[str, str] = Field(min_length=1, max_length=10)
    #: Qualifying spend in the rolling window, in the currency's major units, as a decimal string ("10000").
    threshold: str = Field(default="0", min_length=1, max_length=20)
    discount_percent: int = Field(default=0, ge=0, le=100)
    #: Points multiplier for orders, percent: 150 earns one and a half times the points.
    points_percent: int = Field(default=100, ge=100, le=1000)
    birthday_points: int = Field(default=0, ge=0, le=1_000_000)
    exclusive_events: bool = False
    early_access: bool = False


class TierSetCreate(BaseModel):
    """A tier-set version as data (a YAML or JSON file, or the API body)."""

    model_config = ConfigDict(extra="forbid")
    effective_from: AwareDatetime | None = None
    currency: str = Field(min_length=3, max_length=3)
    window_months: int = Field(default=12, ge=1, le=36)
    review_month: int = Field(default=1, ge=1, le=12)
    grace_months: int = Field(default=6, ge=0, le=24)
    tiers: list[TierDefinition] = Field(min_length=1, max_length=10)


class TierRead(BaseModel):
    code: str
    name: str
    names: dict[str, str]
    threshold: str
    threshold_minor: int
    discount_percent: int
    points_percent: int
    birthday_points: int
    exclusive_events: bool
    early_access: bool


class TierSetRead(BaseModel):
    version: int
    effective_from: datetime
    currency: str
    window_months: int
    review_month: int
    grace_months: int
    tiers: list[TierRead]
    created_by: str | None = None


class TierMoveRead(BaseModel):
    from_tier: str
    to_tier: str
    reason: str
    qualifying: str
    qualifying_minor: int
    tier_set_version: int
    created_at: datetime


class MemberTierRead(BaseModel):
    """A member's tier now, the qualifying spend in the rolling window and how far the next tier is."""

    customer_id: str
    tier: TierRead
    since: datetime | None
    currency: str
    window_start: datetime
    window_end: datetime
    qualifying: str
    qualifying_minor: int
    next_tier: TierRead | None
    to_next: str | None
    to_next_minor: int | None
    #: Qualifying spend as a share of the next tier's threshold, 0–100 (100 at the top tier).
    progress_percent: int
    history: list[TierMoveRead]


class ReviewReport(BaseModel):
    year: int
    due: bool
    members: int
    kept: int
    grace: int
    downgraded: int
    upgraded: int


class BirthdayReport(BaseModel):
    year: int
    month: int
    rewarded: int
    points: int
    #: Members whose birthday was changed after a reward: the next one waits 12 months.
    waiting: int
    #: Of those rewarded, how many may be greeted by email and by SMS (their consent allows it).
    greet_email: int = 0
    greet_sms: int = 0


class MemberLinkRead(BaseModel):
    """A member's own page: ``url`` to hand over (message, QR code); ``token`` is its signed part."""

    customer_id: str
    url: str
    token: str


# --------------------------------------------------------------------------------------------- rewards, coupons
RewardCode = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")


class RewardCreate(BaseModel):
    """A reward of the catalog. ``amount`` (a voucher's value, in the workspace currency's major units as a decimal
    string) and ``percent`` (a discount's) are given only for those kinds."""

    model_config = ConfigDict(extra="forbid")
    code: str = RewardCode
    kind: RewardKind
    name_zh_hant: str = Field(min_length=1, max_length=200)
    name_zh_hans: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    points_cost: StrictInt = Field(ge=1, le=1_000_000_000)
    amount: str | None = Field(default=None, min_length=1, max_length=20)
    percent: StrictInt | None = Field(default=None, ge=1, le=100)
    stock: StrictInt | None = Field(default=None, ge=0, le=1_000_000_000)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    per_member_limit: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    coupon_days: StrictInt = Field(default=30, ge=1, le=3650)
    active: StrictBool = True


class RewardUpdate(BaseModel):
    """The fields to change (others stay); ``null`` clears stock, validity and limit."""

    model_config = ConfigDict(extra="forbid")
    name_zh_hant: str | None = Field(default=None, min_length=1, max_length=200)
    name_zh_hans: str | None = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = Field(default=None, min_length=1, max_length=200)
    points_cost: StrictInt | None = Field(default=None, ge=1, le=1_000_000_000)
    amount: str | None = Field(default=None, min_length=1, max_length=20)
    percent: StrictInt | None = Field(default=None, ge=1, le=100)
    stock: StrictInt | None = Field(default=None, ge=0, le=1_000_000_000)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    per_member_limit: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    coupon_days: StrictInt | None = Field(default=None, ge=1, le=3650)
    active: StrictBool | None = None


class RewardRead(BaseModel):
    code: str
    kind: RewardKind
    name_zh_hant: str
    name_zh_hans: str
    name_en: str
    points_cost: int
    amount: str | None
    percent: int | None
    stock: int | None
    issued: int
    #: ``stock − issued``; none when the stock is unlimited.
    left: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    per_member_limit: int | None
    coupon_days: int
    active: bool


class RewardRedeem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, max_length=128)
    idempotency_key: str = IdempotencyKey


class CouponUse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: The point of sale's own reference (receipt number): the same reference again is answered as a retry.
    reference: str | None = Field(
        default=None, min_length=1, max_length=150, pattern=r"^[A-Za-z0-9._:/#\-]+$"
    )


class CouponRead(BaseModel):
    code: str
    reward: str
    kind: RewardKind
    name_zh_hant: str
    name_zh_hans: str
    name_en: str
    amount: str | None
    percent: int | None
    customer_id: str
    status: str
    #: Whether a point of sale may redeem it now (issued and not past its expiry).
    usable: bool
    points: int
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_reference: str | None
    cancelled_at: datetime | None
    replayed: bool = False
    #: The member's live points after the operation (redemption or cancellation of the coupon).
    balance: int | None = None


class CatalogChangeRead(BaseModel):
    reward: str
    action: str
    actor: str
    changes: dict[str, list[Any]]
    created_at: datetime


# --------------------------------------------------------------------------------------------- referrals
class ReferralSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    referrer_points: StrictInt = Field(default=0, ge=0, le=10_000_000)
    referee_points: StrictInt = Field(default=0, ge=0, le=10_000_000)
    return_days: StrictInt = Field(default=30, ge=0, le=365)
    cap: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    #: In the workspace currency's major units, as a decimal string.
    min_spend: str = Field(default="0", min_length=1, max_length=20)
    share_url: str | None = Field(default=None, min_length=8, max_length=400, pattern=r"^https?://[^\s?#]+$")


class ReferralSettingsRead(ReferralSettingsUpdate):
    pass


class ReferralCodeRead(BaseModel):
    customer_id: str
    code: str
    link: str
    pending: int
    rewarded: int
    refused: int


class ReferralCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32)
    #: The new customer (already imported or created through the customers API).
    customer_id: str = Field(min_length=1, max_length=128)


class ReferralRead(BaseModel):
    id: int
    referrer: str
    referee: str
    code: str
    status: str
    reason: str | None
    referrer_points: int
    referee_points: int
    order_id: str | None
    created_at: datetime
    settled_at: datetime | None


class ReferralPage(BaseModel):
    items: list[ReferralRead]
    total: int


class SettleReport(BaseModel):
    rewarded: int
    waiting: int
    points: int
