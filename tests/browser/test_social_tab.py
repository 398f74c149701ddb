"""The Social tab in a real browser, in each language: the daily chart drawn, the KPIs, the reply queue; an admin
marks a post handled with a note and it leaves the open queue; no console error or failed request; a screenshot
of each language in test-artifacts/ (the items of tests/dashboard/test_social_tab.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from tests.browser.conftest import ARTIFACTS
from tests.dashboard.test_social_tab import WINDOW, build_social
from tests.web.conftest import PASSWORD

LANGUAGES = (
    ("zh-Hant", "社群聆聽", "標記為已處理"),
    ("zh-Hans", "社交聆听", "标记为已处理"),
    ("en", "Social", "Mark handled"),
)


def test_the_social_tab_in_three_languages(engine: Engine, live_server: str, laptop: Any) -> None:
    world = build_social(engine)
    page = laptop
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(world.workspace.slug)
    page.get_by_label("電子郵件").fill(world.admin)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")
    for language, title, handle in LANGUAGES:
        page.goto(f"{live_server}/dashboard/social?{WINDOW}&lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator('nav.tabs [aria-current="page"]').inner_text() == title
        assert page.locator('[data-kpi="mentions"]').get_attribute("data-value") == "5"
        page.wait_for_function("document.querySelectorAll('#chart-daily canvas').length >= 1")
        assert page.locator("[data-queue-item]").count() == 3
        assert page.get_by_role("button", name=handle).count() == 3
        page.screenshot(
            path=str(ARTIFACTS / f"dashboard-social-{language}-{engine.dialect.name}.png"), full_page=True
        )
    b = world.ids["b"]
    item = page.locator(f'[data-queue-item="{b}"]')
    item.get_by_label("Note").fill("Refunded the order")
    with page.expect_navigation():
        item.get_by_role("button", name="Mark handled").click()
    assert page.url.endswith(f"/dashboard/social?{WINDOW}&lang=en") or "/dashboard/social?" in page.url
    assert page.locator("[data-queue-item]").count() == 2
    assert page.locator(f'[data-queue-item="{b}"]').count() == 0
    page.select_option('select[name="state"]', "handled")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    assert "Refunded the order" in page.locator(f'[data-queue-item="{b}"]').inner_text()
    assert page.problems == [], page.problems
