"""The express lane for POST /api/v1/responses answers exactly as the FastAPI route does: the same status, body
bytes (the new response's id aside), language and headers, for stored, repeated, conflicting and refused
responses alike; bodies the model refuses still reach the route."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.surveys.service import templates
from patron.web import express
from patron.web.app import create_app
from tests.web.conftest import Tenant, make_tenant

_NPS = {"survey": "relationship_nps", "customer_id": "C001", "client_key": "form-1", "locale": "zh-TW",
        "answers": {"nps": 4, "went_wrong": "包裝破損，「客服」也沒回", "value_most": "product_quality"}}  # fmt: skip

#: (body or raw bytes, content type, Accept-Language), each with what happens to it
_REQUESTS: list[tuple[Any, str, str]] = [
    (_NPS, "application/json", "zh-Hant"),  # stored
    (_NPS, "application/json", "zh-Hant"),  # the same again: duplicate
    ({**_NPS, "answers": {"nps": 9}}, "application/json", "en"),  # the same key, other answers: 409
    ({**_NPS, "client_key": "form-2", "survey": "no_such_survey"}, "application/json", "zh-Hans"),  # 404
    ({**_NPS, "client_key": "form-3", "customer_id": "NOBODY"}, "application/json", "en"),  # 404
    ({**_NPS, "client_key": "form-4", "answers": {"nps": 11}}, "application/json", "zh-Hant"),  # 400
    ({**_NPS, "client_key": "form-5", "publish_consent": 0}, "application/json", "en"),  # 422, by the route
    (
        {
            "survey": "relationship_nps",
            "answers": {"nps": 10, "reason": "Great coffee"},
            "publish_consent": True,
            "publish_as": "initials",
        },
        "application/json",
        "en",
    ),  # anonymous, stored
    (
        b'{"survey": "relationship_nps", "answers": {"nps": ',
        "application/json",
        "en",
    ),  # broken JSON: the route
    (b'{"survey": "relationship_nps", "answers": {"nps": 7}}', "text/plain", "en"),  # not JSON: the route
    ({**_NPS, "client_key": "form-6", "touchpoint": "moon"}, "application/json; charset=utf-8", "zh-Hant"),
]


@pytest.fixture
def two_tenants(engine: Engine, tmp_path: Path) -> Iterator[tuple[Tenant, Tenant]]:
    yield make_tenant(engine, tmp_path / "express"), make_tenant(engine, tmp_path / "route")


def _install(client: TestClient, tenant: Tenant) -> None:
    document = templates()["relationship_nps"].model_dump(mode="json", exclude_none=True)
    assert client.post("/api/v1/surveys", headers=tenant.headers, json=document).status_code == 200


def _send(client: TestClient, tenant: Tenant, body: Any, content_type: str, language: str) -> Any:
    headers = {**tenant.headers, "Content-Type": content_type, "Accept-Language": language}
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return client.post("/api/v1/responses", headers=headers, content=content)


def _comparable(answer: Any) -> tuple[Any, ...]:
    body = re.sub(rb'^\{"id":\d+,', b'{"id":0,', answer.content)
    body = re.sub(rb'"completed_at":"[^"]+"', b'"completed_at":"-"', body)
    headers = {k: v for k, v in answer.headers.items() if k not in ("content-length", "date")}
    return answer.status_code, body, headers


def test_the_express_lane_answers_byte_for_byte_as_the_route(
    two_tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    original = express.in_group_commit

    async def counted(work: Any, /, **kwargs: Any) -> Any:
        taken.append(kwargs["submission"].client_key or "")
        return await original(work, **kwargs)

    monkeypatch.setattr(express, "in_group_commit", counted)
    fast_tenant, route_tenant = two_tenants
    with (
        TestClient(create_app(), raise_server_exceptions=False) as fast,
        TestClient(create_app(express_lane=False), raise_server_exceptions=False) as route,
    ):
        _install(fast, fast_tenant)
        _install(route, route_tenant)
        for body, content_type, language in _REQUESTS:
            by_lane = _send(fast, fast_tenant, body, content_type, language)
            by_route = _send(route, route_tenant, body, content_type, language)
            assert _comparable(by_lane) == _comparable(by_route), (body, by_lane.text, by_route.text)
    # The lane took every body the model accepts (the six valid shapes), and no other.
    assert taken == ["form-1", "form-1", "form-1", "form-2", "form-3", "form-4", ""]


def test_without_a_key_the_guard_answers_before_the_lane(client: TestClient) -> None:
    answer = client.post("/api/v1/responses", json=_NPS)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "auth.bad_api_key"
    body = {"points": 5, "reason": "x", "idempotency_key": "no-key"}
    for kind in ("redeem", "adjust"):
        answer = client.post(f"/api/v1/loyalty/members/C001/{kind}", json=body)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "auth.bad_api_key"


#: The ledger's lane: (customer, redeem or adjust, body or raw bytes, content type, Accept-Language)
_J = "application/json"
_LEDGER: list[tuple[str, str, Any, str, str]] = [
    ("C001", "adjust", {"points": 120, "reason": "welcome", "idempotency_key": "k1"}, _J, "en"),
    ("C001", "redeem", {"points": 45, "reason": "voucher", "idempotency_key": "k2"}, _J, "zh-Hant"),
    ("C001", "redeem", {"points": 45, "reason": "voucher", "idempotency_key": "k2"}, _J, "en"),  # replayed
    ("C001", "redeem", {"points": 46, "reason": "voucher", "idempotency_key": "k2"}, _J, "en"),  # key reused: 409
    ("C001", "redeem", {"points": 500, "reason": "tv", "idempotency_key": "k3"}, _J, "zh-Hans"),  # short: 409
    ("C001", "adjust", {"points": 0, "reason": "none", "idempotency_key": "k4"}, _J, "en"),  # 400
    ("C001", "adjust", {"points": -30, "reason": "fix", "idempotency_key": "k5"}, _J, "zh-Hant"),
    ("C002", "adjust", {"points": 7, "reason": "join", "idempotency_key": "k6"}, _J, "en"),  # enrols C002
    ("C003", "redeem", {"points": 1, "reason": "no", "idempotency_key": "k7"}, _J, "en"),  # not a member: 404
    ("NOBODY", "adjust", {"points": 1, "reason": "no", "idempotency_key": "k8"}, _J, "zh-Hant"),  # 404
    ("C001", "redeem", {"points": 1, "reason": "x", "idempotency_key": "k9", "more": 1}, _J, "en"),  # the route: 422
    ("C001", "redeem", b'{"points": 1, "reason": ', _J, "en"),  # broken JSON: the route
    ("C001", "redeem", b'{"points": 1, "reason": "x", "idempotency_key": "k10"}', "text/plain", "en"),  # the route
    ("C001", "adjust", {"points": 2, "reason": "x", "idempotency_key": "k11"}, f"{_J}; charset=utf-8", "en"),
]  # fmt: skip


def _ledger_comparable(answer: Any) -> tuple[Any, ...]:
    body = re.sub(rb'"id":\d+', b'"id":0', answer.content)
    body = re.sub(rb'"(created_at|expires_at)":"[^"]+"', rb'"\1":"-"', body)
    headers = {k: v for k, v in answer.headers.items() if k not in ("content-length", "date")}
    return answer.status_code, body, headers


def test_the_ledger_lane_answers_byte_for_byte_as_the_routes(
    engine: Engine, two_tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.core.db import transaction
    from patron.loyalty import service as loyalty
    from patron.loyalty.schemas import ProgramUpdate

    taken: list[str] = []
    original = express.in_group_commit

    async def counted(work: Any, /, **kwargs: Any) -> Any:
        taken.append(kwargs["idempotency_key"])
        return await original(work, **kwargs)

    monkeypatch.setattr(express, "in_group_commit", counted)
    fast_tenant, route_tenant = two_tenants
    statuses: list[int] = []
    balances: list[int] = []
    with transaction(engine) as session:
        for tenant in two_tenants:
            workspace = session.merge(tenant.workspace)
            loyalty.set_program(session, workspace=workspace, data=ProgramUpdate())
    with (
        TestClient(create_app(), raise_server_exceptions=False) as fast,
        TestClient(create_app(express_lane=False), raise_server_exceptions=False) as route,
    ):
        for customer, kind, body, content_type, language in _LEDGER:
            path = f"/api/v1/loyalty/members/{customer}/{kind}"
            sent = []
            for client, tenant in ((fast, fast_tenant), (route, route_tenant)):
                headers = {**tenant.headers, "Content-Type": content_type, "Accept-Language": language}
                content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
                sent.append(client.post(path, headers=headers, content=content))
            by_lane, by_route = sent
            assert _ledger_comparable(by_lane) == _ledger_comparable(by_route), (
                body,
                by_lane.text,
                by_route.text,
            )
            statuses.append(by_lane.status_code)
            if by_lane.status_code == 200:
                balances.append(by_lane.json()["balance"]["points"])
    assert statuses == [200, 200, 200, 409, 409, 400, 200, 200, 404, 404, 422, 422, 422, 200]
    # 120; −45 → 75; the replay answers 75; −30 → 45; C002's 7; +2 → 47
    assert balances == [120, 75, 75, 45, 7, 47]
    # The lane took every body the model accepts, and no other (k9: an unknown field; k10: not JSON).
    assert taken == ["k1", "k2", "k2", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k11"]
