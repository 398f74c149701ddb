"""ECharts options for the dashboard's charts, built from the dashboard's views.

Options are plain JSON, rendered by static/dashboard.js with the vendored ECharts (no CDN). Values are
rounded here; a point below the minimum sample is drawn hollow so a thin month never looks like a verdict, and
a period still under way is hollow at the end of a dashed line, labelled "to date".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from patron.dashboard.service import Kpi, TrendPoint
from patron.dashboard.tables import DataTable
from patron.metrics.benchmarks import Benchmark

ACCENT, GREY, GOOD, BAD, PASSIVE = "#2f6f5e", "#9aa7b0", "#2e7d32", "#b3261e", "#f0b429"
#: Line colours set per series, so a line's dashed "to date" end keeps its colour.
LINE_COLOURS = (ACCENT, BAD, "#3b6ea5", PASSIVE)
Translate = Callable[..., str]


def _round(value: object, digits: int = 1) -> float | None:
    """A number rounded for a chart; anything else (a gap) is None."""
    return (
        round(float(value), digits)
        if isinstance(value, float | int) and not isinstance(value, bool)
        else None
    )


def _base(**extra: Any) -> dict[str, Any]:
    # Room on the right: the last category label is centred on the last point and was cut off at the edge.
    return {"animation": False, "grid": {"left": 48, "right": 32, "top": 36, "bottom": 32, "containLabel": True},
            "tooltip": {"trigger": "axis"}, **extra}  # fmt: skip


#: Each metric's whole scale: bars start from its ends, bands and axes never pass them.
SCALE_ENDS = {"nps": (-100, 100), "csat": (0, 100), "response_rate": (0, 100), "ces": (1, 7)}


#: Tick steps are these times a power of ten.
STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
EPSILON = 1e-9


def _steps_down_from(span: float) -> list[float]:
    """Round steps, largest first, from the one that cuts ``span`` into about five parts."""
    power = 10.0 ** math.floor(math.log10(max(span, EPSILON) / 5))
    candidates = [m * power / 10**k for k in range(4) for m in STEPS]
    first = min((c for c in candidates if c >= span / 5 - EPSILON), default=candidates[0])
    return sorted({c for c in candidates if c <= first}, reverse=True)


def _multiple(value: float, step: float) -> bool:
    return abs(value / step - round(value / step)) < 1e-6


def value_axis(numbers: Sequence[float | None], ends: tuple[float, float]) -> dict[str, Any]:
    """A value axis around ``numbers`` on round steps, never beyond the scale's ends (no NPS axis to −140, no
    CES axis to 40 on a 1–7 scale); ECharts' own choice ignores the ends."""
    present = [x for x in numbers if x is not None]
    if not present:
        return {"type": "value", "min": ends[0], "max": ends[1]}
    low, high = min(present), max(present)
    span = high - low if high > low else max(abs(high), 1.0) / 2
    for step in _steps_down_from(span):
        bottom = math.floor(low / step + EPSILON) * step
        top = math.ceil(high / step - EPSILON) * step
        if bottom == top:
            bottom, top = bottom - step, top + step
        bottom, top = max(bottom, ends[0]), min(top, ends[1])
        if _multiple(bottom, step) and _multiple(top, step):  # a clipped end still on a tick
            return {
                "type": "value",
                "min": round(bottom, 6),
                "max": round(top, 6),
                "interval": round(step, 6),
            }
    return {"type": "value", "min": ends[0], "max": ends[1]}


def _under_way(values: list[Any], partial: Sequence[bool]) -> tuple[list[Any], list[Any]]:
    """A series split in two: the complete periods (a solid line) and the periods still under way, joined to
    the last complete one by a dashed line, so a month to date never reads as part of the trend."""
    solid = [None if flag else value for value, flag in zip(values, partial, strict=True)]
    dashed: list[Any] = [value if flag else None for value, flag in zip(values, partial, strict=True)]
    complete = [i for i, value in enumerate(solid) if value is not None]
    if any(partial) and complete:
        dashed[complete[-1]] = values[complete[-1]]
    return solid, dashed


def period_text(period: date, grain: str) -> str:
    """A month is named as a month (2026-01), not by its first day."""
    return period.strftime("%Y-%m") if grain == "month" else period.isoformat()


def _period_label(period: str, partial: bool, t: Translate) -> str:
    return f"{period}\n({t('dash.to_date')})" if partial else period


