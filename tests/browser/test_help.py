"""A metric's "?" opens its definition by touch and by keyboard, inside the screen; a table header's "?" leads
to the column's definition under the table."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from patron.core.i18n import translate
from tests.browser.conftest import ARTIFACTS
from tests.dashboard.conftest import Dash, dash
from tests.web.conftest import PASSWORD

__all__ = ["dash"]
ALL = "period=custom&since=2025-01-01&until=2026-11-30"


def _log_in(page: Any, base: str, dash: Dash) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=workspace]", dash.slug)
    page.fill("input[name=email]", dash.admin)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard*")


def _inside_the_screen(page: Any, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box, width)


def test_definitions_open_by_touch_and_keyboard(
    engine: Engine, live_server: str, phone: Any, dash: Dash
) -> None:
    _log_in(phone, live_server, dash)
    phone.goto(f"{live_server}/dashboard?{ALL}")
    nps = phone.locator('[data-kpi="nps"] details.help')
    assert not phone.locator('[data-kpi="nps"] .help-body').is_visible()
    nps.locator("summary").tap()
    body = phone.locator('[data-kpi="nps"] .help-body')
    assert body.is_visible() and body.inner_text() == translate("help.nps", "zh-Hant")
    _inside_the_screen(phone, '[data-kpi="nps"] .help-body')
    phone.screenshot(path=str(ARTIFACTS / "help-nps-phone.png"))
    nps.locator("summary").tap()
    assert not body.is_visible(), "a second tap closes it"

    phone.locator('[data-kpi="csat"] summary').focus()
    phone.keyboard.press("Enter")
    assert phone.locator('[data-kpi="csat"] .help-body').is_visible(), "Enter opens it"
    _inside_the_screen(phone, '[data-kpi="csat"] .help-body')

    phone.goto(f"{live_server}/dashboard/retention?{ALL}")
    crr = translate("ret.crr", "zh-Hant")
    phone.locator(f'th:has-text("{crr}") a.help-link').tap()
    phone.wait_for_url("**#def-retention-4")
    definition = phone.locator("#def-retention-4")
    assert definition.is_visible() and translate("help.crr", "zh-Hant") in definition.inner_text()
    assert definition.evaluate("e => e.getBoundingClientRect().top < window.innerHeight"), "scrolled to it"
    assert phone.problems == [], phone.problems
