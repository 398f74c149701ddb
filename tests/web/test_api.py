"""The REST API: API-key auth, tenancy, the customer story, imports over HTTP and error answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.core.settings import get_settings
from tests.web.conftest import Tenant, make_tenant


def test_the_api_needs_a_valid_key(client: TestClient, tenant: Tenant) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-API-Key": "ptr_000000000000_forged"}):
        answer = client.get("/api/v1/customers", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "auth.bad_api_key"
    assert client.get("/api/v1/customers", headers={"X-API-Key": tenant.api_key}).status_code == 200


def test_customer_story_has_profile_orders_lines_and_timeline(client: TestClient, tenant: Tenant) -> None:
    story = client.get("/api/v1/customers/C001", headers=tenant.headers).json()
    assert story["profile"]["name"] == "顧客1" and story["profile"]["locale"] == "zh-Hant"
    assert story["summary"] == {
        "order_count": 1,  # the cancelled order is part of the story but not a purchase
        "first_order_at": "2025-03-01T02:00:00Z",
        "last_order_at": "2025-03-01T02:00:00Z",
        "total_spent": "1550.50",
        "currency": "TWD",
        "interaction_count": 2,
    }
    assert [o["external_id"] for o in story["orders"]] == ["O2", "O1"], "newest first"
    o1 = story["orders"][1]
    assert o1["total"] == "1550.50"
    assert [(line["product_name"], line["quantity"], line["amount"]) for line in o1["lines"]] == [
        ("高山烏龍茶", 2, "1300.00"),
        ("濾掛咖啡", 1, "250.50"),
    ]
    assert [(e["type"], e["channel"]) for e in story["interactions"]] == [
        ("support_contact", "chat"),
        ("product_view", "app"),
    ]


def test_totals_are_hand_computed(client: TestClient, tenant: Tenant) -> None:
    totals = client.get("/api/v1/totals", headers=tenant.headers).json()
    assert totals == {
        "customers": 3, "products": 2, "orders": 2, "order_lines": 3, "interactions": 2,
        "revenue": "1550.50", "currency": "TWD",
        "first_order_at": "2025-03-01T02:00:00Z", "last_order_at": "2025-03-01T02:00:00Z",
    }  # fmt: skip


def test_one_workspaces_key_never_sees_another_workspaces_data(
    client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    first, second = make_tenant(engine, tmp_path / "a"), make_tenant(engine, tmp_path / "b")
    client.post("/api/v1/imports/customers", headers=first.headers, content=b"external_id,name\nONLY-A,A\n")
    assert client.get("/api/v1/customers/ONLY-A", headers=first.headers).status_code == 200
    assert client.get("/api/v1/customers/ONLY-A", headers=second.headers).status_code == 404
    listed = client.get("/api/v1/customers?q=ONLY", headers=second.headers).json()
    assert listed["total"] == 0
    assert client.get("/api/v1/workspace", headers=second.headers).json()["slug"] == second.workspace.slug
    assert client.get("/api/v1/totals", headers=second.headers).json()["customers"] == 3


def test_listing_searches_and_pages(client: TestClient, tenant: Tenant) -> None:
    page = client.get("/api/v1/customers?q=c2@&limit=1", headers=tenant.headers).json()
    assert (page["total"], [c["external_id"] for c in page["items"]]) == (1, ["C002"])
    page = client.get("/api/v1/customers?limit=2&offset=2", headers=tenant.headers).json()
    assert (page["total"], [c["external_id"] for c in page["items"]]) == (3, ["C003"])
    assert client.get("/api/v1/products", headers=tenant.headers).json()["items"][1]["price"] == "250.50"


def test_import_over_http_reports_rejected_rows(client: TestClient, tenant: Tenant) -> None:
    body = "external_id,email\nN1,n1@example.com\nN2,壞掉的信箱\n".encode()
    answer = client.post(
        "/api/v1/imports/customers", headers={**tenant.headers, "Accept-Language": "zh-TW"}, content=body
    )
    report = answer.json()
    assert answer.status_code == 200
    assert (report["inserted"], report["rejected"]) == (1, 1)
    assert report["errors"] == [
        {
            "line": 3,
            "column": "email",
            "code": "import.not_email",
            "message": "「壞掉的信箱」不是電子郵件地址。",
        }
    ]


def test_uploads_past_the_limit_are_refused_with_413(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 1000)
    declared = client.post("/api/v1/imports/customers", headers=tenant.headers, content=b"x" * 5000)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "import.file_too_large"

    def chunks():  # type: ignore[no-untyped-def]
        yield b"external_id\n"
        for _ in range(50):
            yield b"A" * 100 + b"\n"

    streamed = client.post("/api/v1/imports/customers", headers=tenant.headers, content=chunks())
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("get", "/api/v1/customers?limit=0", None, 422, "request.invalid"),
        ("get", "/api/v1/customers?limit=abc", None, 422, "request.invalid"),
        ("get", "/api/v1/customers/NOPE", None, 404, "customer.not_found"),
        ("get", "/api/v1/nothing-here", None, 404, "request.not_found"),
        ("delete", "/api/v1/customers", None, 405, "request.method_not_allowed"),
        ("post", "/api/v1/imports/pets", b"a\n1\n", 400, "import.unknown_kind"),
        ("post", "/api/v1/imports/customers?format=pdf", b"a\n1\n", 422, "request.invalid"),
        ("post", "/api/v1/imports/customers", b"", 400, "import.empty_file"),
        ("post", "/api/v1/imports/customers", b"name\nx\n", 400, "import.missing_columns"),
        ("post", "/api/v1/imports/customers?format=xlsx", b"not excel", 400, "import.bad_xlsx"),
        (
            "post",
            "/api/v1/imports/customers?encoding=klingon",
            b"external_id\n1\n",
            400,
            "import.bad_encoding_name",
        ),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    client: TestClient, tenant: Tenant, method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    answer = client.request(method, path, headers=tenant.headers, content=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"] and "Traceback" not in answer.text


def test_error_messages_follow_accept_language(client: TestClient, tenant: Tenant) -> None:
    for language, text in (
        ("zh-TW", "此工作區沒有外部編號為 X 的顧客。"),
        ("zh-CN", "此工作区没有外部编号为 X 的顾客。"),
        ("en", "No customer with external id X in this workspace."),
    ):
        answer = client.get("/api/v1/customers/X", headers={**tenant.headers, "Accept-Language": language})
        assert answer.json()["error"]["message"] == text


def test_openapi_spec_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/customers", "/api/v1/customers/{external_id}", "/api/v1/imports/{kind}"} <= set(
        spec["paths"]
    )
    assert spec["paths"]["/api/v1/customers/{external_id}"]["get"]["operationId"] == "customers-story"
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])


def test_docs_work_without_internet(client: TestClient) -> None:
    """Swagger UI comes from the package (intranets have no CDN): the page names no other host, and every
    script, style sheet and icon it loads answers 200 from this server."""
    docs = client.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert len(assets) == 3, assets
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), f"{asset} is on another host"
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 100, asset
    assert not re.search(r"https?://", docs.text), "no URL of another host in the page"
    assert '"validatorUrl": null' in docs.text, "the online validator badge would call validator.swagger.io"
    assert "SwaggerUIBundle" in client.get("/static/vendor/swagger-ui-bundle.js").text
    assert client.get("/redoc").status_code == 404, "ReDoc would load from a CDN: not offered"


def test_a_revoked_key_stops_working_at_once_despite_the_cache(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    from patron.core import service as core_service
    from patron.core.db import transaction

    assert client.get("/api/v1/workspace", headers=tenant.headers).status_code == 200  # now cached
    with transaction(engine) as session:
        core_service.revoke_api_key(
            session, workspace_id=tenant.workspace.id, prefix=tenant.api_key.split("_")[1]
        )
    assert client.get("/api/v1/workspace", headers=tenant.headers).status_code == 401