def _on_every_period(points: Sequence[TrendPoint], periods: Sequence[date] | None) -> list[TrendPoint]:
    """The points on the trend's whole calendar: a period without answers is a gap on the axis, so the axis is
    true to time (NPS waves in March, June and September are a quarter apart, not side by side)."""
    if periods is None:
        return list(points)
    by_period = {p.period: p for p in points}
    return [by_period.get(period) or TrendPoint(period, None, None, None, 0, False) for period in periods]


def trend(
    points: Sequence[TrendPoint],
    label: str,
    t: Translate,
    metric: str,
    periods: Sequence[date] | None = None,
    grain: str = "day",
) -> dict[str, Any]:
    """The metric by period with its 95 % interval as a band, clipped to the metric's scale.

    The band is a stacked pair (lower bound, then its height) with ``stackStrategy: 'all'``: ECharts stacks
    negative and positive values apart by default, which drew an NPS band from 0 whenever the lower bound was
    negative. A period still under way (when shown) is a hollow point at the end of a dashed line. With
    ``periods``, every period of the trend is on the axis and the line crosses those without answers."""
    points = _on_every_period(points, periods)
    low_end, high_end = SCALE_ENDS[metric]
    categories = [_period_label(period_text(p.period, grain), p.partial, t) for p in points]
    bounds = [
        (None, None) if p.ci_low is None or p.ci_high is None
        else (max(p.ci_low, low_end), min(p.ci_high, high_end))
        for p in points
    ]  # fmt: skip
    low = [_round(lo) for lo, _ in bounds]
    # the height between the rounded ends, so the band's top lands on the rounded upper bound itself
    band = [None if lo is None or hi is None else round(round(hi, 1) - round(lo, 1), 1) for lo, hi in bounds]
    values = [
        None if p.value is None else
        {"value": _round(p.value), "symbol": "circle" if p.sufficient and not p.partial else "emptyCircle",
         "symbolSize": 7}
        for p in points
    ]  # fmt: skip
    solid, dashed = _under_way(values, [p.partial for p in points])
    series: list[dict[str, Any]] = [
        {"name": "low", "type": "line", "data": low, "stack": "ci", "stackStrategy": "all", "connectNulls": True,
         "lineStyle": {"opacity": 0}, "symbol": "none", "tooltip": {"show": False}, "silent": True},
        {"name": t("dash.ci95"), "type": "line", "data": band, "stack": "ci", "stackStrategy": "all",
         "connectNulls": True, "lineStyle": {"opacity": 0}, "symbol": "none",
         "areaStyle": {"color": ACCENT, "opacity": 0.15}, "silent": True, "tooltip": {"show": False},
         "itemStyle": {"color": ACCENT}},
        {"name": label, "type": "line", "data": solid, "itemStyle": {"color": ACCENT}, "connectNulls": True},
    ]  # fmt: skip
    if any(p.partial for p in points):
        series.append({"name": label, "type": "line", "data": dashed, "itemStyle": {"color": ACCENT},
                       "lineStyle": {"type": "dashed"}, "connectNulls": True})  # fmt: skip
    shown = [_round(p.value) for p in points] + [x for pair in bounds for x in pair]
    return _base(
        legend={"data": [label, t("dash.ci95")], "top": 0},
        xAxis={"type": "category", "data": categories, "axisLabel": {"showMaxLabel": True}},
        yAxis=value_axis(shown, (low_end, high_end)),
        series=series,
    )


