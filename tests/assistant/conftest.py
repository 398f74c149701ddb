"""Shared fixtures: a shop with the six entries of test_api_cli, a client, and a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.assistant import service
from patron.core.db import transaction
from patron.core.settings import get_settings
from patron.web.app import create_app
from tests.assistant.test_api_cli import ENTRIES
from tests.factories import write_jsonl
from tests.pg import free_port
from tests.web.conftest import Tenant, make_tenant


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "public_base_url", "http://testserver")
    yield handler
    controller.stop()


def shop_with_entries(engine: Engine, folder: Path) -> Tenant:
    """The web tests' tenant (customers C001–C003, an admin, an API key) with the six entries of test_api_cli."""
    tenant = make_tenant(engine, folder)
    entries = service.read_entries(write_jsonl(folder / "kb.jsonl", ENTRIES))
    with transaction(engine) as session:
        service.import_entries(session, tenant.workspace.id, entries)
    return tenant


@pytest.fixture
def shop(engine: Engine, tmp_path: Path) -> Tenant:
    return shop_with_entries(engine, tmp_path)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client
