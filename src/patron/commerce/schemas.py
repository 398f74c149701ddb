"""Order, product and interaction shapes. Money leaves the system as decimal strings, never floats."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from patron.core.schemas import ReadModel


class ProductRead(ReadModel):
    external_id: str
    name: str
    category: str | None = None
    price: str | None = None
    currency: str
    active: bool


class OrderLineRead(BaseModel):
    line_no: int
    product_external_id: str | None
    product_name: str | None
    category: str | None
    quantity: int
    unit_price: str
    discount: str
    amount: str


class OrderRead(BaseModel):
    external_id: str
    ordered_at: datetime
    status: str
    channel: str
    store: str | None
    currency: str
    total: str
    lines: list[OrderLineRead]


class InteractionRead(BaseModel):
    external_id: str
    occurred_at: datetime
    type: str
    channel: str
    product_external_id: str | None = None
    order_external_id: str | None = None
    detail: str | None = None


class ProductPage(BaseModel):
    items: list[ProductRead]
    total: int
    limit: int
    offset: int


class WorkspaceTotals(BaseModel):
    customers: int
    products: int
    orders: int
    order_lines: int
    interactions: int
    revenue: str
    currency: str
    first_order_at: datetime | None
    last_order_at: datetime | None
