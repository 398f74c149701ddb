"""The Customer value and Churn risk tabs and the customer page's scores in a real browser, in each language:
figures, charts drawn, no console error or failed request, a screenshot of each in test-artifacts/ (the world
of tests/dashboard/test_value_churn.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from tests.browser.conftest import ARTIFACTS
from tests.dashboard.test_value_churn import World
from tests.dashboard.test_value_churn import world as world  # the fixture
from tests.web.conftest import PASSWORD

TITLES = {"value": {"zh-Hant": "顧客價值", "zh-Hans": "客户价值", "en": "Customer value"},
          "churn": {"zh-Hant": "流失風險", "zh-Hans": "流失风险", "en": "Churn risk"}}  # fmt: skip


def _log_in(page: Any, live_server: str, world: World) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(world.workspace.slug)
    page.get_by_label("電子郵件").fill(world.viewer)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")


def _shot(page: Any, name: str, engine: Engine) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}-{engine.dialect.name}.png"), full_page=True)


def test_the_value_tab_and_customer_scores_in_three_languages(
    engine: Engine, live_server: str, laptop: Any, world: World, tmp_path: Path
) -> None:
    page = laptop
    _log_in(page, live_server, world)
    for language in ("zh-Hant", "zh-Hans", "en"):
        page.goto(f"{live_server}/dashboard/value?lang={language}")
        assert page.locator('nav.tabs [aria-current="page"]').inner_text() == TITLES["value"][language]
        assert page.locator('[data-kpi="customers"] .big').inner_text() == "5"
        assert page.locator('[data-kpi="total"]').get_attribute("data-value") == "15145.00"
        assert page.locator("[data-model]").get_attribute("data-model") == world.clv_version
        page.wait_for_function("document.querySelectorAll('[data-chart] canvas').length >= 2")
        _shot(page, f"dashboard-value-{language}", engine)
        page.goto(f"{live_server}/customers/C?lang={language}")
        assert page.locator('[data-metric="risk"]').get_attribute("data-value") == "0.9000"
        assert page.locator("[data-reasons] li").count() == 2
        page.locator("[data-value-scores]").scroll_into_view_if_needed()
        _shot(page, f"customer-scores-{language}", engine)
    download = page.expect_download
    page.goto(f"{live_server}/dashboard/value?lang=en")
    with download() as info:
        page.locator('#table-top [data-export="csv"]').click()
    assert Path(info.value.path()).read_text(encoding="utf-8-sig").splitlines()[1].startswith("A,")
    assert page.problems == []


def test_the_churn_tab_in_three_languages(
    engine: Engine, live_server: str, laptop: Any, world: World
) -> None:
    page = laptop
    _log_in(page, live_server, world)
    for language in ("zh-Hant", "zh-Hans", "en"):
        page.goto(f"{live_server}/dashboard/churn?lang={language}")
        assert page.locator('nav.tabs [aria-current="page"]').inner_text() == TITLES["churn"][language]
        assert page.locator('[data-kpi="customers"] .big').inner_text() == "5"
        assert page.locator('[data-kpi="auc"]').get_attribute("data-trust") == "fair"
        assert page.locator("#table-at_risk tbody tr").count() == 5
        page.wait_for_function("document.querySelectorAll('[data-chart] canvas').length >= 3")
        _shot(page, f"dashboard-churn-{language}", engine)
    assert page.problems == []
