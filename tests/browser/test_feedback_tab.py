"""The Feedback tab in a real browser, in each language: its figures, its charts drawn, the click-through to a
theme's comments, no console error or failed request, and a screenshot of each in test-artifacts/ (the comments
of tests/dashboard/test_feedback.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from tests.browser.conftest import ARTIFACTS
from tests.dashboard.test_feedback import WINDOW, build_feedback
from tests.web.conftest import PASSWORD

LANGUAGES = (
    ("zh-Hant", "顧客回饋", "餐點品質"),
    ("zh-Hans", "顾客反馈", "餐点质量"),
    ("en", "Feedback", "Food quality"),
)


def test_the_feedback_tab_in_three_languages(engine: Engine, live_server: str, laptop: Any) -> None:
    shop = build_feedback(engine)
    page = laptop
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(shop.workspace.slug)
    page.get_by_label("電子郵件").fill(shop.viewer)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")
    for language, title, food in LANGUAGES:
        page.goto(f"{live_server}/dashboard/feedback?{WINDOW}&lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator('nav.tabs [aria-current="page"]').inner_text() == title
        assert page.locator('[data-kpi="items"] .big').inner_text() == "6"
        page.wait_for_function("document.querySelectorAll('[data-chart] canvas').length >= 3")
        page.screenshot(
            path=str(ARTIFACTS / f"dashboard-feedback-{language}-{engine.dialect.name}.png"), full_page=True
        )
        page.locator('tr[data-theme="food_quality"] a').click()
        page.wait_for_url("**theme=food_quality**")
        assert page.locator("[data-comments]").get_attribute("data-comments") == "2"
        assert food in page.locator("#comments h2").inner_text()
        page.locator("#comments").screenshot(
            path=str(ARTIFACTS / f"dashboard-feedback-comments-{language}-{engine.dialect.name}.png")
        )
    assert page.problems == []