def split(parts: dict[str, int], t: Translate) -> dict[str, Any]:
    total = sum(parts.values())
    colours = {"promoters": GOOD, "passives": PASSIVE, "detractors": BAD}
    return _base(
        tooltip={"trigger": "item"},
        legend={"top": 0},
        grid={"left": 8, "right": 28, "top": 36, "bottom": 8, "containLabel": True},
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


def lines(table: DataTable, columns: list[int], t: Translate) -> dict[str, Any]:
    """Some of a table's numeric columns against its first (period) column; a row still under way (when
    shown) is a hollow point at the end of a dashed line."""
    partial = [i in table.partial_rows for i in range(len(table.rows))]
    grain = "month" if table.columns[0].kind == "month" else "day"
    periods = [
        _period_label(period_text(row[0], grain) if isinstance(row[0], date) else str(row[0]), flag, t)
        for row, flag in zip(table.rows, partial, strict=True)
    ]
    series: list[dict[str, Any]] = []
    for colour, i in zip(LINE_COLOURS, columns, strict=False):
        values = [None if row[i] is None else {"value": _round(row[i]), "symbol": "emptyCircle" if flag else "circle"}
                  for row, flag in zip(table.rows, partial, strict=True)]  # fmt: skip
        solid, dashed = _under_way(values, partial)
        series.append(
            {"name": table.columns[i].label, "type": "line", "data": solid, "itemStyle": {"color": colour}}
        )
        if any(partial):
            series.append({"name": table.columns[i].label, "type": "line", "data": dashed,
                           "itemStyle": {"color": colour}, "lineStyle": {"type": "dashed"}})  # fmt: skip
    return _base(
        legend={"top": 0, "type": "scroll"},
        xAxis={"type": "category", "data": periods, "axisLabel": {"showMaxLabel": True}},
        yAxis={"type": "value", "min": 0, "axisLabel": {"formatter": "{value}%"}},
        series=series,
    )


def columns(table: DataTable, indexes: list[int], t: Translate) -> dict[str, Any]:
    """Some of a table's whole-number columns as bars side by side per period (its first column); a period
    still under way (when shown) is labelled "to date" and drawn lighter."""
    partial = [i in table.partial_rows for i in range(len(table.rows))]
    grain = "month" if table.columns[0].kind == "month" else "day"
    periods = [
        _period_label(period_text(row[0], grain) if isinstance(row[0], date) else str(row[0]), flag, t)
        for row, flag in zip(table.rows, partial, strict=True)
    ]
    colours = (ACCENT, "#3b6ea5", GREY, BAD, PASSIVE)
    series = [
        {"name": table.columns[i].label, "type": "bar", "itemStyle": {"color": colour},
         "data": [{"value": row[i], **({"itemStyle": {"opacity": 0.45}} if flag else {})}
                  for row, flag in zip(table.rows, partial, strict=True)]}
        for colour, i in zip(colours, indexes, strict=False)
    ]  # fmt: skip
    return _base(
        legend={"top": 0, "type": "scroll"},
        xAxis={"type": "category", "data": periods, "axisLabel": {"showMaxLabel": True}},
        yAxis={"type": "value", "min": 0, "minInterval": 1},
        series=series,
    )


def histogram(
    bins: Sequence[tuple[float, float | None, int]], label: str, number: Callable[[float], str]
) -> dict[str, Any]:
    """Customers per value bin; the last bin is open ("≥ x") when it holds the top 1 %."""
    names = [
        f"{number(low)}–{number(high)}" if high is not None else f"≥ {number(low)}" for low, high, _ in bins
    ]
    return _base(
        tooltip={"trigger": "axis"},
        xAxis={"type": "category", "data": names, "axisLabel": {"interval": 0, "rotate": 30}},
        yAxis={"type": "value", "min": 0, "minInterval": 1},
        series=[{"name": label, "type": "bar", "data": [n for _, _, n in bins], "itemStyle": {"color": ACCENT},
                 "barCategoryGap": "8%"}],
    )  # fmt: skip


def paired_lines(categories: Sequence[str], pairs: dict[str, Sequence[float | None]], x_name: str,
                 percent: bool = False) -> dict[str, Any]:  # fmt: skip
    """Two or more series over the same categories (actual against predicted): a model that fits draws them on
    top of each other."""
    colours = (ACCENT, BAD, "#3b6ea5", PASSIVE)
    return _base(
        legend={"top": 0},
        xAxis={"type": "category", "data": list(categories), "name": x_name, "nameLocation": "middle",
               "nameGap": 28},
        yAxis={"type": "value", "min": 0, **({"axisLabel": {"formatter": "{value}%"}} if percent else {})},
        series=[{"name": name, "type": "line", "data": [_round(v, 2) for v in values],
                 "itemStyle": {"color": colour}, "lineStyle": {"type": "dashed"} if i else {}}
                for i, (colour, (name, values)) in enumerate(zip(colours, pairs.items(), strict=False))],
    )  # fmt: skip


def survival(curves: dict[str, list[float | None]], t: Translate) -> dict[str, Any]:
    """Kaplan–Meier curves (percent still active by month since the first purchase) drawn as steps; the
    first curve (everyone) thicker."""
    months = max((len(values) for values in curves.values()), default=0)
    colours = (ACCENT, BAD, "#3b6ea5", PASSIVE, GREY, "#7b5ea7", "#c9772b")
    return _base(
        legend={"top": 0, "type": "scroll"},
        xAxis={"type": "category", "data": [str(m) for m in range(months)], "name": t("churn_page.months_since"),
               "nameLocation": "middle", "nameGap": 28},
        yAxis={"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value}%"}},
        series=[{"name": name, "type": "line", "step": "end", "data": values, "symbol": "none",
                 "itemStyle": {"color": colours[i % len(colours)]}, "lineStyle": {"width": 3 if i == 0 else 1.5}}
                for i, (name, values) in enumerate(curves.items())],
    )  # fmt: skip


