"""Shared fixtures: a shop with the six entries of test_api_cli, a client, and a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.assistant import service
from patron.core.db import transaction
from patron.web.app import create_app
from tests.assistant.test_api_cli import ENTRIES
from tests.factories import write_jsonl
from tests.mailbox import Inbox, serving_inbox
from tests.web.conftest import Tenant, make_tenant


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    yield from serving_inbox(monkeypatch)


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
