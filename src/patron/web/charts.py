"""ECharts options for the dashboard's charts, built from the dashboard's views.

Options are plain JSON, rendered by static/dashboard.js with the vendored ECharts (no CDN). Values are
rounded here; a point below the minimum sample is drawn hollow so a thin month never looks like a verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from patron.dashboard.service import Kpi, TrendPoint
from patron.dashboard.tables import DataTable
from patron.metrics.benchmarks import Benchmark

ACCENT, GREY, GOOD, BAD, PASSIVE = "#2f6f5e", "#9aa7b0", "#2e7d32", "#b3261e", "#f0b429"
Translate = Callable[..., str]


def _round(value: object, digits: int = 1) -> float | None:
    """A number rounded for a chart; anything else (a gap) is None."""
    return (
        round(float(value), digits)
        if isinstance(value, float | int) and not isinstance(value, bool)
        else None
    )


def _base(**extra: Any) -> dict[str, Any]:
    return {"animation": False, "grid": {"left": 48, "right": 16, "top": 36, "bottom": 32, "containLabel": True},
            "tooltip": {"trigger": "axis"}, **extra}  # fmt: skip


def trend(points: Sequence[TrendPoint], label: str, t: Translate) -> dict[str, Any]:
    """The metric by period with its 95 % interval as a band."""
    periods = [p.period.isoformat() for p in points]
    low = [_round(p.ci_low) for p in points]
    band = [None if p.ci_low is None or p.ci_high is None else round(p.ci_high - p.ci_low, 1) for p in points]
    values = [
        {"value": _round(p.value), "symbol": "circle" if p.sufficient else "emptyCircle", "symbolSize": 7}
        for p in points
    ]
    return _base(
        legend={"data": [label, t("dash.ci95")], "top": 0},
        xAxis={"type": "category", "data": periods},
        yAxis={"type": "value", "scale": True},
        series=[
            {"name": "low", "type": "line", "data": low, "stack": "ci", "lineStyle": {"opacity": 0},
             "symbol": "none", "tooltip": {"show": False}, "silent": True},
            {"name": t("dash.ci95"), "type": "line", "data": band, "stack": "ci", "lineStyle": {"opacity": 0},
             "symbol": "none", "areaStyle": {"color": ACCENT, "opacity": 0.15}, "silent": True,
             "tooltip": {"show": False}, "itemStyle": {"color": ACCENT}},
            {"name": label, "type": "line", "data": values, "itemStyle": {"color": ACCENT}, "connectNulls": False},
        ],
    )  # fmt: skip


def split(parts: dict[str, int], t: Translate) -> dict[str, Any]:
    total = sum(parts.values())
    colours = {"promoters": GOOD, "passives": PASSIVE, "detractors": BAD}
    return _base(
        tooltip={"trigger": "item"},
        legend={"top": 0},
        grid={"left": 8, "right": 8, "top": 36, "bottom": 8, "containLabel": True},
        xAxis={"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
        yAxis={"type": "category", "data": [""]},
        series=[
            {"name": t(f"nps.{part}"), "type": "bar", "stack": "all", "itemStyle": {"color": colours[part]},
             "data": [round(100 * count / total, 1) if total else 0], "label": {"show": True, "formatter": "{c}%"}}
            for part, count in parts.items()
        ],
    )  # fmt: skip


def benchmark(nps: Kpi, reference: Benchmark, t: Translate) -> dict[str, Any]:
    names = [t("dash.our_nps"), reference.industry or t("dash.own_benchmark")]
    return _base(
        tooltip={"trigger": "item"},
        xAxis={"type": "value", "min": -100, "max": 100},
        yAxis={"type": "category", "data": names},
        series=[{"type": "bar", "label": {"show": True, "position": "right"},
                 "data": [{"value": _round(nps.value), "itemStyle": {"color": ACCENT}},
                          {"value": reference.nps, "itemStyle": {"color": GREY}}]}],
    )  # fmt: skip


#: Bars start from the scale's own ends: a zoomed axis would turn a 1-point gap into a wall.
SCALE_ENDS = {"nps": (-100, 100), "csat": (0, 100), "response_rate": (0, 100), "ces": (1, 7)}


def bars(labels: list[str], rows: Sequence[Kpi], label: str, metric: str) -> dict[str, Any]:
    """One bar per slice on the metric's whole scale; slices below the minimum sample are grey."""
    data = [
        {"value": _round(k.value), "itemStyle": {"color": ACCENT if k.sufficient else GREY}} for k in rows
    ]
    low, high = SCALE_ENDS[metric]
    return _base(
        tooltip={"trigger": "item"},
        xAxis={"type": "value", "min": low, "max": high},
        yAxis={"type": "category", "data": labels, "inverse": True},
        series=[{"name": label, "type": "bar", "data": data, "label": {"show": True, "position": "right"}}],
    )


def heatmap(table: DataTable) -> dict[str, Any]:
    """NPS by touchpoint × month: the table's rows are touchpoints, its columns months."""
    months = [column.label for column in table.columns[1:]]
    touchpoints = [str(row[0]) for row in table.rows]
    data = [[x, y, _round(value)]
            for y, row in enumerate(table.rows) for x, value in enumerate(row[1:]) if value is not None]  # fmt: skip
    return {
        "animation": False,
        "tooltip": {"position": "top"},
        "grid": {"left": 8, "right": 8, "top": 8, "bottom": 64, "containLabel": True},
        "xAxis": {"type": "category", "data": months, "splitArea": {"show": True}},
        "yAxis": {"type": "category", "data": touchpoints, "splitArea": {"show": True}},
        "visualMap": {"min": -100, "max": 100, "calculable": True, "orient": "horizontal", "left": "center",
                      "bottom": 0, "inRange": {"color": [BAD, "#fff8e1", GOOD]}},
        "series": [{"type": "heatmap", "data": data, "label": {"show": True}}],
    }  # fmt: skip


def lines(table: DataTable, columns: list[int]) -> dict[str, Any]:
    """Some of a table's numeric columns against its first (period) column."""
    periods = [str(row[0]) for row in table.rows]
    return _base(
        legend={"top": 0},
        xAxis={"type": "category", "data": periods},
        yAxis={"type": "value", "axisLabel": {"formatter": "{value}%"}},
        series=[{"name": table.columns[i].label, "type": "line",
                 "data": [_round(row[i]) for row in table.rows]}
                for i in columns],
    )  # fmt: skip
