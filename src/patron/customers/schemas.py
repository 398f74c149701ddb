"""Customer shapes for the API and CLI."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from patron.commerce.schemas import InteractionRead, OrderRead
from patron.core.schemas import ReadModel


class CustomerRead(ReadModel):
    external_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    birthday: date | None = None
    gender: str | None = None
    locale: str | None = None
    city: str | None = None
    segment: str | None = None
    signup_at: datetime | None = None
    consent_email: bool = False
    consent_sms: bool = False
    consent_surveys: bool = False
    #: When the customer followed an unsubscribe link: no survey invitations since, whatever an import says.
    surveys_unsubscribed_at: datetime | None = None
    attributes: dict[str, Any] | None = None
    #: Set once the customer was erased: the profile is then a tombstone that keeps their orders counted.
    erased_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class CustomerSummary(BaseModel):
    order_count: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    total_spent: str = Field(description="Decimal string in the workspace currency")
    currency: str
    interaction_count: int


class CustomerStory(BaseModel):
    """The 360° view: who they are, what they bought, every touchpoint in time order."""

    profile: CustomerRead
    summary: CustomerSummary
    orders: list[OrderRead]
    interactions: list[InteractionRead]


class CustomerPage(BaseModel):
    items: list[CustomerRead]
    total: int
    limit: int
    offset: int


class SegmentRead(BaseModel):
    segment: str = Field(description="The code customers carry (the imported segment column)")
    customers: int
    labels: dict[str, str] = Field(description="The name people read, per language")
    own: dict[str, str] = Field(description="The workspace's own names; other languages use the default")


class SegmentLabelsUpdate(BaseModel):
    """The workspace's own segment names, replacing all before: {segment: {locale: name}}. A blank name, or a
    segment left out, goes back to the default; a name in one Chinese script is converted for the other."""

    labels: dict[str, dict[str, str]] = Field(max_length=1000)


class ErasureRead(BaseModel):
    """What an erasure removed: rows per kind (no personal data). The customer's row stays as a tombstone that
    keeps their orders and loyalty ledger counted."""

    erased_at: datetime
    counts: dict[str, int] = Field(description="Rows removed or emptied, per kind")
