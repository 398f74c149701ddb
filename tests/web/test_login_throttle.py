"""Logins cannot be guessed: failures lock the account and the client address for a growing while (429 with
Retry-After, on an injected clock), are logged, and unknown accounts and workspaces cost the same hash time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.core import clock, security
from patron.core.throttle import FailureLock
from patron.web.app import create_app
from tests.web.conftest import PASSWORD, Tenant, csrf_of

START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


class Hands:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def hands() -> Iterator[Hands]:
    previous = clock._source
    moving = Hands()
    clock.set_clock(moving)
    yield moving
    clock.set_clock(previous)


def attempt(client: TestClient, slug: str, email: str, password: str) -> tuple[int, str | None, str]:
    form = client.get("/login")
    answer = client.post("/login", data={"workspace": slug, "email": email, "password": password,
                                         "csrf": csrf_of(form.text)}, follow_redirects=False)  # fmt: skip
    return answer.status_code, answer.headers.get("retry-after"), answer.text


def test_the_lock_doubles_up_to_fifteen_minutes() -> None:
    moving = Hands()
    lock = FailureLock(5, now=moving)
    for _ in range(4):
        lock.failed("a")
    assert lock.retry_after("a") == 0
    waits = []
    for _ in range(7):
        lock.failed("a")
        waits.append(lock.retry_after("a"))
        moving.advance(waits[-1])
    assert waits == [60, 120, 240, 480, 900, 900, 900]
    moving.advance(3601)
    lock.failed("a")
    assert lock.retry_after("a") == 0, "failures are forgotten an hour after the last"


def test_an_account_is_locked_after_five_failures(
    client: TestClient, tenant: Tenant, hands: Hands, caplog: pytest.LogCaptureFixture
) -> None:
    slug, email = tenant.workspace.slug, tenant.admin_email
    caplog.set_level(logging.INFO, logger="patron.auth")
    for _ in range(5):
        assert attempt(client, slug, email, "wrong password")[0] == 401
    status, retry_after, text = attempt(client, slug, email, PASSWORD)
    assert (status, retry_after) == (429, "60"), "locked: even the right password waits"
    assert "登入失敗次數過多，請 1 分鐘後再試。" in text
    hands.advance(59)
    assert attempt(client, slug, email.upper(), PASSWORD)[:2] == (429, "1"), (
        "the same account whatever the case"
    )
    hands.advance(1)
    assert attempt(client, slug, email, "wrong again")[0] == 401
    assert attempt(client, slug, email, PASSWORD)[:2] == (429, "120"), "the sixth failure doubles the lock"
    hands.advance(120)
    assert attempt(client, slug, email, PASSWORD)[0] == 303
    assert attempt(client, slug, email, "one slip")[0] == 401, "a success clears the account's failures"
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("login failed")]
    refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("login refused")]
    assert len(failed) == 7 and len(refused) == 3
    assert f"email='{email}' address=testclient" in failed[0]


def test_a_client_address_is_locked_after_twenty_failures(
    engine: Engine, tenant: Tenant, hands: Hands
) -> None:
    slug = tenant.workspace.slug
    with TestClient(create_app(), client=("203.0.113.7", 5000)) as guesser:
        for n in range(20):
            assert attempt(guesser, slug, f"guess{n}@example.com", "x")[0] == 401
        assert attempt(guesser, slug, tenant.admin_email, PASSWORD)[:2] == (429, "60")
    with TestClient(create_app(), client=("198.51.100.2", 5000)) as other:
        assert attempt(other, slug, "guess0@example.com", "x")[0] == 401, "another address is not locked"


def test_unknown_accounts_and_workspaces_cost_a_password_check(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer's time must not tell whether an account exists: every failed login runs argon2 once."""
    checks: list[str] = []
    real = security.verify_password

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(security, "verify_password", counted)
    for slug, email, password in (
        (tenant.workspace.slug, tenant.admin_email, "known account"),
        (tenant.workspace.slug, "nobody@example.com", "unknown e-mail"),
        ("no-such-workspace", tenant.admin_email, "unknown workspace"),
    ):
        assert attempt(client, slug, email, password)[0] == 401
    assert checks == ["known account", "unknown e-mail", "unknown workspace"]
