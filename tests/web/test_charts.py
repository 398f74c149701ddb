"""Chart options carry the page's numbers faithfully: rounded, on honest axes, gaps left as gaps."""

from __future__ import annotations

from datetime import date

import pytest

from patron.dashboard.service import Kpi, TrendPoint
from patron.dashboard.tables import Column, DataTable
from patron.web import charts
from patron.web.templating import formatters


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
    series = charts.trend(points, "NPS", _t, "nps")["series"]
    assert series[0]["data"] == [10.0, -88.5], "the band starts at the lower bound"
    assert series[1]["data"] == [60.0, 143.6], "and is as high as the interval"
    assert [(d["value"], d["symbol"]) for d in series[2]["data"]] == [
        (40.0, "circle"),
        (-16.7, "emptyCircle"),
    ]


def test_a_band_below_zero_is_stacked_on_its_lower_bound_whatever_the_sign() -> None:
    """ECharts stacks a positive height on a negative base only with stackStrategy 'all' (its default,
    'samesign', drew this NPS band from 0 to 25 while the points sat at −3.5 and −100)."""
    points = [
        TrendPoint(date(2026, 6, 1), -1.3, -14.2, 11.6, 155, True),
        TrendPoint(date(2026, 9, 1), -3.5, -16.1, 9.1, 143, True),
        TrendPoint(date(2026, 10, 1), -100.0, -100.0, -100.0, 1, False),
    ]
    option = charts.trend(points, "NPS", _t, "nps")
    low, band = option["series"][0], option["series"][1]
    assert low["stack"] == band["stack"] and low["stackStrategy"] == band["stackStrategy"] == "all"
    assert low["data"] == [-14.2, -16.1, -100.0] and band["data"] == [25.8, 25.2, 0.0]
    tops = [lo + height for lo, height in zip(low["data"], band["data"], strict=True)]
    assert tops == pytest.approx([11.6, 9.1, -100.0]), "base + height is the upper bound, below zero too"
    assert option["yAxis"] == {"type": "value", "min": -100, "max": 25, "interval": 25}


def test_a_band_and_axis_never_leave_the_scale() -> None:
    """Two CES answers, 1 and 7: mean 4, s = 4.243, t(.975, 1) = 12.706 → 4 ± 38.1 = [−34.1, 42.1];
    on a 1–7 scale the band is 1…7 and so is the axis (it ran −20…40)."""
    points = [
        TrendPoint(date(2026, 11, 2), 5.3, 4.9, 5.7, 8, False),
        TrendPoint(date(2026, 11, 9), 4.0, -34.1, 42.1, 2, False),
    ]
    option = charts.trend(points, "CES", _t, "ces")
    assert option["series"][0]["data"] == [4.9, 1.0] and option["series"][1]["data"] == [0.8, 6.0]
    assert (option["yAxis"]["min"], option["yAxis"]["max"], option["yAxis"]["interval"]) == (1, 7, 1)
    rate = charts.trend(
        [TrendPoint(date(2026, 11, 1), 98.0, 90.0, 104.0, 40, True)], "RR", _t, "response_rate"
    )
    assert rate["series"][1]["data"] == [10.0] and rate["yAxis"]["max"] == 100


@pytest.mark.parametrize(
    ("numbers", "ends", "expected"),
    [
        ([-3.5, -16.1, 9.1], (-100, 100), (-20, 10, 10)),
        ([79.3, 100.0, 56.0], (0, 100), (50, 100, 10)),
        ([5.43, 5.07, 5.8], (1, 7), (5.0, 5.8, 0.2)),
        ([6.0, 7.0], (1, 7), (6.0, 7.0, 0.2)),
        ([None, None], (1, 7), (1, 7, None)),
        ([50.0], (0, 100), (45, 55, 5)),
    ],
)
def test_value_axes_stop_at_round_numbers_inside_the_scale(
    numbers: list[float | None], ends: tuple[float, float], expected: tuple[float, float, float | None]
) -> None:
    axis = charts.value_axis(numbers, ends)
    assert (axis["min"], axis["max"], axis.get("interval")) == expected


