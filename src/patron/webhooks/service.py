"""Telling integrators when something happened, reliably.

Events are queued in the outbox inside the caller's transaction. The dispatcher POSTs each one as JSON with
``X-Patron-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint's secret>`` (the
scheme Stripe popularised, so receivers know how to check it and reject replays), and retries failures after
1, 5, 30 minutes, 2 and 12 hours before giving up. Receivers must treat ``delivery_id`` as idempotency key:
a delivery can arrive twice if the answer to it is lost."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core import outbound
from patron.core.errors import NotFound
from patron.core.keycache import TtlCache
from patron.core.tenancy import scoped
from patron.webhooks.models import WebhookDelivery, WebhookEndpoint
from patron.webhooks.schemas import WebhookCreated, WebhookRead

RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
SIGNATURE_HEADER = "X-Patron-Signature"


#: Which endpoints want which events, per workspace: read on every completed response, changed rarely.
_subscriptions: TtlCache[list[tuple[int, list[str]]]] = TtlCache(ttl=5.0)


def _endpoints_for(session: Session, workspace_id: int) -> list[tuple[int, list[str]]]:
    cached = _subscriptions.recall(str(workspace_id))
    if cached is None:
        active = scoped(WebhookEndpoint, workspace_id, WebhookEndpoint.active.is_(True))
        cached = [(endpoint.id, list(endpoint.events)) for endpoint in session.scalars(active)]
        _subscriptions.remember(str(workspace_id), cached)
    return cached


def create_endpoint(session: Session, *, workspace_id: int, url: str, events: list[str]) -> WebhookEndpoint:
    """Refuses (``OutboundRefused``) a URL with credentials or one whose host resolves inside the network."""
    outbound.check_url(url)
    endpoint = WebhookEndpoint(
        workspace_id=workspace_id, url=url, events=events, secret=f"whsec_{secrets.token_urlsafe(32)}"
    )
    session.add(endpoint)
    session.flush()
    _subscriptions.forget_all()
    return endpoint


def list_endpoints(session: Session, *, workspace_id: int) -> list[WebhookEndpoint]:
    return list(session.scalars(scoped(WebhookEndpoint, workspace_id).order_by(WebhookEndpoint.id)))


def delete_endpoint(session: Session, *, workspace_id: int, endpoint_id: int) -> None:
    endpoint = session.scalar(scoped(WebhookEndpoint, workspace_id, WebhookEndpoint.id == endpoint_id))
    if endpoint is None:
        raise NotFound("webhook.not_found", id=endpoint_id)
    session.delete(endpoint)
    _subscriptions.forget_all()


def enqueue(
    session: Session, *, workspace_id: int, event: str, payload: dict[str, Any], now: datetime
) -> int:
    """Queue ``event`` for every active endpoint that wants it; returns how many deliveries were queued."""
    queued = 0
    for endpoint_id, events in _endpoints_for(session, workspace_id):
        if event in events:
            session.add(WebhookDelivery(workspace_id=workspace_id, endpoint_id=endpoint_id, event=event, payload=payload,
                                        next_attempt_at=now))  # fmt: skip
            queued += 1
    return queued


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """For receivers (and tests): the signature matches and is recent enough not to be a replay."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


class Poster(Protocol):
    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_due(session: Session, *, post: Poster, now: datetime, limit: int = 200) -> DeliveryReport:
    """Send every delivery whose time has come; a 2xx answer is success, anything else is retried."""
    report = DeliveryReport()
    due = session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    ).all()
    for delivery, endpoint in due:
        body = json.dumps(
            {"delivery_id": delivery.id, "event": delivery.event, "created_at": delivery.created_at.isoformat(),
             "data": delivery.payload},
            ensure_ascii=False, separators=(",", ":"),
        ).encode()  # fmt: skip
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(endpoint.secret, int(now.timestamp()), body),
                   "User-Agent": "Patron-Webhooks/1"}  # fmt: skip
        delivery.attempts += 1
        try:
            status = post(endpoint.url, body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except OSError as exc:
            error = str(exc)[:500]
        if error is None:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
            report.delivered += 1
        elif delivery.attempts > len(RETRY_DELAYS):
            delivery.status, delivery.last_error = "failed", error
            report.failed += 1
        else:
            delivery.next_attempt_at, delivery.last_error = now + RETRY_DELAYS[delivery.attempts - 1], error
            report.retrying += 1
    return report


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """The real poster: a 10-second timeout, redirects not followed (a webhook URL should be exact). The host
    is resolved and checked again now (it may have moved inside the network since it was registered) and the
    request connects to the address checked, not to a second resolution (DNS rebinding)."""
    try:
        target = outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise OSError(exc.message("en")) from exc
    pinned_url, host_header, extensions = target.pinned()
    try:
        with httpx.Client(timeout=10, follow_redirects=False, trust_env=False) as client:
            request = client.build_request(
                "POST", pinned_url, content=body, headers={**headers, **host_header}, extensions=extensions
            )
            return client.send(request).status_code
    except httpx.HTTPError as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from exc


def create_endpoint_read(
    session: Session, *, workspace_id: int, url: str, events: list[str]
) -> WebhookCreated:
    endpoint = create_endpoint(session, workspace_id=workspace_id, url=url, events=events)
    return WebhookCreated.model_validate(endpoint)


def endpoint_reads(session: Session, *, workspace_id: int) -> list[WebhookRead]:
    """Never the secret, nor credentials in a URL stored before they were refused."""
    reads = [WebhookRead.model_validate(e) for e in list_endpoints(session, workspace_id=workspace_id)]
    return [read.model_copy(update={"url": outbound.redact(read.url)}) for read in reads]
