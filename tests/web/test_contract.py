"""The API keeps its declared contract: schemathesis over every operation, on SQLite and PostgreSQL.

Each generated request is sent three times: with the workspace's key, without a key and with another (empty)
workspace's key. Every answer must be declared in the OpenAPI spec with its status, content type and schema, no
answer may be a 5xx, data the schema forbids must be refused, a request without a key must get a 401 (the
built-in templates are the one public operation), and no answer to the other workspace's key may carry the
first workspace's data. Examples are few, seeded and derandomized, so a run is bounded and repeatable.

Not asserted: schemathesis's ``positive_data_acceptance``. Some rules cannot be written in JSON Schema (a survey
definition's questions refer to earlier ones, a segment label names a language of the workspace) and are
refused with a named 400, which that check counts as a failure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.surveys import service as surveys
from patron.web.app import create_app
from tests.factories import make_workspace, write_csv
from tests.web.conftest import make_tenant

APP = create_app()
SPEC = APP.openapi()
#: Seeded; the coverage phase tries one undeclared method per path (TRACE), not all eight.
CONFIG = schemathesis.Config.from_dict(
    {"seed": 20261124, "phases": {"coverage": {"unexpected-methods": ["trace"]}}}
)
schema = schemathesis.openapi.from_dict(SPEC, config=CONFIG)
schema.app = APP  # requests go to the app in-process, probes too
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
]
#: Requests sent, per database and key case, and the statuses seen: printed at the end of the module.
SENT: Counter[str] = Counter()
PUBLIC = {"GET /api/v1/surveys/templates"}


class Keys:
    """The three ways of calling, and the first workspace's marks that the second's answers must never show."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        owner = make_tenant(engine, folder / "owner")
        marker = f"ONLY-{owner.workspace.slug}"
        customers = write_csv(folder / "only.csv", ("external_id", "name"), [(marker, marker)])
        from patron.importers import import_file

        import_file(engine, workspace_slug=owner.workspace.slug, kind="customers", path=customers)
        stranger = make_workspace(engine)
        with transaction(engine) as session:
            # The survey the spec's examples name, so its operations also answer with data, then refuse another.
            surveys.save_survey(
                session, workspace_id=owner.workspace.id, definition=surveys.templates()["relationship_nps"]
            )
            _, stranger_key = core_service.create_api_key(session, workspace_id=stranger.id, name="contract")
        self.cases: dict[str, dict[str, str]] = {
            "valid key": owner.headers,
            "no key": {},
            "other workspace's key": {"Authorization": f"Bearer {stranger_key}"},
        }
        #: A customer, a product name and the workspace's slug and admin: none may reach the stranger.
        self.owner_marks = (marker, "顧客1", "高山烏龍茶", owner.workspace.slug, owner.admin_email)


_KEYS: dict[str, Keys] = {}


@pytest.fixture
def keys(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """One pair of workspaces per database for the whole module (the operations only add to them)."""
    name = engine.dialect.name
    if name not in _KEYS:
        _KEYS[name] = Keys(engine, tmp_path_factory.mktemp(f"contract-{name}"))
    return _KEYS[name]


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    if SENT:
        print("\nschemathesis requests:", ", ".join(f"{k}: {v}" for k, v in sorted(SENT.items())))


@schema.parametrize()
@settings(
    max_examples=5,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_contract_with_and_without_keys(
    case: Any, keys: Keys, engine: Engine
) -> None:
    database = engine.dialect.name
    declared = case.method.lower() in SPEC["paths"][case.operation.path]
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    refused_unread = False
    coverage = case.meta is not None and case.meta.phase.name == TestPhase.COVERAGE
    for who, headers in keys.cases.items():
        if who == "other workspace's key" and (refused_unread or coverage):
            # Refused for its shape (405, 422) before any data was read, the same for any key; and the coverage
            # phase's boundaries (each a full metric computation, ~0.25 s) are sent with the two other key cases:
            # the tenancy check gets the seeded and the spec's own examples, which name the owner's data.
            continue
        if not declared and who != "valid key":
            continue
        response = case.call(headers=dict(headers))
        if who == "valid key":
            refused_unread = response.status_code in (405, 422)
        SENT[f"{database} {who}"] += 1
        SENT[f"{database} {who} {response.status_code // 100}xx"] += 1
        case.validate_response(response, checks=CHECKS, headers=dict(headers))
        if who == "no key" and declared and case.operation.label not in PUBLIC:
            # A body FastAPI cannot parse is refused before the key is looked at (400/422): never a success.
            expected = (401,) if not negative else (400, 401, 422)
            assert response.status_code in expected, (
                case.operation.label,
                response.status_code,
                response.text[:200],
            )
        if who == "other workspace's key":
            leaked = [mark for mark in keys.owner_marks if mark in response.text]
            assert not leaked, (case.operation.label, leaked, response.text[:300])
