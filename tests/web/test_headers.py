"""Security headers on every answer (framing only for embedded survey pages), import errors without server paths,
X-Forwarded-For believed only from trusted proxies, and `patron serve` keeping the demo password out of its log."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app as cli
from patron.core.ratelimit import SlidingWindowLimiter
from patron.core.settings import get_settings
from patron.web import survey_pages
from patron.web.app import create_app
from patron.web.headers import POLICY
from tests.surveys.test_public_link import _install
from tests.web.conftest import Tenant


def _common(headers: dict[str, str] | object) -> None:
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "same-origin"


def test_pages_and_the_api_cannot_be_framed_nor_run_foreign_scripts(
    client: TestClient, tenant: Tenant
) -> None:
    for answer in (
        client.get("/login"),
        client.get("/api/v1/workspace", headers=tenant.headers),
        client.get("/api/v1/workspace"),  # a 401
        client.get("/no/such/page"),  # a 404
        client.get("/static/patron.css"),
    ):
        _common(answer.headers)
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["content-security-policy"] == POLICY
    assert "script-src 'self';" in POLICY and "frame-ancestors 'none'" in POLICY
    assert "unsafe-inline" not in POLICY.split("script-src", 1)[1].split(";", 1)[0]


def test_the_api_docs_allow_exactly_their_own_inline_script(client: TestClient) -> None:
    page = client.get("/docs")
    [script] = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = page.headers["content-security-policy"]
    assert f"script-src 'self' 'sha256-{digest}';" in policy and "frame-ancestors 'none'" in policy


def test_only_embedded_survey_pages_may_be_framed(client: TestClient, tenant: Tenant) -> None:
    _install(client, tenant, public=True)
    path = f"/p/{tenant.workspace.slug}/post_purchase_csat"
    started = client.get(f"{path}?embed=1", follow_redirects=False)
    page = client.get(started.headers["location"])
    for answer in (started, page):
        _common(answer.headers)
        assert "x-frame-options" not in answer.headers
        assert answer.headers["content-security-policy"].endswith("frame-ancestors *")
    token_path = started.headers["location"].split("?")[0]
    plain = client.get(token_path)
    assert plain.headers["x-frame-options"] == "DENY", "the same page without embed=1 is not framable"


def test_import_errors_do_not_show_server_paths(client: TestClient, tenant: Tenant) -> None:
    for body, fmt in ((b"", "csv"), (b"not a workbook", "xlsx"), (b"[1, 2]\n", "jsonl")):
        answer = client.post(f"/api/v1/imports/customers?format={fmt}", headers=tenant.headers, content=body)
        assert answer.status_code == 400, answer.text
        message = answer.json()["error"]["message"]
        assert f"upload.{fmt}" in message
        assert "patron-import-" not in answer.text and "/tmp" not in answer.text, message


def _start_from(tenant: Tenant, peer: str, forwarded: str) -> int:
    with TestClient(create_app(), client=(peer, 40000)) as browser:
        path = f"/p/{tenant.workspace.slug}/post_purchase_csat"
        return browser.get(path, headers={"X-Forwarded-For": forwarded}, follow_redirects=False).status_code


def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    engine: Engine, client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(survey_pages, "_public_starts", lambda limiter=SlidingWindowLimiter(2, 600): limiter)
    _install(client, tenant, public=True)
    # By default no proxy is trusted: a script on 127.0.0.1 naming a new address each time is still one address.
    assert [_start_from(tenant, "127.0.0.1", f"198.51.100.{n}") for n in range(3)] == [303, 303, 429]
    monkeypatch.setattr(get_settings(), "trusted_proxies", "127.0.0.1, 10.0.0.0/8")
    # Behind a trusted proxy each client is counted apart, by the nearest address the proxies did not write.
    assert [_start_from(tenant, "127.0.0.1", "203.0.113.5") for _ in range(3)] == [303, 303, 429]
    assert _start_from(tenant, "127.0.0.1", "203.0.113.6") == 303
    assert _start_from(tenant, "127.0.0.1", "203.0.113.6, 203.0.113.7, 10.1.1.1") == 303
    assert _start_from(tenant, "127.0.0.1", "203.0.113.7") == 303
    assert _start_from(tenant, "127.0.0.1", "forged, 203.0.113.7") == 429, (
        "only the last untrusted hop counts"
    )
    # A peer that is not a trusted proxy cannot name another address.
    assert [_start_from(tenant, "192.0.2.9", f"198.51.100.{n}") for n in range(3)] == [303, 303, 429]


def test_serve_keeps_the_demo_password_out_of_its_log(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    import uvicorn

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    password_file = Path(os.environ["PATRON_VAR_DIR"]) / "demo" / "admin-password.txt"
    password_file.parent.mkdir(parents=True, exist_ok=True)
    password_file.write_text("admin@demo.example.com\nSecretDemoPassword1\n", encoding="utf-8")
    password_file.chmod(0o644)
    try:
        served = CliRunner().invoke(cli, ["serve", "--port", "8126", "--lang", "en"])
    finally:
        get_settings.cache_clear()
    assert served.exit_code == 0, served.output
    assert "SecretDemoPassword1" not in served.output
    assert (
        f"demo login: admin@demo.example.com; the password is in {password_file.resolve()}" in served.output
    )
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert seen["proxy_headers"] is False, "uvicorn would believe X-Forwarded-For from any loopback peer"
    password_file.unlink()


def test_an_unexpected_error_carries_the_headers_too(engine: Engine) -> None:
    """Starlette answers unexpected errors from outside every middleware: the handler adds them itself."""
    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "request.internal"
    _common(answer.headers)
    assert answer.headers["x-frame-options"] == "DENY" and answer.headers["content-security-policy"] == POLICY
