"""The Assistant tab in a real browser with the demo's history: its tiles, chart and gaps in three languages, a
waiting hand-over opened from the list, no console error or failed request; screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from patron.demo.assistant import load_assistant
from tests.browser.conftest import ARTIFACTS
from tests.web.conftest import PASSWORD, make_tenant

TITLES = {"zh-Hant": "智慧客服", "zh-Hans": "智能客服", "en": "Assistant"}
WINDOW = "period=custom&since=2026-10-02&until=2026-10-31"


def test_the_assistant_tab_in_three_languages(
    engine: Engine, live_server: str, laptop: Any, tmp_path: Path
) -> None:
    tenant = make_tenant(engine, tmp_path)
    assert load_assistant(engine, slug=tenant.workspace.slug, end=date(2026, 10, 31), seed=7) is not None
    page = laptop
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(tenant.workspace.slug)
    page.get_by_label("電子郵件").fill(tenant.admin_email)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")
    for language, title in TITLES.items():
        page.goto(f"{live_server}/dashboard/assistant?{WINDOW}&lang={language}")
        assert page.locator('nav.tabs [aria-current="page"]').inner_text() == title
        assert int(page.locator('[data-kpi="questions"]').get_attribute("data-value")) > 0
        assert page.locator("[data-gap]").count() > 0
        page.wait_for_function("document.querySelectorAll('[data-chart] canvas').length >= 1")
        page.screenshot(path=str(ARTIFACTS / f"dashboard-assistant-{language}.png"), full_page=True)
        page.locator("#gaps").screenshot(path=str(ARTIFACTS / f"dashboard-assistant-gaps-{language}.png"))
    page.locator("[data-waiting] tbody a").first.click()
    page.wait_for_url("**/dashboard/assistant/conversations/*")
    assert page.locator("[data-author=customer]").count() == 1
    page.screenshot(path=str(ARTIFACTS / "dashboard-assistant-conversation-en.png"), full_page=True)
    assert page.problems == []
