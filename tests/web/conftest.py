"""A workspace with a little hand-made data, an API key and a logged-in admin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.importers import import_file
from patron.web.app import create_app
from tests.factories import (
    ORDER_HEADER,
    customers_file,
    make_workspace,
    products_file,
    write_csv,
    write_jsonl,
)

PASSWORD = "a long enough password"


@dataclass
class Tenant:
    workspace: Workspace
    api_key: str
    admin_email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_tenant(engine: Engine, folder: Path) -> Tenant:
    """Customers C001–C003; order O1 = 680×2−60 + 250.50 = 1550.50 TWD (completed), O2 = 100 TWD (cancelled)."""
    workspace = make_workspace(engine)
    folder.mkdir(parents=True, exist_ok=True)
    for kind, path in (
        ("customers", customers_file(folder / "c.csv")),
        ("products", products_file(folder / "p.csv")),
    ):
        import_file(engine, workspace_slug=workspace.slug, kind=kind, path=path)
    orders = write_csv(
        folder / "o.csv",
        ORDER_HEADER,
        [
            ("O1", 1, "C001", "2025-03-01T10:00:00+08:00", "completed", "web", "P1", 2, "680", "60"),
            ("O1", 2, "C001", "2025-03-01T10:00:00+08:00", "completed", "web", "P2", 1, "250.50", ""),
            ("O2", 1, "C001", "2025-04-02T09:00:00+08:00", "cancelled", "store", "P1", 1, "100", ""),
        ],
    )
    import_file(engine, workspace_slug=workspace.slug, kind="orders", path=orders)
    events = write_jsonl(
        folder / "e.jsonl",
        [
            {
                "customer_id": "C001",
                "occurred_at": "2025-02-28T20:00:00+08:00",
                "type": "product_view",
                "channel": "app",
                "product_id": "P1",
            },
            {
                "customer_id": "C001",
                "occurred_at": "2025-03-05T11:00:00+08:00",
                "type": "support_contact",
                "channel": "chat",
                "order_id": "O1",
                "detail": "包裝破損",
            },
        ],
    )
    import_file(engine, workspace_slug=workspace.slug, kind="interactions", path=events)
    email = f"admin@{workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=workspace.id, email=email, password=PASSWORD, display_name="王經理"
        )
        _, key = core_service.create_api_key(session, workspace_id=workspace.id, name="tests")
    return Tenant(workspace, key, email)


@pytest.fixture
def tenant(engine: Engine, tmp_path: Path) -> Tenant:
    return make_tenant(engine, tmp_path / "tenant")


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def fuzz_tenant(engine: Engine, tmp_path: Path, client: TestClient) -> Tenant:
    """A tenant with the relationship NPS survey installed, for fuzzing responses."""
    from patron.surveys.service import templates

    tenant = make_tenant(engine, tmp_path / "fuzz")
    document = templates()["relationship_nps"].model_dump(mode="json", exclude_none=True)
    client.post("/api/v1/surveys", headers=tenant.headers, json=document)
    return tenant


def csrf_of(html: str) -> str:
    """The CSRF token of the page's form."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "form without CSRF token"
    return match.group(1)


def log_in(client: TestClient, workspace_slug: str, email: str, password: str = PASSWORD) -> str:
    """Log in through the form, as a browser would; returns the page landed on."""
    form = client.get("/login")
    answer = client.post("/login", data={"workspace": workspace_slug, "email": email, "password": password,
                                         "csrf": csrf_of(form.text)})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.text
