"""Customer profiles and the 360° story built from commerce data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from patron.commerce import service as commerce
from patron.core.errors import NotFound, PatronError
from patron.core.i18n import LOCALES, Labels, normalize_locale
from patron.core.models import Workspace
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.customers.schemas import CustomerPage, CustomerRead, CustomerStory, CustomerSummary, SegmentRead
from patron.surveys.texts import complete

#: Longest segment code (the customers.segment column) and longest label a workspace may give one.
SEGMENT_LENGTH = 64
LABEL_LENGTH = 100


def get_customer(session: Session, *, workspace_id: int, external_id: str) -> Customer:
    customer = session.scalar(scoped(Customer, workspace_id, Customer.external_id == external_id))
    if customer is None:
        raise NotFound("customer.not_found", external_id=external_id)
    return customer


def customer_story(session: Session, *, workspace: Workspace, external_id: str) -> CustomerStory:
    customer = get_customer(session, workspace_id=workspace.id, external_id=external_id)
    orders = commerce.customer_orders(session, workspace_id=workspace.id, customer_id=customer.id)
    interactions = commerce.customer_interactions(session, workspace_id=workspace.id, customer_id=customer.id)
    counted = [o for o in orders if o.status not in commerce.NON_REVENUE_STATUSES]
    spent = sum((Decimal(o.total) for o in counted if o.currency == workspace.currency), Decimal(0))
    summary = CustomerSummary(
        order_count=len(counted),
        first_order_at=min((o.ordered_at for o in counted), default=None),
        last_order_at=max((o.ordered_at for o in counted), default=None),
        total_spent=str(spent),
        currency=workspace.currency,
        interaction_count=commerce.interaction_count(
            session, workspace_id=workspace.id, customer_id=customer.id
        ),
    )
    return CustomerStory(
        profile=CustomerRead.model_validate(customer),
        summary=summary,
        orders=orders,
        interactions=interactions,
    )


def search_customers(
    session: Session, *, workspace_id: int, query: str | None, limit: int, offset: int
) -> tuple[Sequence[Customer], int]:
    criteria = []
    if query:
        pattern = f"%{query.strip()}%"
        criteria.append(
            or_(
                Customer.external_id.ilike(pattern),
                Customer.name.ilike(pattern),
                Customer.email.ilike(pattern),
            )
        )
    total = int(
        session.scalar(
            select(func.count()).select_from(Customer).where(Customer.workspace_id == workspace_id, *criteria)
        )
        or 0
    )
    rows = session.scalars(
        scoped(Customer, workspace_id, *criteria).order_by(Customer.external_id).limit(limit).offset(offset)
    )
    return list(rows), total


def customer_page(
    session: Session, *, workspace_id: int, query: str | None, limit: int, offset: int
) -> CustomerPage:
    rows, total = search_customers(
        session, workspace_id=workspace_id, query=query, limit=limit, offset=offset
    )
    return CustomerPage(
        items=[CustomerRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


def code_labels(workspace: Workspace, locale: str) -> Labels:
    """Labels for stored codes as this workspace's people read them: its own segment names first."""
    return Labels(locale, {"segment": workspace.segment_labels or {}})


def set_segment_labels(
    session: Session, *, workspace_id: int, labels: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """Replace the workspace's own segment names ({segment: {locale: label}}). Blank labels are dropped, so a
    segment left without any reads the catalogue's name again; a label written in one Chinese script is
    given in the other too (OpenCC, Taiwan phrasing), as survey texts are. All are checked before any is
    kept."""
    kept: dict[str, dict[str, str]] = {}
    for raw_segment, texts in labels.items():
        segment = raw_segment.strip()
        if not segment or len(segment) > SEGMENT_LENGTH:
            raise PatronError("segment.bad_code", segment=raw_segment[:80], maximum=SEGMENT_LENGTH)
        given: dict[str, str] = {}
        for raw_locale, text in texts.items():
            locale = normalize_locale(raw_locale)
            if locale not in LOCALES:
                raise PatronError("segment.bad_locale", segment=segment, locale=raw_locale[:40],
                                  choices=list(LOCALES))  # fmt: skip
            if len(text.strip()) > LABEL_LENGTH:
                raise PatronError(
                    "segment.label_too_long", segment=segment, locale=locale, maximum=LABEL_LENGTH
                )
            if text.strip():
                given[str(locale)] = text.strip()
        if given:
            kept[segment] = complete(given)
    workspace = session.get_one(Workspace, workspace_id)
    workspace.segment_labels = kept or None
    session.flush()
    return kept


def segment_list(session: Session, *, workspace_id: int) -> list[SegmentRead]:
    """Every segment customers carry or the workspace named, with its customers and its name in each
    language (its own, else the catalogue's, else the code made readable)."""
    workspace = session.get_one(Workspace, workspace_id)
    counts: dict[str, int] = {
        str(segment): int(count)
        for segment, count in session.execute(
            select(Customer.segment, func.count())
            .where(Customer.workspace_id == workspace_id, Customer.segment.is_not(None))
            .group_by(Customer.segment)
        )
    }
    own = workspace.segment_labels or {}
    return [
        SegmentRead(segment=code, customers=counts.get(code, 0), own=own.get(code, {}),
                    labels={locale: code_labels(workspace, locale)("segment", code) for locale in LOCALES})
        for code in sorted(set(counts) | set(own))
    ]  # fmt: skip
