"""The dashboard's Feedback tab: themes with volume, sentiment and trend, the channels, and the comments behind a
theme, read from the analysed feedback (``feedback.service``; definitions in docs/feedback.md).

Every figure covers the page's window in the workspace's calendar (and its segment when one is chosen). A theme's
volume is the items mentioning it; its positive and negative shares are of those mentions, each with the
sentiment of the clause that mentions the theme. The trend counts the same per week or month of the trend
window, the period under way left out unless the filters include it. Comments show the masked text only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from patron.core.clock import as_utc
from patron.core.errors import PatronError
from patron.core.i18n import Labels
from patron.core.models import Workspace
from patron.dashboard.filters import Filters, grain_end, grain_start
from patron.dashboard.service import labels, under_way
from patron.dashboard.tables import Column, DataTable
from patron.feedback import service
from patron.feedback.schemas import ChannelFigures, FeedbackRead, ThemeFigures

#: How many themes the trend follows (the most mentioned in the window).
TREND_THEMES = 5
COMMENTS_SHOWN = 50


@dataclass
class FeedbackView:
    #: The taxonomy in force, in words ("built-in taxonomy, version 1").
    taxonomy: str
    total: int = 0
    themes: list[ThemeFigures] = field(default_factory=list)
    channels: list[ChannelFigures] = field(default_factory=list)
    theme: ThemeFigures | None = None
    comments: list[FeedbackRead] = field(default_factory=list)
    comments_total: int = 0
    theme_names: dict[str, str] = field(default_factory=dict)
    tables: dict[str, DataTable] = field(default_factory=dict)
    under_way: date | None = None


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def feedback(
    session: Session,
    workspace: Workspace,
    filters: Filters,
    locale: str,
    *,
    theme: str | None,
    exporting: bool,
) -> FeedbackView:
    t = labels(locale)
    ws = workspace.id
    taxonomy = service.current_taxonomy(session, ws)
    names = {item.key: item.name(locale) for item in taxonomy.themes}
    if theme and theme not in names:
        raise PatronError("feedback.unknown_theme", value=theme[:48])
    since, until = service.day_bounds(workspace.timezone, filters.window.since, filters.window.until)
    view = FeedbackView(t(f"fb.taxonomy_{taxonomy.origin}", version=taxonomy.version), theme_names=names)
    view.themes = service.theme_figures(session, workspace_id=ws, since=since, until=until, locale=locale,
                                        segment=filters.segment)  # fmt: skip
    view.channels = service.channel_figures(session, workspace_id=ws, since=since, until=until,
                                            segment=filters.segment)  # fmt: skip
    view.total = sum(channel.items for channel in view.channels)
    view.theme = next((figures for figures in view.themes if figures.theme == theme), None)
    page = service.list_items(session, workspace_id=ws, since=since, until=until, theme=theme, segment=filters.segment,
                              limit=100_000 if exporting else COMMENTS_SHOWN)  # fmt: skip
    view.comments, view.comments_total = page.items, page.total
    channel_label = Labels(locale)
    view.tables["themes"] = _themes_table(view.themes, t)
    view.tables["channels"] = _channels_table(view.channels, t, channel_label)
    view.tables["trend"], view.under_way = _trend_table(session, workspace, filters, view.themes, t)
    view.tables["comments"] = _comments_table(view.comments, names, workspace, t, channel_label, locale)
    return view


def _themes_table(themes: list[ThemeFigures], t: Any) -> DataTable:
    table = DataTable("themes", t("fb.themes"), [
        Column(t("fb.theme")), Column(t("fb.group")), Column(t("fb.items"), "int", t("help.fb_items")),
        Column(t("fb.positive"), "int"), Column(t("fb.neutral"), "int"), Column(t("fb.negative"), "int"),
        Column(t("fb.positive_share"), "percent", t("help.fb_share")), Column(t("fb.negative_share"), "percent"),
    ])  # fmt: skip
    table.rows = [
        [f.name, t(f"fb.group.{f.group}"), f.items, f.positive, f.neutral, f.negative, _percent(f.positive_share),
         _percent(f.negative_share)]
        for f in themes
    ]  # fmt: skip
    return table


def _channels_table(channels: list[ChannelFigures], t: Any, label: Labels) -> DataTable:
    table = DataTable("channels", t("fb.channels"), [
        Column(t("fb.channel")), Column(t("fb.items"), "int", t("help.fb_channel")), Column(t("fb.positive"), "int"),
        Column(t("fb.neutral"), "int"), Column(t("fb.negative"), "int"), Column(t("fb.positive_share"), "percent"),
        Column(t("fb.negative_share"), "percent"),
    ])  # fmt: skip
    table.rows = [
        [label("channel", c.channel), c.items, c.positive, c.neutral, c.negative, _percent(c.positive_share),
         _percent(c.negative_share)]
        for c in channels
    ]  # fmt: skip
    return table


def _period_starts(filters: Filters) -> list[date]:
    window = filters.trend_window()
    starts = []
    start = grain_start(window.since, filters.grain)
    while start <= window.until:
        if filters.include_partial or not filters.period_is_partial(start):
            starts.append(start)
        start = date.fromordinal(grain_end(start, filters.grain).toordinal() + 1)
    return starts


def _trend_table(
    session: Session, workspace: Workspace, filters: Filters, themes: list[ThemeFigures], t: Any
) -> tuple[DataTable, date | None]:
    """Items per week or month for the themes most mentioned in the window, and each one's negative mentions."""
    followed = [f for f in themes if f.items][:TREND_THEMES]
    columns = [Column(t("dash.period"), "month" if filters.grain == "month" else "date")]
    for f in followed:
        columns += [Column(f.name, "int"), Column(f"{f.name} · {t('fb.trend_negative')}", "int")]
    table = DataTable("trend", t("fb.trend"), columns)
    starts = _period_starts(filters)
    if not starts or not followed:
        return table, None
    zone = ZoneInfo(workspace.timezone)
    last_end = date.fromordinal(grain_end(starts[-1], filters.grain).toordinal() + 1)
    instants = [as_utc(datetime(d.year, d.month, d.day, tzinfo=zone)) for d in [*starts, last_end]]
    trend = service.theme_trend(session, workspace_id=workspace.id, starts=instants, segment=filters.segment)
    for index, start in enumerate(starts):
        row: list[Any] = [start]
        for f in followed:
            volume, negative = trend.get(f.theme, [(0, 0)] * len(starts))[index]
            row += [volume, negative]
        if filters.period_is_partial(start):
            table.partial_rows.add(len(table.rows))
        table.rows.append(row)
    return table, under_way(filters, filters.trend_window(), filters.grain)


def _comments_table(
    comments: list[FeedbackRead],
    names: dict[str, str],
    workspace: Workspace,
    t: Any,
    label: Labels,
    locale: str,
) -> DataTable:
    zone = ZoneInfo(workspace.timezone)
    sep, left, right = ("、", "（", "）") if locale.startswith("zh") else (", ", " (", ")")
    table = DataTable("comments", t("fb.comments"), [
        Column(t("fb.time"), "date"), Column(t("fb.channel")), Column(t("fb.sentiment")), Column(t("fb.themes")),
        Column(t("fb.text")), Column(t("ui.external_id")),
    ])  # fmt: skip
    for item in comments:
        tags = sep.join(
            f"{names.get(m.theme, m.theme)}{left}{t('fb.' + m.sentiment)}{right}" for m in item.themes
        )
        table.rows.append([
            as_utc(item.occurred_at).astimezone(zone).date(), label("channel", item.channel),
            t(f"fb.{item.sentiment}") if item.sentiment else "", tags, item.text, item.customer_id or "",
        ])  # fmt: skip
    return table
