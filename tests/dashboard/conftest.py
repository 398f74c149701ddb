"""The hand-computed metrics workspace (tests/metrics/world.py) with an admin and a viewer who log in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.models import Workspace
from tests.metrics.world import metrics_world
from tests.web.conftest import PASSWORD, client, csrf_of, log_in

__all__ = ["client", "csrf_of", "log_in"]


@dataclass
class Dash:
    workspace_id: int
    slug: str
    admin: str
    viewer: str
    zone: str


@pytest.fixture
def dash(engine: Engine, tmp_path: Path) -> Dash:
    workspace_id = metrics_world(engine, tmp_path)
    with transaction(engine) as session:
        workspace = session.get_one(Workspace, workspace_id)
        workspace.industry = "retail"
        slug, zone = workspace.slug, workspace.timezone
        for role in ("admin", "viewer"):
            core_service.create_user(session, workspace_id=workspace_id, email=f"{role}@{slug}.example.com",
                                     password=PASSWORD, role=role)  # fmt: skip
    return Dash(workspace_id, slug, f"admin@{slug}.example.com", f"viewer@{slug}.example.com", zone)