def risk_bars(table: DataTable, label: str) -> dict[str, Any]:
    """Mean churn risk per segment (the table's second-to-last percent column), on 0–100 %."""
    return _base(
        tooltip={"trigger": "item"},
        xAxis={"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value}%"}},
        yAxis={"type": "category", "data": [str(row[0]) for row in table.rows], "inverse": True},
        series=[{"name": label, "type": "bar", "itemStyle": {"color": BAD},
                 "data": [_round(row[2]) for row in table.rows],
                 "label": {"show": True, "position": "right", "formatter": "{c}%"}}],
    )  # fmt: skip


def sentiment_bars(
    names: Sequence[str], counts: Sequence[tuple[int, int, int]], t: Translate
) -> dict[str, Any]:
    """Horizontal bars, one per name (a theme, a channel), split into positive, neutral and negative counts in the
    sentiment colours; the first name on top."""
    parts = (("fb.positive", GOOD, 0), ("fb.neutral", GREY, 1), ("fb.negative", BAD, 2))
    series = [
        {"name": t(code), "type": "bar", "stack": "total", "itemStyle": {"color": colour},
         "data": [row[index] for row in reversed(counts)]}
        for code, colour, index in parts
    ]  # fmt: skip
    return _base(
        legend={"top": 0},
        tooltip={"trigger": "axis", "axisPointer": {"type": "shadow"}},
        xAxis={"type": "value", "min": 0, "minInterval": 1},
        yAxis={"type": "category", "data": list(reversed(names))},
        series=series,
    )


def servqual_gaps(
    names: Sequence[str],
    expectation: Sequence[float | None],
    perception: Sequence[float | None],
    gaps: Sequence[tuple[float | None, float | None, float | None]],
    t: Translate,
) -> dict[str, Any]:
    """SERVQUAL per dimension in two panels: expectation and perception as bars on the 1–7 scale (top), and the gap
    P − E as a point with its 95 % interval as whiskers (bottom; ends held inside the scale's ±6, a one-answer
    dimension has no whiskers)."""
    ends = 6.0

    def held(value: float | None) -> float | None:
        return None if value is None else _round(max(-ends, min(ends, value)), 2)

    whiskers = [
        [held(low), held(gap), held(gap), held(gap), held(high)]
        if low is not None and gap is not None
        else []
        for gap, low, high in gaps
    ]
    categories = list(names)
    return {
        "animation": False,
        "legend": {"top": 0},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": [{"left": 48, "right": 32, "top": 36, "height": "38%", "containLabel": True},
                 {"left": 48, "right": 32, "top": "60%", "bottom": 24, "containLabel": True}],
        "xAxis": [{"type": "category", "data": categories, "gridIndex": 0},
                  {"type": "category", "data": categories, "gridIndex": 1, "axisLabel": {"show": False}}],
        "yAxis": [{"type": "value", "min": 1, "max": 7, "interval": 1, "gridIndex": 0},
                  {"type": "value", "gridIndex": 1, "name": t("servqual.gap"), "min": "dataMin", "max": "dataMax"}],
        "series": [
            {"name": t("servqual.expectation"), "type": "bar", "xAxisIndex": 0, "yAxisIndex": 0,
             "itemStyle": {"color": GREY}, "data": [_round(v, 2) for v in expectation]},
            {"name": t("servqual.perception"), "type": "bar", "xAxisIndex": 0, "yAxisIndex": 0,
             "itemStyle": {"color": ACCENT}, "data": [_round(v, 2) for v in perception]},
            {"name": t("dash.ci95"), "type": "boxplot", "xAxisIndex": 1, "yAxisIndex": 1, "boxWidth": [2, 8],
             "itemStyle": {"color": "#ffffff", "borderColor": "#555555"}, "data": whiskers},
            {"name": t("servqual.gap"), "type": "scatter", "xAxisIndex": 1, "yAxisIndex": 1, "symbolSize": 12,
             "data": [{"value": held(gap), "itemStyle": {"color": BAD if (gap or 0) < 0 else GOOD}}
                      for gap, _, _ in gaps],
             "markLine": {"silent": True, "symbol": "none", "lineStyle": {"color": GREY}, "data": [{"yAxis": 0}]}},
        ],
    }  # fmt: skip


