"""Logging out ends the login on the server (a saved cookie opens nothing), logins expire on the clock, cookies
are Secure when the site is https (or when told), and a key revoked by another process stops within 2 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import Unauthorized
from patron.core.keycache import recent_keys
from patron.core.models import ApiKey
from patron.core.settings import get_settings
from patron.web import deps
from patron.web.app import create_app
from tests.web.conftest import Tenant, csrf_of, log_in
from tests.web.test_login_throttle import Hands, hands

__all__ = ["hands"]


def test_a_saved_cookie_opens_nothing_after_logout(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    page = log_in(client, tenant.workspace.slug, tenant.admin_email)
    saved = client.cookies.get("patron_session")
    assert saved
    assert client.post("/logout", data={"csrf": csrf_of(page)}, follow_redirects=False).status_code == 303
    with TestClient(create_app(), cookies={"patron_session": saved}) as thief:
        answer = thief.get("/dashboard", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_login_lasts_fourteen_days(client: TestClient, tenant: Tenant, hands: Hands) -> None:
    log_in(client, tenant.workspace.slug, tenant.admin_email)
    hands.advance(timedelta(days=14).total_seconds() - 1)
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    hands.advance(1)
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def _session_cookie(engine: Engine, tenant: Tenant) -> str:
    with TestClient(create_app(), base_url="https://testserver") as fresh:
        form = fresh.get("/login")
        answer = fresh.post("/login", data={"workspace": tenant.workspace.slug, "email": tenant.admin_email,
                                            "password": "a long enough password", "csrf": csrf_of(form.text)},
                            follow_redirects=False)  # fmt: skip
        assert answer.status_code == 303
        return next(value for name, value in answer.headers.multi_items() if name == "set-cookie")


@pytest.mark.parametrize(
    ("base_url", "setting", "secure"),
    [("", None, False), ("https://cx.example.com", None, True), ("", True, True), ("https://cx.example.com", False, False)],
)  # fmt: skip
def test_cookies_are_secure_on_https_or_when_told(
    engine: Engine, tenant: Tenant, monkeypatch: pytest.MonkeyPatch, base_url: str, setting: bool | None,
    secure: bool,
) -> None:  # fmt: skip
    monkeypatch.setattr(get_settings(), "public_base_url", base_url)
    monkeypatch.setattr(get_settings(), "secure_cookies", setting)
    cookie = _session_cookie(engine, tenant).lower()
    assert cookie.startswith("patron_session=") and "httponly" in cookie
    assert ("; secure" in cookie) is secure


def test_the_secure_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_SECURE_COOKIES", "true")
    get_settings.cache_clear()
    try:
        assert get_settings().cookies_secure() is True
    finally:
        monkeypatch.delenv("PATRON_SECURE_COOKIES")
        get_settings.cache_clear()
    assert get_settings().cookies_secure() is False


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Seconds]:
    seconds = Seconds()
    monkeypatch.setattr(recent_keys, "clock", seconds)
    recent_keys.forget_all()
    yield seconds
    recent_keys.forget_all()


def test_a_key_revoked_by_another_process_stops_within_two_seconds(
    client: TestClient, tenant: Tenant, engine: Engine, key_clock: Seconds
) -> None:
    """Another server process revokes the key: this one's cache is not cleared, so it may serve the key until
    its entry expires, 2 s after it was checked."""
    assert client.get("/api/v1/workspace", headers=tenant.headers).status_code == 200  # checked and cached
    with transaction(engine) as session:
        session.execute(update(ApiKey).where(ApiKey.prefix == tenant.api_key.split("_")[1])
                        .values(revoked_at=utcnow()))  # fmt: skip
    key_clock.now += 1.9
    assert client.get("/api/v1/workspace", headers=tenant.headers).status_code == 200, (
        "still within the bound"
    )
    key_clock.now += 0.1
    assert client.get("/api/v1/workspace", headers=tenant.headers).status_code == 401


def test_requests_that_find_a_key_expired_together_check_it_once(
    tenant: Tenant, engine: Engine, key_clock: Seconds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a busy key's 2 s are up, the requests in flight wait for one check instead of each running its own
    (which queued them for database connections); a refused key refuses them all."""
    checks: list[str] = []
    original = deps._verify_api_key

    def counted(raw: str) -> object:
        checks.append(raw)
        time.sleep(0.05)  # long enough for every caller to arrive while the check runs
        return original(raw)

    monkeypatch.setattr(deps, "_verify_api_key", counted)

    async def many(key: str) -> list[object]:
        return await asyncio.gather(*(deps.workspace_for_key(key) for _ in range(32)), return_exceptions=True)

    found = asyncio.run(many(tenant.api_key))
    assert len(checks) == 1 and {getattr(w, "id", None) for w in found} == {tenant.workspace.id}
    assert len(asyncio.run(many(tenant.api_key))) == 32 and len(checks) == 1, "from memory within the 2 s"
    key_clock.now += 2.0
    asyncio.run(many(tenant.api_key))
    assert len(checks) == 2
    refused = asyncio.run(many(tenant.api_key.replace("_", "_x", 1)))
    assert len(checks) == 3 and all(isinstance(r, Unauthorized) for r in refused)
