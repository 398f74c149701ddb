"""Hostile files and bodies over HTTP (issue 18): refused with a named 4xx, never a 500, on both databases;
the key is checked before a body is read, and every body is bounded per route."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from patron.core.settings import get_settings
from patron.web.app import create_app
from tests.hostile import nul_past_the_sample, unclosed_quote_csv, xlsx_of, xlsx_with_one_huge_string
from tests.web.conftest import Tenant


def _upload(client: TestClient, tenant: Tenant, kind: str, path: Path, fmt: str) -> Any:
    return client.post(
        f"/api/v1/imports/{kind}?format={fmt}", headers=tenant.headers, content=path.read_bytes()
    )


def test_an_unclosed_quote_is_reported_over_http(client: TestClient, tenant: Tenant, tmp_path: Path) -> None:
    answer = _upload(client, tenant, "customers", unclosed_quote_csv(tmp_path / "q.csv", 5), "csv")
    report = answer.json()
    assert answer.status_code == 200
    assert (report["rows_read"], report["inserted"], report["rejected"]) == (5, 4, 1)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(4, "import.unclosed_quote")]


GOOD_RECORDS = {
    "customers": {"external_id": "J1", "name": "一"},
    "products": {"external_id": "PX", "name": "壺", "price": "880"},
    "orders": {"order_id": "OX", "customer_id": "C001", "ordered_at": "2025-03-01T10:00:00+08:00",
               "product_id": "P1", "quantity": 1, "unit_price": "680"},
    "interactions": {"customer_id": "C001", "occurred_at": "2025-03-01T10:00:00Z", "type": "product_view",
                     "channel": "web"},
}  # fmt: skip


@pytest.mark.parametrize("kind", list(GOOD_RECORDS))
def test_deep_json_is_a_rejected_line_for_every_kind(
    client: TestClient, tenant: Tenant, tmp_path: Path, kind: str
) -> None:
    # Before: a 500 for every kind on both databases
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps(GOOD_RECORDS[kind]) + "\n" + "[" * 100_000 + "\n", encoding="utf-8")
    answer = _upload(client, tenant, kind, path, "jsonl")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["rows_read"], report["rejected"]) == (2, 1)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(2, "import.json_too_deep")]


def test_a_nul_character_is_a_rejected_row_over_http(
    client: TestClient, tenant: Tenant, tmp_path: Path
) -> None:
    # Before: PostgreSQL's COPY failed on it, a 500
    answer = _upload(client, tenant, "customers", nul_past_the_sample(tmp_path / "nul.csv"), "csv")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["inserted"], report["rejected"]) == (3_000, 1)
    assert [(e["line"], e["column"], e["code"]) for e in report["errors"]] == [
        (3_002, "email", "import.nul_character")
    ]


def test_hostile_workbooks_get_a_named_400(
    client: TestClient, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "import_max_cell_chars", 1_000)
    huge = _upload(
        client, tenant, "customers", xlsx_with_one_huge_string(tmp_path / "h.xlsx", 50_000), "xlsx"
    )
    assert (huge.status_code, huge.json()["error"]["code"]) == (400, "import.xlsx_cell_too_long")
    wide = _upload(client, tenant, "customers", xlsx_of(tmp_path / "w.xlsx", 3, 1_025), "xlsx")
    assert (wide.status_code, wide.json()["error"]["code"]) == (400, "import.sheet_too_large")


def _call(path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, dict[str, Any], int]:
    """Sends a request straight to the ASGI app; returns the status, the JSON answer and how many body chunks
    the app asked for."""
    app = create_app()
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if asked >= len(chunks):
            return {"type": "http.disconnect"}
        asked += 1
        return {"type": "http.request", "body": chunks[asked - 1], "more_body": asked < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234), "server": ("testserver", 80),
    }  # fmt: skip
    # In a thread of its own: a browser test's Playwright may keep an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as runner:
        runner.submit(asyncio.run, app(scope, receive, send)).result()
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), asked


def test_a_body_without_a_valid_key_is_refused_before_it_is_read(engine: Any, tenant: Tenant) -> None:
    # Before: a 216 MB JSON body was parsed (1.4 GB) before the 401
    chunks = [b'{"survey": "x", "answers": [' + b"1," * 50_000] + [b"1," * 50_000] * 9 + [b"1]}"]
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-API-Key": "ptr_000000000000_forged"}):
        for path in ("/api/v1/responses", "/api/v1/imports/customers", "/api/v1/surveys"):
            status, answer, asked = _call(path, {**headers, "Content-Type": "application/json"}, chunks)
            assert (status, answer["error"]["code"], asked) == (401, "auth.bad_api_key", 0)


def test_bodies_past_their_routes_limit_get_413_with_a_named_message(
    engine: Any, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_body_bytes", 1024 * 1024)
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 3 * 1024 * 1024)
    headers = {**tenant.headers, "Content-Type": "application/json", "Accept-Language": "zh-TW"}
    declared = {**headers, "Content-Length": str(2 * 1024 * 1024)}
    status, answer, asked = _call("/api/v1/responses", declared, [b"{}"])
    assert (status, answer["error"]["code"], asked) == (413, "request.body_too_large", 0)
    assert answer["error"]["message"] == "請求內容超過此網址 1 MB 的上限。"
    # no Content-Length (chunked): counted as it comes, refused once past the limit
    chunks = [b'{"a": "' + b"x" * (256 * 1024)] + [b"x" * (256 * 1024)] * 7 + [b'"}']
    status, answer, asked = _call("/api/v1/responses", headers, chunks)
    assert (status, answer["error"]["code"], asked) == (
        413,
        "request.body_too_large",
        4,
    )  # 4 × 256 KB + 7 > 1 MB
    # an upload of 2 MB is within the imports' own limit, not the JSON bodies'
    rows = b"external_id,name\n" + b"".join(b"U%06d,%s\n" % (i, b"n" * 40) for i in range(40_000))
    assert 1024 * 1024 < len(rows) < 3 * 1024 * 1024
    status, answer, _ = _call(
        "/api/v1/imports/customers", tenant.headers, [rows[i : i + 65536] for i in range(0, len(rows), 65536)]
    )
    assert (status, answer["inserted"]) == (200, 40_000)
    status, answer, _ = _call("/api/v1/imports/customers", tenant.headers, [rows * 2])
    assert (status, answer["error"]["code"]) == (413, "import.file_too_large")


def test_a_body_within_the_limit_is_answered_as_before(client: TestClient, tenant: Tenant) -> None:
    answer = client.post("/api/v1/responses", headers=tenant.headers, json={"survey": "nope"})
    assert answer.status_code == 422
