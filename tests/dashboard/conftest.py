"""The hand-computed metrics workspace (tests/metrics/world.py) with an admin and a viewer who log in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.models import Workspace
from tests.metrics.world import metrics_world
from tests.web.conftest import PASSWORD, client

__all__ = ["client"]


@dataclass
class Dash:
    workspace_id: int
    slug: str
    admin: str
    viewer: str


@pytest.fixture
def dash(engine: Engine, tmp_path: Path) -> Dash:
    workspace_id = metrics_world(engine, tmp_path)
    with transaction(engine) as session:
        workspace = session.get_one(Workspace, workspace_id)
        workspace.industry = "retail"
        slug = workspace.slug
        for role in ("admin", "viewer"):
            core_service.create_user(session, workspace_id=workspace_id, email=f"{role}@{slug}.example.com",
                                     password=PASSWORD, role=role)  # fmt: skip
    return Dash(workspace_id, slug, f"admin@{slug}.example.com", f"viewer@{slug}.example.com")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "form without CSRF token"
    return match.group(1)


def log_in(client: TestClient, dash: Dash, email: str) -> str:
    form = client.get("/login")
    answer = client.post("/login", data={"workspace": dash.slug, "email": email, "password": PASSWORD,
                                         "csrf": csrf_of(form.text)})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.text
