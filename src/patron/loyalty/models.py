"""The loyalty ledger: programs, versioned earn rules, members, append-only entries, lots and lot moves.

Points are never a number that is simply overwritten. Every movement is an entry (signed points, with its
reason, source and idempotency key); points live in lots (each with its expiry) and every change of a lot is a
move naming the entry that made it. A member's ``points`` and ``debt`` are caches of those rows, kept in the
same transaction under the member's row lock, and ``patron loyalty check`` recomputes them (docs/loyalty.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, IdType, MinorUnits, Timestamped, WorkspaceScoped, tenant_reference


class EntryKind(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    ADJUST = "adjust"
    REVERSE = "reverse"


class Source(StrEnum):
    ORDER = "order"
    MANUAL = "manual"
    CAMPAIGN = "campaign"
    REFERRAL = "referral"
    BIRTHDAY = "birthday"
    REWARD = "reward"
    EXPIRY = "expiry"
    #: The member left the program: points forfeited, debt written off.
    LEAVE = "leave"


class ExpiryPolicy(StrEnum):
    #: A lot expires ``expiry_months`` after it was earned.
    MONTHS = "months"
    #: A lot expires at the end of the calendar year after the one it was earned in (workspace's zone).
    END_OF_NEXT_YEAR = "end_of_next_year"
    NEVER = "never"


class Enrolment(StrEnum):
    #: Every customer whose order is synced joins (the program is part of the terms of sale).
    AUTO = "auto"
    #: Only customers enrolled with a recorded consent (import, API, CLI, dashboard) are members.
    CONSENT = "consent"


class Program(WorkspaceScoped, Timestamped, Base):
    """A workspace's loyalty program (at most one)."""

    __tablename__ = "loyalty_programs"
    workspace_indexed = False
    __table_args__ = (UniqueConstraint("workspace_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    expiry_policy: Mapped[str] = mapped_column(String(24), default=ExpiryPolicy.MONTHS.value)
    expiry_months: Mapped[int] = mapped_column(default=12)
    #: What one point is worth to the workspace, in ten-thousandths of its currency's major unit (NT$0.10 is
    #: 1,000), so the outstanding points can be read as a liability in money; None until a manager sets it.
    point_value_ten_thousandths: Mapped[int | None] = mapped_column()
    #: How customers join (``Enrolment``): on their first synced order, or only with a recorded consent.
    enrolment: Mapped[str] = mapped_column(String(16), default=Enrolment.AUTO.value, server_default="auto")


class EarnRule(WorkspaceScoped, Base):
    """One version of a workspace's earn rules. Versions are never edited: a change is a new version, and every
    entry records the version that produced it."""

    __tablename__ = "loyalty_earn_rules"
    workspace_indexed = False
    __table_args__ = (UniqueConstraint("workspace_id", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    version: Mapped[int] = mapped_column()
    effective_from: Mapped[datetime] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    #: ``points_per_unit`` points for every ``unit_minor`` of spend (minor units): 1 point per NT$100 is 1 / 10000.
    points_per_unit: Mapped[int] = mapped_column()
    unit_minor: Mapped[int] = mapped_column(MinorUnits)
    #: {category: percent}; 200 doubles the points of lines in that category, 0 excludes it.
    category_multipliers: Mapped[dict[str, int]] = mapped_column(JSON)
    #: {product external id: percent}; a product's own multiplier takes precedence over its category's.
    product_multipliers: Mapped[dict[str, int]] = mapped_column(JSON, default=dict, server_default="{}")
    #: [{"start": iso, "end": iso, "percent": int}]: orders placed in [start, end) earn ``percent`` %.
    bonus_periods: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    first_purchase_bonus: Mapped[int] = mapped_column(default=0)
    min_spend_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(String(320))


class Member(WorkspaceScoped, Timestamped, Base):
    """A customer in the program. ``points`` (the sum of the member's live lots) and ``debt`` (points taken back
    after they were spent, repaid from future earning) are caches kept under this row's lock."""

    __tablename__ = "loyalty_members"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("workspace_id", "customer_id"),
        UniqueConstraint("workspace_id", "id"),
        tenant_reference("customer_id", "customers"),
        CheckConstraint("points >= 0", name="points_not_negative"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(IdType)
    #: When the current membership began (a member who left and came back: when they came back).
    enrolled_at: Mapped[datetime] = mapped_column()
    points: Mapped[int] = mapped_column(default=0)
    debt: Mapped[int] = mapped_column(default=0)
    #: The consent to join: when it was given (None: joined automatically on an order), where it was recorded
    #: (``auto``, ``api``, ``cli``, ``import``, ``dashboard``, ``referral``, …) and by whom.
    consent_at: Mapped[datetime | None] = mapped_column()
    consent_source: Mapped[str | None] = mapped_column(String(32))
    consent_by: Mapped[str | None] = mapped_column(String(320))
    #: Orders placed before this moment earn nothing (None: every order of the customer earns).
    earns_from: Mapped[datetime | None] = mapped_column()
    #: When the member left the program (None: a member); their points were forfeited then.
    left_at: Mapped[datetime | None] = mapped_column()


class Entry(WorkspaceScoped, Base):
    """One movement of points, never updated or deleted. ``points`` is signed; ``debt_delta`` is the debt it
    created (+) or repaid (−), so the moves it made to lots add up to ``points + debt_delta``."""

    __tablename__ = "loyalty_entries"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("workspace_id", "idempotency_key"),
        tenant_reference("member_id", "loyalty_members"),
        Index("ix_loyalty_entries_workspace_id_member_id_id", "workspace_id", "member_id", "id"),
        Index("ix_loyalty_entries_workspace_id_order_id", "workspace_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    member_id: Mapped[int] = mapped_column(IdType)
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column()
    debt_delta: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(16))
    #: The order (and line) that earned or gave back the points; plain ids, since orders and lines may change.
    order_id: Mapped[int | None] = mapped_column(IdType)
    order_external_id: Mapped[str | None] = mapped_column(String(128))
    line_no: Mapped[int | None] = mapped_column()
    #: Who made a manual adjustment, or which campaign / referral / reward.
    source_ref: Mapped[str | None] = mapped_column(String(320))
    rule_version: Mapped[int | None] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()
    #: The tier's points multiplier (percent) an order line earned by, kept for the line's life (``loyalty.tiers``).
    tier_percent: Mapped[int | None] = mapped_column()


class Lot(WorkspaceScoped, Base):
    """Points earned together, with one expiry; ``remaining`` is the sum of its moves."""

    __tablename__ = "loyalty_lots"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        tenant_reference("member_id", "loyalty_members"),
        Index("ix_loyalty_lots_workspace_id_member_id_expires_at", "workspace_id", "member_id", "expires_at"),
        Index("ix_loyalty_lots_expires_at", "expires_at"),
        # The lots an order's entries filled (``loyalty.orders``): without it every sync chunk scanned all lots.
        Index("ix_loyalty_lots_entry_id", "entry_id"),
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    member_id: Mapped[int] = mapped_column(IdType)
    entry_id: Mapped[int] = mapped_column(IdType)
    earned_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    points: Mapped[int] = mapped_column()
    remaining: Mapped[int] = mapped_column()


class LotMove(WorkspaceScoped, Base):
    """What one entry did to one lot: + when it filled it, − when it took points from it."""

    __tablename__ = "loyalty_lot_moves"
    workspace_indexed = False
    __table_args__ = (
        Index("ix_loyalty_lot_moves_lot_id", "lot_id"),
        Index("ix_loyalty_lot_moves_entry_id", "entry_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    entry_id: Mapped[int] = mapped_column(IdType)
    lot_id: Mapped[int] = mapped_column(IdType)
    points: Mapped[int] = mapped_column()


class Refund(WorkspaceScoped, Base):
    """Units of an order line given back through the API; the order's points follow them (``sync_orders``)."""

    __tablename__ = "loyalty_refunds"
    workspace_indexed = False
    __table_args__ = (
        UniqueConstraint("workspace_id", "idempotency_key", "line_no"),
        Index("ix_loyalty_refunds_workspace_id_order_id", "workspace_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    order_id: Mapped[int] = mapped_column(IdType)
    line_no: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(String(200))
    points_reversed: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column()


# --------------------------------------------------------------------------------------------- tiers (loyalty.tiers)
class TierSet(WorkspaceScoped, Base):
    """One version of a workspace's tiers, as data (``loyalty.tiers``): each tier's threshold of qualifying spend
    in the rolling window, names in three languages and benefits. Versions are never edited."""

    __tablename__ = "loyalty_tier_sets"
    workspace_indexed = False
    __table_args__ = (UniqueConstraint("workspace_id", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    version: Mapped[int] = mapped_column()
    effective_from: Mapped[datetime] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    window_months: Mapped[int] = mapped_column(default=12)
    review_month: Mapped[int] = mapped_column(default=1)
    grace_months: Mapped[int] = mapped_column(default=6)
    #: [{"code", "names": {locale: text}, "threshold_minor", "discount_percent", "points_percent",
    #:   "birthday_points", "exclusive_events", "early_access"}], lowest tier (threshold 0) first.
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(String(320))


class MemberTier(WorkspaceScoped, Base):
    """A member's tier now (no row: the lowest tier). Changed only with a ``TierMove`` beside it."""

    __tablename__ = "loyalty_member_tiers"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("workspace_id", "member_id"),
        tenant_reference("member_id", "loyalty_members"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    member_id: Mapped[int] = mapped_column(IdType)
    tier: Mapped[str] = mapped_column(String(32))
    #: When the member reached this tier (or kept it at a review): the grace rule counts from here.
    since: Mapped[datetime] = mapped_column()
    #: The calendar year (workspace's zone) of the last yearly review that looked at this member.
    reviewed_year: Mapped[int | None] = mapped_column()


class TierMove(WorkspaceScoped, Base):
    """One change (or kept tier at a review) in a member's tier history, with its reason and the qualifying spend
    that decided it."""

    __tablename__ = "loyalty_tier_moves"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        tenant_reference("member_id", "loyalty_members"),
        Index("ix_loyalty_tier_moves_workspace_id_member_id_id", "workspace_id", "member_id", "id"),
        Index("ix_loyalty_tier_moves_workspace_id_created_at", "workspace_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    member_id: Mapped[int] = mapped_column(IdType)
    from_tier: Mapped[str] = mapped_column(String(32))
    to_tier: Mapped[str] = mapped_column(String(32))
    #: upgrade, review_downgrade, review_kept, review_grace, review_upgrade
    reason: Mapped[str] = mapped_column(String(32))
    qualifying_minor: Mapped[int] = mapped_column(MinorUnits)
    tier_set_version: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()


class BirthdayReward(WorkspaceScoped, Base):
    """A birthday reward given (``loyalty.birthday``): one per member and calendar year, whatever the birthday
    says later."""

    __tablename__ = "loyalty_birthday_rewards"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("workspace_id", "member_id", "year"),
        tenant_reference("member_id", "loyalty_members"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    member_id: Mapped[int] = mapped_column(IdType)
    year: Mapped[int] = mapped_column()
    #: The birthday month the reward was given for (a later change of birthday does not reopen the year).
    month: Mapped[int] = mapped_column()
    tier: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column()
    entry_id: Mapped[int | None] = mapped_column(IdType)
    given_at: Mapped[datetime] = mapped_column()


# --------------------------------------------------------------------------------------------- rewards catalog
class RewardKind(StrEnum):
    VOUCHER = "voucher"
    DISCOUNT = "discount"
    FREE_PRODUCT = "free_product"
    EXPERIENCE = "experience"


class CouponStatus(StrEnum):
    ISSUED = "issued"
    USED = "used"
    CANCELLED = "cancelled"


class Reward(WorkspaceScoped, Timestamped, Base):
    """One reward of the catalog. ``issued`` counts its coupons not cancelled; ``stock`` (none: unlimited) is how
    many may ever be issued, so what is left is ``stock − issued`` (docs/loyalty.md, "Rewards")."""

    __tablename__ = "loyalty_rewards"
    workspace_indexed = False
    __table_args__ = (
        UniqueConstraint("workspace_id", "code"),
        UniqueConstraint("workspace_id", "id"),
        CheckConstraint("issued >= 0", name="issued_not_negative"),
        CheckConstraint("stock IS NULL OR issued <= stock", name="issued_within_stock"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    name_zh_hant: Mapped[str] = mapped_column(String(200))
    name_zh_hans: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    points_cost: Mapped[int] = mapped_column()
    #: A voucher's amount in minor units of the workspace's currency, a discount's percent; none for the others.
    value: Mapped[int | None] = mapped_column(MinorUnits)
    stock: Mapped[int | None] = mapped_column()
    issued: Mapped[int] = mapped_column(default=0)
    valid_from: Mapped[datetime | None] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column()
    #: Coupons of this reward one member may hold (issued or used); none: no limit.
    per_member_limit: Mapped[int | None] = mapped_column()
    #: Days a coupon can be used after it is issued.
    coupon_days: Mapped[int] = mapped_column(default=30)
    active: Mapped[bool] = mapped_column(default=True)


class Coupon(WorkspaceScoped, Base):
    """A single-use code issued for a reward, paid by one redeem entry. Its status moves once: issued → used (at a
    point of sale) or issued → cancelled (its points given back by a reverse entry)."""

    __tablename__ = "loyalty_coupons"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("workspace_id", "code"),
        UniqueConstraint("workspace_id", "idempotency_key"),
        tenant_reference("member_id", "loyalty_members"),
        tenant_reference("reward_id", "loyalty_rewards"),
        Index(
            "ix_loyalty_coupons_workspace_id_member_id_reward_id", "workspace_id", "member_id", "reward_id"
        ),
        Index("ix_loyalty_coupons_workspace_id_reward_id_status", "workspace_id", "reward_id", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    reward_id: Mapped[int] = mapped_column(IdType)
    member_id: Mapped[int] = mapped_column(IdType)
    status: Mapped[str] = mapped_column(String(16), default=CouponStatus.ISSUED.value)
    points: Mapped[int] = mapped_column()
    entry_id: Mapped[int] = mapped_column(IdType)
    refund_entry_id: Mapped[int | None] = mapped_column(IdType)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    #: What the point of sale sent with the redemption (its receipt number): a retry with it is answered again.
    used_reference: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancelled_by: Mapped[str | None] = mapped_column(String(320))


class CatalogChange(WorkspaceScoped, Base):
    """The audit trail of the catalog: who created or changed which reward, and each field's old and new value."""

    __tablename__ = "loyalty_catalog_changes"
    workspace_indexed = False
    __table_args__ = (Index("ix_loyalty_catalog_changes_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    reward_code: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(320))
    #: {field: [old, new]} (JSON values).
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()


# --------------------------------------------------------------------------------------------- referrals
class ReferralStatus(StrEnum):
    PENDING = "pending"
    REWARDED = "rewarded"
    REFUSED = "refused"


class ReferralReason(StrEnum):
    """Why a referral was refused (recorded on it)."""

    SELF_CUSTOMER = "self_customer"
    SELF_EMAIL = "self_email"
    SELF_PHONE = "self_phone"
    ALREADY_REFERRED = "already_referred"
    NOT_NEW = "not_new"
    CAP = "cap"


class ReferralSettings(WorkspaceScoped, Timestamped, Base):
    """A workspace's referral terms: points for each side, the return window a qualifying purchase must outlive,
    the cap per referrer, the minimum spend, and where share links point."""

    __tablename__ = "loyalty_referral_settings"
    workspace_indexed = False
    __table_args__ = (UniqueConstraint("workspace_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    referrer_points: Mapped[int] = mapped_column(default=0)
    referee_points: Mapped[int] = mapped_column(default=0)
    return_days: Mapped[int] = mapped_column(default=30)
    #: Referrals a referrer may have pending or rewarded; none: no cap.
    cap: Mapped[int | None] = mapped_column()
    min_spend_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    #: The page a share link opens (``?ref=CODE`` is added); none: Patron's own ``/r/CODE``.
    share_url: Mapped[str | None] = mapped_column(String(500))


class ReferralCode(WorkspaceScoped, Base):
    """A member's referral code (made the first time it is asked for)."""

    __tablename__ = "loyalty_referral_codes"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("workspace_id", "code"),
        UniqueConstraint("workspace_id", "member_id"),
        tenant_reference("member_id", "loyalty_members"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    member_id: Mapped[int] = mapped_column(IdType)
    code: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column()


class Referral(WorkspaceScoped, Base):
    """A new customer who came with a member's code: pending until the first qualifying purchase outlives the
    return window (then both sides are rewarded), or refused with the reason."""

    __tablename__ = "loyalty_referrals"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        tenant_reference("referrer_id", "loyalty_members"),
        tenant_reference("referee_customer_id", "customers"),
        Index("ix_loyalty_referrals_workspace_id_referrer_id", "workspace_id", "referrer_id"),
        Index("ix_loyalty_referrals_workspace_id_referee_customer_id", "workspace_id", "referee_customer_id"),
        Index("ix_loyalty_referrals_workspace_id_status", "workspace_id", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    referrer_id: Mapped[int] = mapped_column(IdType)
    referee_customer_id: Mapped[int] = mapped_column(IdType)
    code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    referrer_points: Mapped[int] = mapped_column(default=0)
    referee_points: Mapped[int] = mapped_column(default=0)
    #: The qualifying purchase, once rewarded.
    order_id: Mapped[int | None] = mapped_column(IdType)
    order_external_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column()
    settled_at: Mapped[datetime | None] = mapped_column()