def drivers_scatter(points: Sequence[tuple[str, float, float, bool, bool]], t: Translate) -> dict[str, Any]:
    """Impact × frequency: one point per theme driver (name, frequency %, importance %, harmful, fix first), red
    when it goes with a worse outcome, larger when marked "fix first"; dashed lines at the averages cut the
    quadrants (top right: frequent and important)."""

    def series(name: str, colour: str, chosen: list[tuple[str, float, float, bool, bool]]) -> dict[str, Any]:
        return {"name": name, "type": "scatter", "itemStyle": {"color": colour},
                "label": {"show": True, "position": "right", "formatter": "{b}"},
                "data": [{"name": label, "value": [_round(x, 1), _round(y, 2)], "symbolSize": 18 if fix else 11}
                         for label, x, y, _, fix in chosen]}  # fmt: skip

    harmful = [p for p in points if p[3]]
    helpful = [p for p in points if not p[3]]
    mean_x = sum(p[1] for p in points) / len(points) if points else 0.0
    mean_y = sum(p[2] for p in points) / len(points) if points else 0.0
    worse, better = series(t("drv.harmful"), BAD, harmful), series(t("drv.helpful"), GOOD, helpful)
    worse["markLine"] = {"silent": True, "symbol": "none", "lineStyle": {"type": "dashed", "color": GREY},
                         "label": {"show": False},
                         "data": [{"xAxis": _round(mean_x, 1)}, {"yAxis": _round(mean_y, 2)}]}  # fmt: skip
    return _base(
        legend={"top": 0},
        tooltip={"trigger": "item", "formatter": "{b}: {c}"},
        xAxis={"type": "value", "min": 0, "name": t("drv.axis_frequency"), "nameLocation": "middle", "nameGap": 28,
               "axisLabel": {"formatter": "{value}%"}},
        yAxis={"type": "value", "min": 0, "name": t("drv.axis_importance"), "axisLabel": {"formatter": "{value}%"}},
        series=[worse, better],
    )  # fmt: skip


def social_daily(days: Sequence[Any], spikes: Sequence[Any], today: date, t: Translate) -> dict[str, Any]:
    """Mentions per day as bars (a volume-spike day red, today lighter and labelled "to date") and the negative
    share as a line on its own 0–100 % axis (a negative-share spike day a large red point; a day with nothing
    analysed a gap)."""
    volume = {s.day for s in spikes if s.kind == "volume"}
    share = {s.day for s in spikes if s.kind == "negative_share"}
    labels = [_period_label(d.day.isoformat(), d.day >= today, t) for d in days]
    bars = [{"value": d.mentions, "itemStyle": {"color": BAD if d.day in volume else ACCENT,
                                                **({"opacity": 0.45} if d.day >= today else {})}}
            for d in days]  # fmt: skip
    negative = [
        None if d.negative_share is None else {
            "value": _round(d.negative_share * 100),
            **({"symbolSize": 14, "itemStyle": {"color": BAD}} if d.day in share else {}),
        }
        for d in days
    ]  # fmt: skip
    return _base(
        legend={"top": 0},
        xAxis={"type": "category", "data": labels, "axisLabel": {"showMaxLabel": True}},
        yAxis=[{"type": "value", "min": 0, "minInterval": 1, "name": t("social.col.mentions")},
               {"type": "value", "min": 0, "max": 100, "name": t("fb.negative_share"),
                "axisLabel": {"formatter": "{value}%"}, "splitLine": {"show": False}}],
        series=[{"name": t("social.col.mentions"), "type": "bar", "itemStyle": {"color": ACCENT}, "data": bars},
                {"name": t("fb.negative_share"), "type": "line", "yAxisIndex": 1, "connectNulls": False,
                 "symbol": "circle", "symbolSize": 8, "itemStyle": {"color": "#3b6ea5"}, "data": negative}],
    )  # fmt: skip
