"""The dashboard's Social tab: mentions of the tracked brand names and keywords per day with their sentiment, the
days that stand out (spikes) and the posts and reviews waiting for a reply (``social.service``; definitions in
docs/social.md).

The daily figures cover the page's window; today, when the window reaches it, is marked "to date" and never
judged as a spike (an unfinished day is not compared with whole ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from patron.core.clock import as_utc
from patron.core.i18n import Labels
from patron.core.models import Workspace
from patron.dashboard.filters import Filters
from patron.dashboard.service import labels
from patron.dashboard.tables import Column, DataTable
from patron.social import service
from patron.social.schemas import DayFigures, QueuePage, SocialSpike, TermRead

#: Queue items shown on the page; the export holds them all.
QUEUE_ROWS = 50


@dataclass
class SocialView:
    days: list[DayFigures]
    spikes: list[SocialSpike]
    queue: QueuePage
    state: str
    terms: list[TermRead]
    mentions: int = 0
    analysed: int = 0
    negative: int = 0
    tables: dict[str, DataTable] = field(default_factory=dict)

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.analysed if self.analysed else None


def social_tab(
    session: Session, workspace: Workspace, filters: Filters, locale: str, *, state: str = "open",
    exporting: bool = False,
) -> SocialView:  # fmt: skip
    t = labels(locale)
    ws, zone = workspace.id, workspace.timezone
    window = filters.window
    days = service.daily(session, workspace_id=ws, timezone=zone, since=window.since, until=window.until)
    last_whole = min(window.until, filters.today - timedelta(days=1))
    spikes = (
        service.spikes(session, workspace_id=ws, timezone=zone, since=window.since, until=last_whole)
        if window.since <= last_whole
        else []
    )
    queue = service.queue(session, workspace_id=ws, state=state, limit=10_000 if exporting else QUEUE_ROWS)
    view = SocialView(days=days, spikes=spikes, queue=queue, state=state,
                      terms=service.list_terms(session, workspace_id=ws))  # fmt: skip
    view.mentions = sum(d.mentions for d in days)
    view.analysed = sum(d.analysed for d in days)
    view.negative = sum(d.negative for d in days)

    spiked = {(s.day, s.kind) for s in spikes}
    daily = DataTable("days", t("social.days"), [
        Column(t("social.col.day"), "date"), Column(t("social.col.mentions"), "int"), Column(t("social.col.analysed"), "int"),
        Column(t("fb.positive_share"), "percent"), Column(t("fb.negative_share"), "percent"),
        Column(t("social.col.volume_spike"), "flag"), Column(t("social.col.share_spike"), "flag"),
    ])  # fmt: skip
    for index, d in enumerate(days):
        daily.rows.append([d.day, d.mentions, d.analysed, _percent(d.positive_share), _percent(d.negative_share),
                           (d.day, "volume") in spiked, (d.day, "negative_share") in spiked])  # fmt: skip
        if d.day >= filters.today:
            daily.partial_rows.add(index)
    view.tables["days"] = daily

    local, label = ZoneInfo(zone), Labels(locale)
    waiting = DataTable("queue", t("social.queue"), [
        Column(t("fb.time")), Column(t("fb.channel")), Column(t("social.source")), Column(t("fb.author")),
        Column(t("social.col.text")), Column(t("fb.sentiment")), Column(t("social.why.question"), "flag"),
        Column(t("social.col.handled_by")), Column(t("social.note")),
    ])  # fmt: skip
    for item in queue.items:
        waiting.rows.append([
            as_utc(item.occurred_at).astimezone(local).strftime("%Y-%m-%d %H:%M"), label("channel", item.channel),
            item.source, item.author or "—", item.text, t(f"fb.{item.sentiment}") if item.sentiment else "—",
            item.question, item.handled_by or "", item.note,
        ])  # fmt: skip
    view.tables["queue"] = waiting

    terms = DataTable("terms", t("social.terms"), [
        Column(t("social.col.term")), Column(t("social.col.kind")), Column(t("social.col.channels")), Column(t("social.col.mentions"), "int"),
    ])  # fmt: skip
    terms.rows = [[term.term, t(f"social.kind.{term.kind}"), ", ".join(label("channel", c) for c in term.channels),
                   term.mentions] for term in view.terms]  # fmt: skip
    view.tables["terms"] = terms
    return view


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100
