"""Reading orders, products and interactions of one customer or one workspace."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.commerce.models import Interaction, Order, OrderLine, OrderStatus, Product
from patron.commerce.schemas import (
    InteractionRead,
    OrderLineRead,
    OrderRead,
    ProductPage,
    ProductRead,
    WorkspaceTotals,
)
from patron.core.clock import as_utc
from patron.core.models import Workspace
from patron.core.money import from_minor
from patron.core.tenancy import scoped
from patron.customers.models import Customer


def money_text(minor: int, currency: str) -> str:
    return str(from_minor(minor, currency))


def customer_orders(session: Session, *, workspace_id: int, customer_id: int) -> list[OrderRead]:
    """Orders newest first, each with its lines and the products they name."""
    orders = list(
        session.scalars(
            scoped(Order, workspace_id, Order.customer_id == customer_id).order_by(
                Order.ordered_at.desc(), Order.id
            )
        )
    )
    if not orders:
        return []
    lines_by_order: dict[int, list[OrderLineRead]] = defaultdict(list)
    rows = session.execute(
        select(OrderLine, Product.external_id, Product.name, Product.category)
        .outerjoin(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.workspace_id == workspace_id, OrderLine.order_id.in_([o.id for o in orders]))
        .order_by(OrderLine.order_id, OrderLine.line_no)
    )
    currency_of = {o.id: o.currency for o in orders}
    for line, product_external_id, product_name, category in rows:
        currency = currency_of[line.order_id]
        lines_by_order[line.order_id].append(
            OrderLineRead(
                line_no=line.line_no,
                product_external_id=product_external_id,
                product_name=product_name,
                category=category,
                quantity=line.quantity,
                unit_price=money_text(line.unit_price_minor, currency),
                discount=money_text(line.discount_minor, currency),
                amount=money_text(line.amount_minor, currency),
            )
        )
    return [
        OrderRead(
            external_id=o.external_id,
            ordered_at=o.ordered_at,
            status=o.status,
            channel=o.channel,
            store=o.store,
            currency=o.currency,
            total=money_text(o.total_minor, o.currency),
            lines=lines_by_order[o.id],
        )
        for o in orders
    ]


def customer_interactions(
    session: Session, *, workspace_id: int, customer_id: int, limit: int = 500
) -> list[InteractionRead]:
    rows = session.execute(
        select(Interaction, Product.external_id)
        .outerjoin(Product, Product.id == Interaction.product_id)
        .where(Interaction.workspace_id == workspace_id, Interaction.customer_id == customer_id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [
        InteractionRead(
            external_id=i.external_id,
            occurred_at=i.occurred_at,
            type=i.type,
            channel=i.channel,
            product_external_id=product_external_id,
            order_external_id=i.order_external_id,
            detail=i.detail,
        )
        for i, product_external_id in rows
    ]


def interaction_count(session: Session, *, workspace_id: int, customer_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Interaction.workspace_id == workspace_id, Interaction.customer_id == customer_id
            )
        )
        or 0
    )


def product_read(product: Product) -> ProductRead:
    return ProductRead(
        external_id=product.external_id,
        name=product.name,
        category=product.category,
        price=None if product.price_minor is None else money_text(product.price_minor, product.currency),
        currency=product.currency,
        active=product.active,
    )


def list_products(
    session: Session, *, workspace_id: int, limit: int, offset: int
) -> tuple[list[ProductRead], int]:
    total = int(session.scalar(select(func.count()).where(Product.workspace_id == workspace_id)) or 0)
    products = session.scalars(
        scoped(Product, workspace_id).order_by(Product.external_id).limit(limit).offset(offset)
    )
    return [product_read(p) for p in products], total


def product_page(session: Session, *, workspace_id: int, limit: int, offset: int) -> ProductPage:
    items, total = list_products(session, workspace_id=workspace_id, limit=limit, offset=offset)
    return ProductPage(items=items, total=total, limit=limit, offset=offset)


#: Orders that did not turn into money: kept for the story, left out of revenue and purchase counts.
NON_REVENUE_STATUSES = (OrderStatus.CANCELLED.value, OrderStatus.RETURNED.value)


def _count(
    session: Session, model: type[Customer | Product | Order | OrderLine | Interaction], workspace_id: int
) -> int:
    return int(
        session.scalar(select(func.count()).select_from(model).where(model.workspace_id == workspace_id)) or 0
    )


def workspace_totals(session: Session, *, workspace: Workspace) -> WorkspaceTotals:
    revenue_minor, first, last = session.execute(
        select(func.sum(Order.total_minor), func.min(Order.ordered_at), func.max(Order.ordered_at)).where(
            Order.workspace_id == workspace.id,
            Order.currency == workspace.currency,
            Order.status.not_in(NON_REVENUE_STATUSES),
        )
    ).one()
    return WorkspaceTotals(
        customers=_count(session, Customer, workspace.id),
        products=_count(session, Product, workspace.id),
        orders=_count(session, Order, workspace.id),
        order_lines=_count(session, OrderLine, workspace.id),
        interactions=_count(session, Interaction, workspace.id),
        revenue=money_text(int(revenue_minor or 0), workspace.currency),
        currency=workspace.currency,
        first_order_at=None if first is None else as_utc(first),
        last_order_at=None if last is None else as_utc(last),
    )
