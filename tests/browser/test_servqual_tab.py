"""The SERVQUAL tab in a real browser, in each language: the score, its chart drawn, the items table sorted by
gap, no console error or failed request, and a screenshot of each in test-artifacts/ (the respondents of
tests/surveys/test_servqual.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from tests.browser.conftest import ARTIFACTS
from tests.surveys.test_servqual import WINDOW, build_world
from tests.web.conftest import PASSWORD

LANGUAGES = (
    ("zh-Hant", "回應性", "−0.45"),
    ("zh-Hans", "响应性", "−0.45"),
    ("en", "Responsiveness", "−0.45"),
)


def test_the_servqual_tab_in_three_languages(engine: Engine, live_server: str, laptop: Any) -> None:
    workspace = build_world(engine)
    viewer = f"viewer@{workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=workspace.id, email=viewer, password=PASSWORD, role="viewer"
        )
    page = laptop
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(workspace.slug)
    page.get_by_label("電子郵件").fill(viewer)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")
    for language, responsiveness, score in LANGUAGES:
        page.goto(f"{live_server}/dashboard/servqual?{WINDOW}&partial=1&lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator('nav.tabs [aria-current="page"]').inner_text() == "SERVQUAL"
        assert page.locator('[data-kpi="servqual"] .big').inner_text() == score
        assert page.locator('[data-kpi="worst"] .big').inner_text() == responsiveness
        assert page.locator("[data-small-sample]").is_visible()
        first_item = page.locator('[data-table="items"] tbody tr').first.locator("td").first.inner_text()
        assert first_item == "S1"
        page.wait_for_function("document.querySelectorAll('[data-chart] canvas').length >= 1")
        page.screenshot(
            path=str(ARTIFACTS / f"dashboard-servqual-{language}-{engine.dialect.name}.png"), full_page=True
        )
    assert page.problems == []
