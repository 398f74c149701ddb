"""Chart options carry the page's numbers faithfully: rounded, on honest axes, gaps left as gaps."""

from __future__ import annotations

from datetime import date

from patron.dashboard.service import Kpi, TrendPoint
from patron.dashboard.tables import Column, DataTable
from patron.web import charts


def _t(code: str, **_: object) -> str:
    return code


def test_bars_use_the_whole_scale_and_grey_out_small_samples() -> None:
    rows = [Kpi("csat", 80.56, 78.0, 83.0, 900, True), Kpi("csat", 79.44, 70.0, 88.0, 12, False)]
    option = charts.bars(["tea", "coffee"], rows, "CSAT", "csat")
    assert option["xAxis"] == {"type": "value", "min": 0, "max": 100}, (
        "no zoom that turns 1 point into a wall"
    )
    assert [d["value"] for d in option["series"][0]["data"]] == [80.6, 79.4]
    assert [d["itemStyle"]["color"] for d in option["series"][0]["data"]] == [charts.ACCENT, charts.GREY]
    assert charts.bars(["x"], rows[:1], "NPS", "nps")["xAxis"]["min"] == -100


def test_trend_band_is_the_interval_and_thin_periods_are_hollow() -> None:
    points = [
        TrendPoint(date(2025, 1, 1), 40.0, 10.0, 70.0, 50, True),
        TrendPoint(date(2025, 2, 1), -16.67, -88.5, 55.1, 6, False),
    ]
    series = charts.trend(points, "NPS", _t)["series"]
    assert series[0]["data"] == [10.0, -88.5], "the band starts at the lower bound"
    assert series[1]["data"] == [60.0, 143.6], "and is as high as the interval"
    assert [(d["value"], d["symbol"]) for d in series[2]["data"]] == [
        (40.0, "circle"),
        (-16.7, "emptyCircle"),
    ]


def test_heatmap_leaves_small_cells_blank_and_split_sums_to_100() -> None:
    table = DataTable("heatmap", "", [Column("tp"), Column("2025-01", "score"), Column("2025-02", "score")],
                      [["relationship", 12.34, None], ["delivery", None, -5.0]])  # fmt: skip
    assert charts.heatmap(table)["series"][0]["data"] == [[0, 0, 12.3], [1, 1, -5.0]]
    parts = charts.split({"promoters": 5, "passives": 2, "detractors": 4}, _t)["series"]
    assert [p["data"][0] for p in parts] == [45.5, 18.2, 36.4]
