"""Exploratory."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.failures import FailureGroup
from sqlalchemy.engine import Engine

from patron.web.app import create_app
from tests.web.conftest import make_tenant

STATS: Counter[str] = Counter()
FAILS: dict[str, str] = {}
CACHE = {}
APP = create_app()
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP


@pytest.fixture
def keys(engine: Engine, tmp_path: Path):
    key = str(engine.url)
    if key in CACHE:
        return CACHE[key]
    a = make_tenant(engine, tmp_path / "a")
    b = make_tenant(engine, tmp_path / "b")
    CACHE[key] = {"valid": a.headers, "none": {}, "other": b.headers}
    return CACHE[key]


@schema.parametrize()
@settings(max_examples=10, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case, keys, engine) -> None:
    for who, headers in keys.items():
        STATS[who] += 1
        response = case.call(headers=dict(headers))
        STATS[f"{who}:{response.status_code}"] += 1
        try:
            case.validate_response(response, headers=dict(headers), transport_kwargs={"headers": dict(headers)})
        except FailureGroup as exc:
            for f in exc.exceptions:
                k = f"{engine.dialect.name} {who} {case.operation.label} {type(f).__name__} {response.status_code}"
                FAILS.setdefault(k, str(f)[:400] + "\n  BODY " + response.text[:300] + "\n  CASE " + repr(case)[:400])


def test_zz_print() -> None:
    print(dict(STATS))
    for k, f in sorted(FAILS.items()):
        print("----", k, "\n", f)
