"""The Drivers tab in a real browser, in each language: the impact × frequency chart drawn, the table, the sample
warning, no console error or failed request, and a screenshot of each in test-artifacts/ (the responses of
tests/feedback/test_drivers.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from tests.browser.conftest import ARTIFACTS
from tests.feedback.test_drivers import build_drivers
from tests.web.conftest import PASSWORD

WINDOW = "period=custom&since=2026-11-01&until=2026-11-23&survey=drv"
LANGUAGES = (("zh-Hant", "驅動因素", "配送"), ("zh-Hans", "驱动因素", "配送"), ("en", "Drivers", "Delivery"))


def test_the_drivers_tab_in_three_languages(engine: Engine, live_server: str, laptop: Any) -> None:
    world = build_drivers(engine)
    page = laptop
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(world.workspace.slug)
    page.get_by_label("電子郵件").fill(world.viewer)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")
    for language, title, delivery in LANGUAGES:
        page.goto(f"{live_server}/dashboard/drivers?{WINDOW}&lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator('nav.tabs [aria-current="page"]').inner_text() == title
        assert page.locator("[data-small-sample]").get_attribute("data-small-sample") == "39"
        page.wait_for_function("document.querySelectorAll('#chart-drivers canvas').length >= 1")
        rows = page.locator('[data-table="drivers"] tbody tr')
        assert rows.count() == 3 and delivery in page.locator('[data-table="drivers"]').inner_text()
        page.screenshot(
            path=str(ARTIFACTS / f"dashboard-drivers-{language}-{engine.dialect.name}.png"), full_page=True
        )
    page.select_option('select[name="outcome"]', "detractor")
    page.locator("[data-method]").filter(has_text="0/1").wait_for()
    assert page.problems == []
