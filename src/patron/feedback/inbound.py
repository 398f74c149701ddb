"""The signed inbound webhook: tools that cannot hold an API key (a social-listening vendor, a review platform,
Zapier) POST feedback items to ``/api/v1/feedback/inbound/<public id>``, signed with the source's secret.

The signature is the outbound webhooks' (``webhooks.service``), so one receiver or sender serves both ways:
``X-Patron-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>``. A delivery is
refused (401, a named code) without that header, with a time more than ``TOLERANCE`` seconds away from the
server's either way (a replay, or a clock far off), for a disabled source, or when no ``v1`` matches (compared
in constant time). The guard (``web.limits``) checks the headers before reading any of the body, reads the
body within ``PATRON_MAX_BODY_BYTES``, checks the signature and only then lets the route parse it.

Items are stored by ``service.add_items``: idempotent by their source id (or client key, or content), so a
retried delivery stores nothing twice; social listening matches them like any item. docs/feedback.md."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import get_read_engine, session_factory
from patron.core.errors import Conflict, NotFound, Unauthorized
from patron.core.tenancy import scoped
from patron.feedback import service
from patron.feedback.models import FeedbackInbound
from patron.feedback.schemas import (
    FeedbackCreate,
    InboundCreated,
    InboundItem,
    InboundRead,
    InboundReceipt,
)
from patron.webhooks.service import SIGNATURE_HEADER as SIGNATURE_HEADER

#: How far (seconds) a delivery's time may be from the server's, either way.
TOLERANCE = 300
PATH_PREFIX = "/api/v1/feedback/inbound/"
PUBLIC_ID_PATTERN = r"^in_[A-Za-z0-9_-]{8,37}$"
#: The receiving path, as the guard recognises it before routing (the admin paths have one more segment).
RECEIVING_PATH = re.compile(r"^/api/v1/feedback/inbound/(in_[A-Za-z0-9_-]{8,37})$")
SECRET_PREFIX = "whin_"
#: ``v1`` values looked at in one header (a sender mid-rotation of its own may send two); the rest are ignored.
MAX_SIGNATURES = 8
#: A delivery updates the source's ``received_at`` at most this often (seconds): no hot row under load.
RECEIVED_EVERY = 60


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value a sender computes (the same as ``webhooks.service.sign``)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# ---------------------------------------------------------------------------------------------- admin
def _new_secret() -> str:
    return f"{SECRET_PREFIX}{secrets.token_urlsafe(32)}"


def _read(source: FeedbackInbound) -> InboundRead:
    return InboundRead(public_id=source.public_id, name=source.name, channel=source.channel, active=source.active,
                       path=PATH_PREFIX + source.public_id, created_at=source.created_at,
                       rotated_at=source.rotated_at, disabled_at=source.disabled_at,
                       received_at=source.received_at)  # fmt: skip


def _created(source: FeedbackInbound) -> InboundCreated:
    return InboundCreated(**_read(source).model_dump(), secret=source.secret)


def add_source(session: Session, *, workspace_id: int, name: str, channel: str, actor: str) -> InboundCreated:
    """A new source with a fresh secret (in this answer only). A name is used once per workspace (409)."""
    name = name.strip()
    if session.scalar(scoped(FeedbackInbound, workspace_id, FeedbackInbound.name == name)) is not None:
        raise Conflict("inbound.name_taken", name=name)
    source = FeedbackInbound(workspace_id=workspace_id, public_id=f"in_{secrets.token_urlsafe(18)}", name=name,
                             channel=channel, secret=_new_secret(), active=True, created_by=actor)  # fmt: skip
    try:
        with session.begin_nested():  # two adds of one name at the same moment: the second is told, not a 500
            session.add(source)
            session.flush()
    except IntegrityError:
        raise Conflict("inbound.name_taken", name=name) from None
    return _created(source)


def list_sources(session: Session, *, workspace_id: int) -> list[InboundRead]:
    """Every source of the workspace, never its secret."""
    found = session.scalars(scoped(FeedbackInbound, workspace_id).order_by(FeedbackInbound.id))
    return [_read(source) for source in found]


def find_source(session: Session, *, workspace_id: int, public_id: str) -> FeedbackInbound:
    source = session.scalar(scoped(FeedbackInbound, workspace_id, FeedbackInbound.public_id == public_id))
    if source is None:
        raise NotFound("inbound.not_found", id=public_id[:40])
    return source


def rotate_source(session: Session, *, workspace_id: int, public_id: str) -> InboundCreated:
    """A new secret (in this answer only); the old one fails from now on."""
    source = find_source(session, workspace_id=workspace_id, public_id=public_id)
    source.secret = _new_secret()
    source.rotated_at = utcnow()
    session.flush()
    return _created(source)


def disable_source(session: Session, *, workspace_id: int, public_id: str) -> InboundRead:
    """Refuse its deliveries from now on (401 ``inbound.disabled``); disabling twice changes nothing."""
    source = find_source(session, workspace_id=workspace_id, public_id=public_id)
    if source.active:
        source.active = False
        source.disabled_at = utcnow()
        session.flush()
    return _read(source)


# ------------------------------------------------------------------------------------------ receiving
@dataclass(frozen=True)
class Verified:
    """A delivery whose signature matched: what the route needs to store its items."""

    workspace_id: int
    source_id: int
    name: str
    channel: str


@dataclass(frozen=True)
class Pending:
    """A delivery whose headers passed: the body is still to be read and checked against ``signatures``."""

    source: Verified
    secret: str
    timestamp: int
    signatures: tuple[str, ...]

    def verify(self, body: bytes) -> Verified:
        expected = sign(self.secret, self.timestamp, body).split("v1=", 1)[1]
        matched = False
        for candidate in self.signatures:  # every one is compared, in constant time
            matched |= hmac.compare_digest(expected.encode(), candidate.encode())
        if not matched:
            raise Unauthorized("inbound.bad_signature")
        return self.source


def parse_signature(header: str | None) -> tuple[int, tuple[str, ...]]:
    """``t=<unix time>,v1=<hex>[,v1=<hex>…]`` → the time and the signatures; 401 when missing or malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value.isascii() and len(value) <= 128 and len(signatures) < MAX_SIGNATURES:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise Unauthorized("inbound.signature_missing", header=SIGNATURE_HEADER)
    return timestamp, tuple(signatures)


