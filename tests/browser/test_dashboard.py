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
    assert _tile(page, "csat") == "—", (
        "the CSAT answers came in today, which is not over: not in 365 whole days"
    )
    page.get_by_label("納入今天與尚未結束的週或月").check()
    page.wait_for_url("**/dashboard?period=365d*partial=1*")
    page.wait_for_function(
        "document.querySelector('[data-kpi=csat] .big').innerText === '75.0%'"
    )  # 6 of 8: 5,4,3,2,5 + 4,4,4
    assert _tile(page, "nps") == "—", "no NPS answers in the last 12 months: a dash, not a 0"
    assert page.locator("select[name=period]").input_value() == "365d"
    assert page.locator(".period-note[data-partial]").count() == 1, "the page says it is to date"

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


#: The text of a cell, not the cell: where a header's words end against where its numbers end.
TEXT_BOX = """cell => { const range = document.createRange(); range.selectNodeContents(cell);
                       const box = range.getBoundingClientRect(); return [box.left, box.right]; }"""


def test_numbers_sit_under_their_headers(engine: Engine, live_server: str, laptop: Any, dash: Dash) -> None:
    """In every numeric column a header's text ends where its numbers end (it began at the cell's left, so the
    heat map's values sat under the next month)."""
    page = laptop
    _log_in(page, live_server, dash)
    checked = 0
    for path, table in [("/dashboard", "trend"), ("/dashboard", "kpis"), ("/dashboard/breakdowns", "heatmap"),
                        ("/dashboard/breakdowns", "breakdown"), ("/dashboard/surveys", "surveys")]:  # fmt: skip
        page.goto(f"{live_server}{path}?{JAN_FEB}")
        headers = page.locator(f'[data-table="{table}"] thead th')
        first_row = page.locator(f'[data-table="{table}"] tbody tr').first.locator("td")
        for i in range(headers.count()):
            cell = first_row.nth(i)
            if "num" not in (cell.get_attribute("class") or ""):
                continue
            header_box, cell_box = headers.nth(i).evaluate(TEXT_BOX), cell.evaluate(TEXT_BOX)
            assert abs(header_box[1] - cell_box[1]) <= 1.5, (table, i, header_box, cell_box)
            checked += 1
    assert checked >= 20, checked
    assert page.problems == [], page.problems


#: The colour on the chart's canvas at a point between two categories, at a value of the y axis.
PIXEL = """([id, value]) => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const [x0] = chart.convertToPixel({xAxisIndex: 0, yAxisIndex: 0}, [0, value]);
  const [x1, y] = chart.convertToPixel({xAxisIndex: 0, yAxisIndex: 0}, [1, value]);
  const canvas = chart.getDom().querySelector("canvas"), ratio = canvas.width / canvas.clientWidth;
  return Array.from(canvas.getContext("2d").getImageData(Math.round((x0 + x1) / 2 * ratio),
                                                         Math.round(y * ratio), 1, 1).data);
}"""
BAND = """id => { const chart = echarts.getInstanceByDom(document.getElementById(id));
  const data = chart.getModel().getSeriesByIndex(1).getData();
  const top = data.getCalculationInfo("stackResultDimension"), base = data.getCalculationInfo("stackedOverDimension");
  return [[0, 1].map(i => [data.get(base, i), data.get(top, i)]),
          chart.getModel().getComponent("yAxis", 0).axis.scale.getExtent()]; }"""


def test_a_band_below_zero_is_drawn_around_its_points(
    engine: Engine, live_server: str, laptop: Any, dash: Dash
) -> None:
    """January 2025: NPS +40 of 5 answers, interval 40 ± 70.1 = [−30.1, 110.1], clipped to 100; February:
    −16.7 of 6, [−88.5, 55.1]. ECharts' default stacking drew both bands from 0 (to 130.1 and 143.6)."""
    page = laptop
    _log_in(page, live_server, dash)
    page.goto(f"{live_server}/dashboard?{JAN_FEB}&lang=en")
    page.wait_for_function("document.querySelector('#chart-trend-nps canvas') !== null")
    (january, february), extent = page.evaluate(BAND, "chart-trend-nps")
    assert january == [-30.1, 100.0] and february == [-88.5, 55.1], "drawn from the lower to the upper bound"
    assert extent == [-100, 100]
    # Half-way between the months the band runs from −59.3 to 77.55: the band's colour at −40 (#2f6f5e at 15 %
    # opacity on a transparent canvas), nothing at −75 and 90.
    inside, below, above = (page.evaluate(PIXEL, ["chart-trend-nps", value]) for value in (-40, -75, 90))
    assert all(abs(got - want) <= 6 for got, want in zip(inside[:3], (47, 111, 94), strict=True)), inside
    assert 30 <= inside[3] <= 45 and below[3] == above[3] == 0, (inside, below, above)
    page.screenshot(
        path=str(ARTIFACTS / f"dashboard-negative-band-{engine.dialect.name}.png"), full_page=True
    )
    assert page.problems == [], page.problems
