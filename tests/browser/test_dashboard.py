"""A manager uses the dashboard in a real browser: zh-Hant overview, a period change through HTMX, a
breakdown, a CSV export and a customer's page; no console error or failed request anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from patron.metrics import service as metrics
from patron.metrics.engine import MetricQuery
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
  const scale = chart.getModel().getComponent("yAxis", 0).axis.scale;
  return [[0, 1].map(i => [data.get(base, i), data.get(top, i)]), scale.getExtent(), scale.getInterval()]; }"""


def _off_grid(value: float, interval: float) -> float:
    """A value at least 3 units from the axis' grid lines, whose grey would hide the band (or its absence)."""
    near = round(value / interval) * interval
    return value if abs(value - near) >= 3 else near + (3 if value >= near else -3)


def test_a_band_below_zero_is_drawn_around_its_points(
    engine: Engine, live_server: str, laptop: Any, dash: Dash
) -> None:
    """NPS in January 2025 (+40 of 5 answers) and February (−16.7 of 6): both intervals reach below zero.
    ECharts' default stacking drew those bands from 0 up (to 130.1 and 143.6 with the Wald interval); drawn
    right, each runs from the engine's lower to its upper bound (clipped to −100…100)."""
    query = MetricQuery("nps", grain="month", since=metrics.parse_day("2025-01-01"),
                        until=metrics.parse_day("2025-02-28"))  # fmt: skip
    rows = metrics.run(dash.workspace_id, query, "en").rows
    bounds = [[round(max(r.ci_low or 0, -100), 1), round(min(r.ci_high or 0, 100), 1)] for r in rows]
    assert len(bounds) == 2 and all(low < 0 for low, _ in bounds), bounds
    page = laptop
    _log_in(page, live_server, dash)
    page.goto(f"{live_server}/dashboard?{JAN_FEB}&lang=en")
    page.wait_for_function("document.querySelector('#chart-trend-nps canvas') !== null")
    drawn, extent, interval = page.evaluate(BAND, "chart-trend-nps")
    assert drawn == bounds, "drawn from the lower to the upper bound"
    assert -100 <= extent[0] <= min(low for low, _ in bounds) and extent[1] <= 100
    # Half-way between the months the band runs between the means of the bounds: the band's colour inside
    # (#2f6f5e at 15 % opacity on a transparent canvas), nothing 10 below and 10 above it.
    low, high = (bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2
    values = [(low + high) / 2, max(low - 10, extent[0] + 2), min(high + 10, extent[1] - 2)]
    inside, below, above = (page.evaluate(PIXEL, ["chart-trend-nps", _off_grid(v, interval)]) for v in values)
    assert all(abs(got - want) <= 6 for got, want in zip(inside[:3], (47, 111, 94), strict=True)), inside
    assert 30 <= inside[3] <= 45 and below[3] == above[3] == 0, (values, inside, below, above)
    page.screenshot(
        path=str(ARTIFACTS / f"dashboard-negative-band-{engine.dialect.name}.png"), full_page=True
    )
    assert page.problems == [], page.problems