def test_the_period_under_way_is_a_hollow_point_on_a_dashed_line_labelled_to_date() -> None:
    points = [
        TrendPoint(date(2026, 10, 1), 34.0, 30.0, 38.0, 692, True),
        TrendPoint(date(2026, 11, 1), 30.7, 27.6, 33.8, 861, True),
        TrendPoint(date(2026, 12, 1), 0.0, 0.0, 65.8, 2, False, partial=True),
    ]
    option = charts.trend(points, "Response rate", _t, "response_rate")
    assert option["xAxis"]["data"] == ["2026-10-01", "2026-11-01", "2026-12-01\n(dash.to_date)"]
    solid, dashed = option["series"][2], option["series"][3]
    assert [d and d["value"] for d in solid["data"]] == [34.0, 30.7, None], "the solid line stops at November"
    assert [d and d["value"] for d in dashed["data"]] == [None, 30.7, 0.0] and dashed["lineStyle"][
        "type"
    ] == "dashed"
    assert dashed["data"][2]["symbol"] == "emptyCircle" and solid["name"] == dashed["name"], (
        "one legend entry"
    )
    table = DataTable("retention", "", [Column("period", "date"), Column("retention", "percent")],
                      [[date(2026, 11, 1), 51.1], [date(2026, 12, 1), None]], partial_rows={1})  # fmt: skip
    lines = charts.lines(table, [1], _t)
    assert (
        lines["xAxis"]["data"] == ["2026-11-01", "2026-12-01\n(dash.to_date)"] and len(lines["series"]) == 2
    )
    assert lines["series"][0]["itemStyle"] == lines["series"][1]["itemStyle"], (
        "the dashed end keeps its colour"
    )
    assert charts.trend(points[:2], "RR", _t, "response_rate")["series"][2:] == [
        charts.trend(points[:2], "RR", _t, "response_rate")["series"][2]
    ], "no dashed series when every period is complete"


def test_heatmap_leaves_small_cells_blank_and_split_sums_to_100() -> None:
    table = DataTable("heatmap", "", [Column("tp"), Column("2025-01", "score"), Column("2025-02", "score")],
                      [["relationship", 12.34, None], ["delivery", None, -5.0]])  # fmt: skip
    assert charts.heatmap(table)["series"][0]["data"] == [[0, 0, 12.3], [1, 1, -5.0]]
    parts = charts.split({"promoters": 5, "passives": 2, "detractors": 4}, _t)["series"]
    assert [p["data"][0] for p in parts] == [45.5, 18.2, 36.4]


def test_every_period_of_the_trend_is_on_the_axis_so_it_is_true_to_time() -> None:
    """NPS waves in March, June and September 2026 sit a quarter apart, with the months between as gaps that
    the line and band cross, not side by side."""
    waves = [
        TrendPoint(date(2026, m, 1), v, v - 12, v + 12, 150, True)
        for m, v in ((3, 9.8), (6, -1.3), (9, -3.5))
    ]
    months = [date(2026, m, 1) for m in range(1, 12)]
    option = charts.trend(waves, "NPS", _t, "nps", months)
    assert option["xAxis"]["data"] == [m.isoformat() for m in months]
    line = option["series"][2]
    assert [d and d["value"] for d in line["data"]] == [None, None, 9.8, None, None, -1.3, None, None, -3.5, None,
                                                        None]  # fmt: skip
    assert all(s["connectNulls"] for s in option["series"]), "the line and the band cross the gaps"
    partial = [*waves, TrendPoint(date(2026, 11, 1), 20.0, 0.0, 40.0, 3, False, partial=True)]
    dashed = charts.trend(partial, "NPS", _t, "nps", months)["series"][3]["data"]
    assert [i for i, d in enumerate(dashed) if d] == [8, 10], "to date, joined to September across October"


@pytest.mark.parametrize(
    ("change", "direction", "shown"),
    [
        (-0.04, "flat", "0.0"),
        (0.04, "flat", "0.0"),
        (-0.06, "down", "−0.1"),
        (2.2, "up", "+2.2"),
        (None, "none", "—"),
    ],
)
def test_a_change_that_rounds_to_zero_is_no_change(change: float | None, direction: str, shown: str) -> None:
    """The CSAT tile read "▼ −0.0 pp": the arrow followed the raw −0.04, the text its rounding."""
    k = Kpi("csat", 83.7, 81.0, 86.1, 809, True, 83.74, change, 0.98, False)
    assert k.direction == direction and k.tone == "neutral"
    assert formatters("en")["fixed"](change, 1, sign=True) == shown


def test_a_month_is_named_as_a_month_on_the_axis_and_in_the_table() -> None:
    """Monthly periods read 2026-11 / 2026年11月 / Nov 2026, not as their first day."""
    table = DataTable("retention", "", [Column("period", "month"), Column("retention", "percent")],
                      [[date(2026, 11, 1), 51.1], [date(2026, 12, 1), None]], partial_rows={1})  # fmt: skip
    assert charts.lines(table, [1], _t)["xAxis"]["data"] == ["2026-11", "2026-12\n(dash.to_date)"]
    waves = [TrendPoint(date(2026, 3, 1), 9.8, -2.2, 21.8, 150, True)]
    assert charts.trend(waves, "NPS", _t, "nps", grain="month")["xAxis"]["data"] == ["2026-03"]
    assert charts.trend(waves, "NPS", _t, "nps", grain="week")["xAxis"]["data"] == ["2026-03-01"]
    shown = {
        lang: formatters(lang)["cell"](date(2026, 11, 1), "month") for lang in ("zh-Hant", "zh-Hans", "en")
    }
    assert shown == {"zh-Hant": "2026年11月", "zh-Hans": "2026年11月", "en": "Nov 2026"}
    assert formatters("en")["cell"](date(2026, 11, 2), "date") == "Nov 2, 2026", "a day stays a day"
