"""A live server on loopback and Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.engine import Engine

from patron.web.app import create_app
from tests.pg import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def live_server(engine: Engine) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("PATRON_REQUIRE_BROWSER"):
            pytest.fail("Chromium is missing but PATRON_REQUIRE_BROWSER is set (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _watched(context: Any) -> Any:
    """A page that records console errors, page errors and failed requests in ``page.problems``."""
    page = context.new_page()
    page.problems = []
    page.on(
        "console",
        lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    # A request the browser itself aborted because the page navigated on (net::ERR_ABORTED) is not a failure.
    page.on(
        "requestfailed",
        lambda r: (
            None
            if "ERR_ABORTED" in (r.failure or "")
            else page.problems.append(f"request failed: {r.url} {r.failure}")
        ),
    )
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on(
        "response",
        lambda r: page.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 500 else None,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    return page


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A phone-sized page in Traditional Chinese that records console errors and failed requests."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                   has_touch=True, locale="zh-TW")  # fmt: skip
    yield _watched(context)
    context.close()


@pytest.fixture
def laptop(chromium: Any) -> Iterator[Any]:
    """A laptop-sized page in Traditional Chinese that records problems, and accepts downloads."""
    context = chromium.new_context(
        viewport={"width": 1366, "height": 900}, locale="zh-TW", accept_downloads=True
    )
    yield _watched(context)
    context.close()
