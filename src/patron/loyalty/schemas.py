"""Loyalty shapes: the program, earn-rule versions (as data), balances, entries and order accounts."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from patron.loyalty.models import ExpiryPolicy

IdempotencyKey = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9._:\-]+$")


class ProgramUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="Loyalty", min_length=1, max_length=200)
    expiry_policy: ExpiryPolicy = ExpiryPolicy.MONTHS
    expiry_months: int = Field(default=12, ge=1, le=120)


class ProgramRead(ProgramUpdate):
    pass


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
