"""A manager uses the dashboard in a real browser: zh-Hant overview, a period change through HTMX, a
breakdown, a CSV export and a customer's page; no console error or failed request anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from tests.browser.conftest import ARTIFACTS
from tests.dashboard.conftest import Dash, dash
from tests.web.conftest import PASSWORD

__all__ = ["dash"]
JAN_FEB = "period=custom&since=2025-01-01&until=2025-02-28"


def _log_in(page: Any, base: str, dash: Dash) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("工作區").fill(dash.slug)
    page.get_by_label("電子郵件").fill(dash.admin)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{base}/dashboard*")


def _tile(page: Any, name: str) -> str:
    return str(page.locator(f'[data-kpi="{name}"] .big').inner_text())


def test_a_manager_reads_the_dashboard(engine: Engine, live_server: str, laptop: Any, dash: Dash) -> None:
    page, name = laptop, engine.dialect.name
    _log_in(page, live_server, dash)
    page.goto(f"{live_server}/dashboard?{JAN_FEB}")
    assert page.locator("html").get_attribute("lang") == "zh-Hant"
    assert _tile(page, "nps") == "9.1" and _tile(page, "response_rate") == "50.0%"
    page.wait_for_function("document.querySelectorAll('[data-chart] canvas').length >= 4")
    page.screenshot(path=str(ARTIFACTS / f"dashboard-overview-{name}.png"), full_page=True)

    page.select_option("select[name=period]", "365d")  # HTMX swaps the content and keeps the URL in step
    page.wait_for_url("**/dashboard?period=365d*")
    page.wait_for_function(
        "document.querySelector('[data-kpi=csat] .big').innerText === '75.0%'"
    )  # 6 of 8: 5,4,3,2,5 + 4,4,4
    assert _tile(page, "nps") == "—", "no NPS answers in the last 12 months: a dash, not a 0"
    assert page.locator("select[name=period]").input_value() == "365d"

    page.get_by_role("link", name="細分").click()
    page.wait_for_url("**/dashboard/breakdowns?period=365d*")
    page.select_option("select[name=metric]", "csat")
    page.wait_for_url("**metric=csat*")
    page.wait_for_function("document.querySelector('#chart-breakdown canvas') !== null")
    page.screenshot(path=str(ARTIFACTS / f"dashboard-breakdown-{name}.png"), full_page=True)
    with page.expect_download() as download_info:
        page.locator('[data-table="breakdown"] a[data-export="csv"]').click()
    download = download_info.value
    assert download.suggested_filename.startswith("patron-breakdowns-breakdown-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("客群,CSAT 滿意度,")
    with page.expect_download() as png_info:
        page.locator('[data-png="chart-breakdown"]').click()
    assert png_info.value.suggested_filename == "patron-breakdown.png"

    page.goto(f"{live_server}/dashboard/responses?{JAN_FEB}&band=detractor")
    page.locator('a[href="/customers/M4"]').first.click()
    page.wait_for_url("**/customers/M4")
    assert page.locator("[data-responses]").inner_text() == "1"
    page.screenshot(path=str(ARTIFACTS / f"dashboard-customer-{name}.png"), full_page=True)
    assert page.problems == [], page.problems


def test_the_overview_fits_a_phone(engine: Engine, live_server: str, phone: Any, dash: Dash) -> None:
    _log_in(phone, live_server, dash)
    phone.goto(f"{live_server}/dashboard?{JAN_FEB}")
    phone.wait_for_function("document.querySelectorAll('[data-chart] canvas').length >= 4")
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "nothing is wider than the phone"
    phone.screenshot(path=str(ARTIFACTS / f"dashboard-phone-{engine.dialect.name}.png"), full_page=True)
    assert phone.problems == [], phone.problems
