"""Comments with their sentiment and themes in a real browser, in each language: the Responses page and the
customer page (its responses and its feedback items from every channel), on a laptop and on a phone; no console
error or failed request, and screenshots in test-artifacts/ (the world of tests/dashboard/test_comment_analysis.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from tests.browser.conftest import ARTIFACTS
from tests.dashboard.conftest import Dash, dash
from tests.dashboard.test_comment_analysis import LATE, NOT_ANALYSED, SHOWN, _world
from tests.web.conftest import PASSWORD

__all__ = ["dash"]


def _log_in(page: Any, base: str, dash: Dash) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("工作區").fill(dash.slug)
    page.get_by_label("電子郵件").fill(dash.admin)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{base}/dashboard*")


def _chips(page: Any, scope: str) -> list[list[str]]:
    """What each analysis in ``scope`` reads, as the browser renders it."""
    found: list[list[str]] = page.locator(f"{scope} [data-analysis]").evaluate_all(
        "nodes => nodes.map(n => Array.from(n.querySelectorAll('.score')).map(c => c.innerText.trim()))"
    )
    return found


def test_comments_show_sentiment_and_themes_in_three_languages(
    engine: Engine, live_server: str, laptop: Any, phone: Any, dash: Dash
) -> None:
    _world(engine, dash)
    name = engine.dialect.name
    _log_in(laptop, live_server, dash)
    for language in ("zh-Hant", "zh-Hans", "en"):
        page = laptop
        page.goto(f"{live_server}/dashboard/responses?period=7d&lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        assert _chips(page, "ul.responses") == [[NOT_ANALYSED[language]], SHOWN[language]]
        negative = page.locator('[data-theme="food_quality"]').first
        assert negative.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(253, 231, 230)"
        page.locator('[data-table="responses"]').screenshot(
            path=str(ARTIFACTS / f"responses-comment-analysis-{language}-{name}.png")
        )
        page.goto(f"{live_server}/customers/V1?lang={language}")
        assert _chips(page, "#feedback") == [SHOWN[language], LATE[language]]
        page.locator("#responses").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"customer-feedback-{language}-{name}.png"), full_page=True)
        page.locator("#feedback").screenshot(
            path=str(ARTIFACTS / f"customer-feedback-items-{language}-{name}.png")
        )
    # On a phone the chips wrap inside the page: nothing sticks out sideways.
    _log_in(phone, live_server, dash)
    phone.goto(f"{live_server}/customers/V1?lang=zh-Hant")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.locator("#feedback").screenshot(path=str(ARTIFACTS / f"customer-feedback-phone-zh-Hant-{name}.png"))
    assert laptop.problems == [] and phone.problems == []
