"""The dashboard's SERVQUAL tab: expectation, perception and gap per dimension and item, by segment and by month
(``surveys.servqual``; definitions in docs/servqual.md).

The dimension and item figures and the by-segment table cover the page's window (and its segment and survey when
chosen); the by-month table covers the months of the trend window, the month under way left out unless the
filters include it. Without any SERVQUAL answer in the workspace the tab shows each dimension's theme sentiment
from feedback instead, labelled as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from patron.core.models import Workspace
from patron.customers.service import code_labels
from patron.dashboard.filters import Filters, grain_end
from patron.dashboard.service import labels
from patron.dashboard.tables import Column, DataTable
from patron.metrics.stats import MIN_SAMPLE
from patron.surveys import servqual
from patron.surveys.servqual import Gap, GapGroup, ServqualReport


@dataclass
class ServqualView:
    source: str
    overall: GapGroup | None = None
    themes: list[servqual.ThemeSentiment] = field(default_factory=list)
    tables: dict[str, DataTable] = field(default_factory=dict)
    #: Some figure shown rests on fewer than MIN_SAMPLE respondents.
    small: bool = False
    min_sample: int = MIN_SAMPLE
    months_partial: date | None = None


def _gap_columns(t: Any, first: str, *, item: bool) -> list[Column]:
    return [
        Column(t(first)), *([Column(t("servqual.dimension"))] if item else []),
        Column(t("servqual.respondents"), "int"), Column(t("servqual.expectation"), "mean"),
        Column(t("servqual.perception"), "mean"), Column(t("servqual.gap"), "mean", t("help.servqual_gap")),
        Column(t("servqual.ci_low"), "mean"), Column(t("servqual.ci_high"), "mean"),
        Column(t("servqual.incomplete"), "int"), Column(t("servqual.small_flag", minimum=MIN_SAMPLE), "flag"),
    ]  # fmt: skip


def _gap_row(g: Gap, names: dict[str, str] | None) -> list[Any]:
    dimension = [names.get(g.dimension, g.dimension)] if names is not None else []
    return [g.name, *dimension, g.n, g.expectation, g.perception, g.gap, g.ci_low, g.ci_high, g.incomplete,
            not g.sufficient]  # fmt: skip


def _groups_table(key: str, title: str, first: Column, report: ServqualReport, t: Any, names: dict[str, str],
                  group_value: Any) -> DataTable:  # fmt: skip
    columns = [
        first,
        Column(t("servqual.respondents"), "int"),
        Column("SERVQUAL", "mean", t("help.servqual_score")),
    ]
    columns += [Column(f"{names[d]} · {t('servqual.gap')}", "mean") for d in servqual.DIMENSIONS]
    table = DataTable(key, title, columns)
    for group in report.groups:
        gaps = {g.key: g.gap for g in group.dimensions}
        table.rows.append([group_value(group.group), group.respondents, group.score,
                           *[gaps.get(d) for d in servqual.DIMENSIONS]])  # fmt: skip
    return table


def servqual_tab(session: Session, workspace: Workspace, filters: Filters, locale: str) -> ServqualView:
    t = labels(locale)
    ws = workspace.id
    names = servqual.dimension_names(locale)
    common: dict[str, Any] = {"workspace_id": ws, "timezone": workspace.timezone, "locale": locale, "survey": filters.survey,
              "segment": filters.segment}  # fmt: skip
    window = filters.window
    overall = servqual.gap_report(session, **common, since=window.since, until=window.until)
    view = ServqualView(source=overall.source)
    if overall.source == servqual.SOURCE_THEMES:
        view.themes = overall.themes
        table = DataTable("themes", t("servqual.theme_table"), [
            Column(t("servqual.dimension")), Column(t("servqual.mentions"), "int"),
            Column(t("fb.positive_share"), "percent"), Column(t("fb.negative_share"), "percent"),
        ])  # fmt: skip
        table.rows = [[s.name, s.mentions, None if s.positive_share is None else s.positive_share * 100,
                       None if s.negative_share is None else s.negative_share * 100] for s in overall.themes]  # fmt: skip
        view.tables["themes"] = table
        return view
    view.overall = overall.groups[0] if overall.groups else None
    dimensions = DataTable(
        "dimensions", t("servqual.dimensions"), _gap_columns(t, "servqual.dimension", item=False)
    )
    items = DataTable("items", t("servqual.items"), _gap_columns(t, "servqual.item", item=True))
    if view.overall is not None:
        dimensions.rows = [_gap_row(g, None) for g in view.overall.dimensions]
        items.rows = [_gap_row(g, names) for g in view.overall.items]
        view.small = any(not g.sufficient for g in [*view.overall.dimensions, *view.overall.items])
    view.tables["dimensions"], view.tables["items"] = dimensions, items
    segments = servqual.gap_report(session, **common, since=window.since, until=window.until, by="segment")
    segment_label = code_labels(workspace, locale)
    view.tables["segments"] = _groups_table(
        "segments", t("servqual.by_segment"), Column(t("dim.segment")), segments, t, names,
        lambda code: segment_label("segment", code) if code else t("servqual.no_segment"),
    )  # fmt: skip
    months = filters.trend_months()
    if months:
        last = grain_end(months[-1], "month")
        by_month = servqual.gap_report(session, **common, since=months[0], until=last, by="month")
        table = _groups_table(
            "months", t("servqual.by_month"), Column(t("dash.period"), "month"), by_month, t, names,
            lambda text: date(int(text[:4]), int(text[5:7]), 1),
        )  # fmt: skip
        for index, row in enumerate(table.rows):
            if isinstance(row[0], date) and filters.period_is_partial(row[0], "month"):
                table.partial_rows.add(index)
                view.months_partial = row[0]
        view.tables["months"] = table
    return view
