"""The help centre and the chat widget on a phone, in three languages, in a real browser (screenshots in
test-artifacts/)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from tests.assistant.conftest import shop_with_entries
from tests.browser.conftest import ARTIFACTS
from tests.pg import free_port

HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>退貨"
ASKS = {
    "zh-Hant": ("如何申請退貨？", "收到商品七天內", "有幫助"),
    "zh-Hans": ("如何申请退货", "收到商品七天内", "有帮助"),
    "en": ("How do I return an item", "Open My orders within seven days", "Helpful"),
}


def _fits(page: Any) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "nothing is wider than the phone"


def test_help_centre_and_widget_on_a_phone(
    engine: Engine, tmp_path: Path, live_server: str, phone: Any
) -> None:
    shop = shop_with_entries(engine, tmp_path)
    base = f"{live_server}/help/{shop.workspace.slug}"
    dialogs: list[str] = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for locale, (question, answer, helpful) in ASKS.items():
        phone.goto(f"{base}?lang={locale}")
        _fits(phone)
        phone.locator("#help-q").fill(question)
        with phone.expect_navigation():
            phone.locator(".help-search button").click()
        assert answer in phone.locator("[data-answer]").inner_text()
        _fits(phone)
        phone.screenshot(path=str(ARTIFACTS / f"assistant-help-{locale}.png"), full_page=True)
        with phone.expect_navigation():
            phone.get_by_role("button", name=helpful, exact=True).click()
        assert phone.locator("[data-rated]").is_visible()

    phone.goto(f"{base}?lang=zh-Hant")
    phone.locator("#help-q").fill(HOSTILE)
    with phone.expect_navigation():
        phone.locator(".help-search button").click()
    assert phone.locator("[data-question]").inner_text() == HOSTILE, (
        "what the customer typed is shown as text"
    )
    assert dialogs == [] and phone.locator("img[src=x]").count() == 0

    # A shop's page on another origin embeds the widget with its one snippet.
    snippet = (f'<script src="{live_server}/static/assistant-widget.js" data-patron-help="{base}?embed=1" '
               'data-label="客服" data-lang="zh-Hant"></script>')  # fmt: skip
    html = f'<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><link rel="icon" href="data:,"><h1>Shop</h1>{snippet}'
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "index.html").write_text(html, encoding="utf-8")
    with _another_site(tmp_path / "shop") as shop_url:
        phone.goto(shop_url)
        _use_the_widget(phone)
    assert phone.context.cookies() == [], "no cookies, first- or third-party"
    assert phone.problems == []


@contextlib.contextmanager
def _another_site(folder: Path) -> Iterator[str]:
    """The shop's own site: another origin (another port) on loopback."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def _use_the_widget(phone: Any) -> None:
    phone.get_by_role("button", name="客服").click()
    phone.locator("iframe").wait_for()
    frame = phone.locator("iframe").element_handle().content_frame()
    frame.wait_for_load_state()
    frame.locator("#help-q").fill("可以寄到月球嗎")
    with frame.expect_navigation():
        frame.locator(".help-search button").click()
    frame.locator("#ho-email").fill("amy@example.com")
    with frame.expect_navigation():
        frame.get_by_role("button", name="送出，請專人回覆").click()
    assert frame.locator("[data-new]").inner_text().startswith("已收到您的問題")
    phone.screenshot(path=str(ARTIFACTS / "assistant-widget-zh-Hant.png"))