def check_time(timestamp: int, now: datetime) -> None:
    drift = timestamp - int(now.timestamp())
    if drift < -TOLERANCE:
        raise Unauthorized("inbound.stale_timestamp", seconds=-drift, tolerance=TOLERANCE)
    if drift > TOLERANCE:
        raise Unauthorized("inbound.future_timestamp", seconds=drift, tolerance=TOLERANCE)


def _source(public_id: str) -> tuple[Verified, str, bool] | None:
    # Read outside SQLite's writer queue: a flood of unsigned deliveries must not hold the writers back.
    with session_factory(get_read_engine())() as session, session.begin():
        source = session.scalar(select(FeedbackInbound).where(FeedbackInbound.public_id == public_id))
        if source is None:
            return None
        verified = Verified(workspace_id=source.workspace_id, source_id=source.id, name=source.name,
                            channel=source.channel)  # fmt: skip
        return verified, source.secret, source.active


def check_headers(public_id: str, header: str | None) -> Pending:
    """Everything that can be checked before the body is read (runs in a worker thread: it reads the source):
    404 for an unknown source, 401 for a disabled one, a missing or malformed signature header, a time too old
    or too far ahead."""
    found = _source(public_id)
    if found is None:
        raise NotFound("inbound.not_found", id=public_id[:40])
    source, secret, active = found
    if not active:
        raise Unauthorized("inbound.disabled", name=source.name)
    timestamp, signatures = parse_signature(header)
    check_time(timestamp, utcnow())
    return Pending(source=source, secret=secret, timestamp=timestamp, signatures=signatures)


def receive(session: Session, *, source: Verified, items: Sequence[InboundItem]) -> InboundReceipt:
    """Store a verified delivery's items: the source's channel unless an item names one, the source's name as
    the items' ``source`` unless they name one. An item already stored (a retried delivery) is a duplicate."""
    complete = [
        FeedbackCreate.model_validate(
            {**item.model_dump(exclude={"channel", "source"}), "channel": item.channel or source.channel,
             "source": item.source or source.name[:64]}
        )
        for item in items
    ]  # fmt: skip
    stored = service.add_items(session, workspace_id=source.workspace_id, items=complete)
    created = sum(1 for item in stored if item.created)
    now = utcnow()
    session.execute(
        update(FeedbackInbound)
        .where(
            FeedbackInbound.id == source.source_id,
            or_(FeedbackInbound.received_at.is_(None),
                FeedbackInbound.received_at < now - timedelta(seconds=RECEIVED_EVERY)),
        )
        .values(received_at=now)
    )  # fmt: skip
    return InboundReceipt(stored=created, duplicates=len(stored) - created, items=stored)
