"""Webhooks: queued with the response, signed, delivered to a real HTTP receiver, retried, given up on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.settings import get_settings
from patron.surveys.service import templates
from patron.web.app import create_app
from patron.webhooks import service
from patron.webhooks.models import WebhookDelivery
from tests.web.conftest import Tenant


class Receiver:
    """A real HTTP server on loopback that records what it is sent and answers with ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers.items()), body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/patron"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local receiver is inside the network: trusted here as an administrator would trust one."""
    monkeypatch.setattr(get_settings(), "outbound_allow", "127.0.0.1")


@pytest.fixture
def receiver(allow_loopback: None) -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()


def _setup(client: TestClient, tenant: Tenant, url: str) -> str:
    document = templates()["relationship_nps"].model_dump(mode="json", exclude_none=True)
    assert client.post("/api/v1/surveys", headers=tenant.headers, json=document).status_code == 200
    created = client.post("/api/v1/webhooks", headers=tenant.headers, json={"url": url})
    assert created.status_code == 201
    listed = client.get("/api/v1/webhooks", headers=tenant.headers).json()
    assert "secret" not in listed[0], "the secret is shown once"
    return str(created.json()["secret"])


def _respond(client: TestClient, tenant: Tenant, key: str = "r1") -> None:
    body = {
        "survey": "relationship_nps",
        "customer_id": "C002",
        "client_key": key,
        "answers": {"nps": 10, "reason": "茶很好喝"},
    }
    assert client.post("/api/v1/responses", headers=tenant.headers, json=body).status_code == 200


def _deliver(engine: Engine, now: Any = None) -> service.DeliveryReport:
    with transaction(engine) as session:
        return service.deliver_due(session, post=service.http_post, now=now or utcnow())


def test_a_completed_response_is_delivered_signed(
    client: TestClient, tenant: Tenant, engine: Engine, receiver: Receiver
) -> None:
    secret = _setup(client, tenant, receiver.url)
    _respond(client, tenant)
    _respond(client, tenant)  # a retried submission is not a new event
    assert _deliver(engine).delivered == 1
    [(headers, body)] = receiver.received
    event = json.loads(body)
    assert (event["event"], event["data"]["answers"], event["data"]["customer_id"]) == (
        "response.completed",
        {"nps": 10, "reason": "茶很好喝"},
        "C002",
    )
    assert service.verify(secret, headers["X-Patron-Signature"], body, now=int(utcnow().timestamp()))
    assert not service.verify(
        secret, headers["X-Patron-Signature"], body.replace(b"10", b"0"), now=int(utcnow().timestamp())
    ), "tampered body"
    assert not service.verify(
        secret, headers["X-Patron-Signature"], body, now=int(utcnow().timestamp()) + 3600
    ), "replayed an hour later"
    assert _deliver(engine).delivered == 0, "delivered once"


def test_failures_are_retried_on_a_schedule_then_given_up(
    client: TestClient, tenant: Tenant, engine: Engine, receiver: Receiver
) -> None:
    _setup(client, tenant, receiver.url)
    _respond(client, tenant)
    receiver.status = 500
    now = utcnow()
    _deliver(engine, now)
    _deliver(engine, now + timedelta(seconds=30))
    assert len(receiver.received) == 1, "not again before the first retry delay"
    moment = now
    for delay in service.RETRY_DELAYS:
        moment += delay
        _deliver(engine, moment)
    assert len(receiver.received) == 1 + len(service.RETRY_DELAYS)
    with transaction(engine) as session:
        delivery = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.workspace_id == tenant.workspace.id)
        ).one()
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 6, "HTTP 500")


def test_an_unreachable_endpoint_is_retried(
    client: TestClient, tenant: Tenant, engine: Engine, allow_loopback: None
) -> None:
    _setup(client, tenant, "http://127.0.0.1:9/nowhere")
    _respond(client, tenant)
    assert _deliver(engine).retrying == 1
    with transaction(engine) as session:
        delivery = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.workspace_id == tenant.workspace.id)
        ).one()
        assert delivery.last_error is not None and "ConnectError" in delivery.last_error


def test_the_server_delivers_by_itself(
    tenant: Tenant, engine: Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_interval_seconds", 0.1)
    with TestClient(create_app()) as live:
        _setup(live, tenant, receiver.url)
        _respond(live, tenant)
        deadline = time.monotonic() + 10
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(receiver.received) == 1


def test_bad_webhook_urls_are_refused(client: TestClient, tenant: Tenant) -> None:
    answer = client.post("/api/v1/webhooks", headers=tenant.headers, json={"url": "not a url"})
    assert answer.status_code == 422 and answer.json()["error"]["details"][0]["location"] == "body.url"
    assert client.delete("/api/v1/webhooks/999999", headers=tenant.headers).status_code == 404
