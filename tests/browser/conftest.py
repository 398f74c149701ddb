"""A live server on loopback and Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.engine import Engine

from patron.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: The live servers' latest requests in this process: when each began and ended, with status and seconds.
REQUEST_LOG: deque[str] = deque(maxlen=80)


class _LoggedRequests:
    """ASGI wrapper that writes each request's start and end to ``REQUEST_LOG`` (one that never ends shows)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        began, status, what = time.monotonic(), [], f"{scope['method']} {scope['path']}"
        REQUEST_LOG.append(f"{time.strftime('%H:%M:%S')} began {what}")

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.monotonic() - began
            REQUEST_LOG.append(f"{time.strftime('%H:%M:%S')} ended {what} {status[:1]} {seconds:.2f} s")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """A browser wait that timed out shows where every thread of this process (the live server's too) stood at
    that moment: a slow page and a stuck lock look the same from the browser."""
    report = yield
    if call.excinfo is not None and call.excinfo.typename == "TimeoutError":
        stacks = [
            f"--- thread {thread_id}\n" + "".join(traceback.format_stack(frame))
            for thread_id, frame in sys._current_frames().items()
        ]
        report.sections.append(("threads when the wait timed out", "\n".join(stacks)))
        report.sections.append(("the live servers' latest requests", "\n".join(REQUEST_LOG)))
        for name, page in item.funcargs.items():  # type: ignore[attr-defined]
            if hasattr(page, "problems") and not page.is_closed():
                report.sections.append((f"what {name} showed ({page.url})", _visible_text(page)))
        # A rerun that passes hides its first report: the sections are kept in test-artifacts/ too.
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"timed-out-{item.name}-{os.getpid()}.txt".replace("/", "_")).write_text(
            "\n\n".join(f"== {title}\n{text}" for title, text in report.sections), encoding="utf-8"
        )
    return report


def _visible_text(page: Any) -> str:
    try:
        return str(page.locator("body").inner_text(timeout=5000))[:3000]
    except Exception as error:  # a report must not fail on the page it describes
        return f"(unreadable: {error})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A browser test whose wait timed out runs once more, and the rerun is reported ("R" and "rerun" in the
    summary). On a loaded two-core CI machine a page now and then takes over 30 s (the browser, the live
    server and PostgreSQL share the cores); three CI runs each had one or two such timeouts, each in another
    test, none reproducible idle or under a local CPU burner. Any other failure, or a second timeout, fails."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=["TimeoutError"]))


@pytest.fixture
def live_server(engine: Engine) -> Iterator[str]:
    # The socket is bound here and handed over: a port found free and bound later by uvicorn was once taken in
    # between by another connection's ephemeral port (CI, "address already in use").
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = int(listening.getsockname()[1])
    app = _LoggedRequests(create_app())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a loaded CI machine has taken over 15 s
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    listening.close()


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
