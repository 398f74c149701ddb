"""The interactive API docs draw in a browser that can reach nothing but this server (an intranet)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.browser.conftest import ARTIFACTS


def test_api_docs_draw_without_internet(live_server: str, laptop: Any) -> None:
    page, ours = laptop, urlsplit(live_server).netloc
    elsewhere: list[str] = []

    def only_this_server(route: Any) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(f"{live_server}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Patron")
    page.wait_for_selector(".opblock-tag-section")
    assert page.locator(".opblock-tag-section").count() >= 5, "the operations are listed by tag"
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    assert elsewhere == [], f"the docs reached for another host: {elsewhere}"
    assert page.problems == [], page.problems
