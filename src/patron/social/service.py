"""Social listening: tracked terms, the daily series of items mentioning them and its spikes
(definitions and rules: docs/social.md)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scipy.stats import poisson
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from patron.core.clock import as_utc, today_in, utcnow
from patron.core.errors import PatronError
from patron.feedback.models import CHANNELS, FeedbackItem
from patron.feedback.service import rise_p_value
from patron.social.matching import match_term, normalised_term
from patron.social.models import DEFAULT_CHANNELS, SocialMention, SocialReply, SocialTerm
from patron.social.schemas import DayFigures, QueueItem, QueuePage, SocialSpike, TermRead

MAX_TERMS = 200
TERM_KINDS = ("brand", "keyword")


# ------------------------------------------------------------------------------------------------------ terms
def _read(term: SocialTerm, mentions: int) -> TermRead:
    return TermRead(id=term.id, term=term.term, normalised=term.normalised, kind=term.kind,
                    channels=list(term.channels), mentions=mentions, created_at=term.created_at,
                    created_by=term.created_by)  # fmt: skip


def list_terms(session: Session, *, workspace_id: int) -> list[TermRead]:
    query = (
        select(SocialMention.term_id, func.count())
        .where(SocialMention.workspace_id == workspace_id)
        .group_by(SocialMention.term_id)
    )
    counts: dict[int, int] = dict(session.execute(query).all())
    terms = session.scalars(
        select(SocialTerm).where(SocialTerm.workspace_id == workspace_id).order_by(SocialTerm.id)
    )
    return [_read(term, counts.get(term.id, 0)) for term in terms]


def add_term(
    session: Session,
    *,
    workspace_id: int,
    term: str,
    kind: str = "keyword",
    channels: Sequence[str] | None = None,
    actor: str = "",
) -> TermRead:
    """Track a term and match it against every stored item in its channels now."""
    shown = " ".join(term.split())
    if not shown or len(shown) > 100 or any(ord(char) < 32 for char in term):
        raise PatronError("social.bad_term", status=422, term=term[:40])
    if kind not in TERM_KINDS:
        raise PatronError("social.bad_kind", status=422, kind=kind[:20])
    chosen = tuple(dict.fromkeys(channels)) if channels else DEFAULT_CHANNELS
    for channel in chosen:
        if channel not in CHANNELS:
            raise PatronError("social.bad_channel", status=422, channel=channel[:20])
    normalised = normalised_term(shown)
    taken = session.scalar(
        select(SocialTerm.term).where(
            SocialTerm.workspace_id == workspace_id, SocialTerm.normalised == normalised
        )
    )
    if taken is not None:
        raise PatronError("social.term_exists", status=409, term=taken)
    count = session.scalar(select(func.count()).where(SocialTerm.workspace_id == workspace_id)) or 0
    if count >= MAX_TERMS:
        raise PatronError("social.too_many_terms", status=422, limit=MAX_TERMS)
    row = SocialTerm(workspace_id=workspace_id, term=shown, normalised=normalised, kind=kind,
                     channels=list(chosen), created_at=utcnow(), created_by=actor)  # fmt: skip
    session.add(row)
    session.flush()
    written = match_term(session, workspace_id=workspace_id, term=row)
    return _read(row, written)


def remove_term(session: Session, *, workspace_id: int, term_id: int) -> None:
    row = session.scalar(
        select(SocialTerm).where(SocialTerm.workspace_id == workspace_id, SocialTerm.id == term_id)
    )
    if row is None:
        raise PatronError("social.term_not_found", status=404, term=str(term_id))
    session.execute(
        delete(SocialMention).where(
            SocialMention.workspace_id == workspace_id, SocialMention.term_id == term_id
        )
    )
    session.delete(row)
    session.flush()


def find_term(session: Session, *, workspace_id: int, term: str) -> int:
    """A term's id by its id or its text (any script or width)."""
    wanted = normalised_term(term)
    found = session.scalar(
        select(SocialTerm.id).where(SocialTerm.workspace_id == workspace_id, SocialTerm.normalised == wanted)
    )
    if found is None and term.isdigit() and len(term) <= 18:
        found = session.scalar(
            select(SocialTerm.id).where(SocialTerm.workspace_id == workspace_id, SocialTerm.id == int(term))
        )
    if found is None:
        raise PatronError("social.term_not_found", status=404, term=term[:40])
    return found


# ------------------------------------------------------------------------------------------------ daily series
def daily(
    session: Session,
    *,
    workspace_id: int,
    timezone: str,
    since: date,
    until: date,
    term_id: int | None = None,
) -> list[DayFigures]:
    """Every day from ``since`` to ``until`` (inclusive, the workspace's calendar, days without mentions as 0):
    items mentioning any tracked term (or ``term_id``) — an item mentioning two terms counts once — and, of those
    analysed, the positive and negative shares."""
    if since > until:
        raise PatronError("metrics.empty_period", since=since.isoformat(), until=until.isoformat())
    zone = ZoneInfo(timezone)
    start = as_utc(datetime.combine(since, time(), zone))
    end = as_utc(datetime.combine(until + timedelta(days=1), time(), zone))
    query = (
        select(SocialMention.item_id, SocialMention.occurred_at, FeedbackItem.sentiment)
        .join(
            FeedbackItem,
            (FeedbackItem.workspace_id == SocialMention.workspace_id)
            & (FeedbackItem.id == SocialMention.item_id),
        )
        .where(
            SocialMention.workspace_id == workspace_id,
            SocialMention.occurred_at >= start,
            SocialMention.occurred_at < end,
        )
    )
    if term_id is not None:
        query = query.where(SocialMention.term_id == term_id)
    seen: set[int] = set()
    counts: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for item_id, occurred_at, sentiment in session.execute(query):
        if item_id in seen:
            continue
        seen.add(item_id)
        day = as_utc(occurred_at).astimezone(zone).date()
        figures = counts[day]
        figures[0] += 1
        if sentiment is not None:
            figures[1] += 1
            figures[2] += sentiment == "positive"
            figures[3] += sentiment == "negative"
    result = []
    day = since
    while day <= until:
        mentions, analysed, positive, negative = counts.get(day, [0, 0, 0, 0])
        result.append(DayFigures(
            day=day, mentions=mentions, analysed=analysed, positive=positive, negative=negative,
            positive_share=positive / analysed if analysed else None,
            negative_share=negative / analysed if analysed else None,
        ))  # fmt: skip
        day += timedelta(days=1)
    return result


# ------------------------------------------------------------------------------------------------------ spikes
#: A day is a volume spike when its mentions are at least VOLUME_MIN_COUNT and VOLUME_MIN_RATIO times the
#: previous BASELINE_DAYS days' mean, and the Poisson upper tail P(X >= count) at that mean (at least
#: VOLUME_BASELINE_FLOOR) is below VOLUME_ALPHA. The ratio keeps busy workspaces' weekends (real counts vary
#: more than Poisson) from alarming; bench/social_spikes.py measures the rule.
BASELINE_DAYS = 28
VOLUME_ALPHA = 0.001
VOLUME_MIN_COUNT = 5
VOLUME_MIN_RATIO = 1.5
VOLUME_BASELINE_FLOOR = 0.5
#: A day is a negative-share spike when it has at least SHARE_MIN_ANALYSED analysed mentions (and the previous
#: BASELINE_DAYS days too), its negative share is at least SHARE_RISE_POINTS above theirs, and the feedback
#: domain's rise_p_value (one-sided two-proportion z-test) is below SHARE_ALPHA.
SHARE_MIN_ANALYSED = 10
SHARE_RISE_POINTS = 15.0
SHARE_ALPHA = 0.001


@dataclass(frozen=True)
class Day:
    mentions: int
    analysed: int
    negative: int


def volume_p_value(count: int, baseline: float) -> float:
    """P(X >= count) for X ~ Poisson(max(baseline, VOLUME_BASELINE_FLOOR))."""
    return float(poisson.sf(count - 1, max(baseline, VOLUME_BASELINE_FLOOR)))


def series_spikes(
    days: Sequence[date], series: Sequence[Day], *, first: int = BASELINE_DAYS
) -> list[SocialSpike]:
    """Spikes on every day from index ``first`` on, each judged against the BASELINE_DAYS days before it."""
    spikes = []
    for index in range(max(first, BASELINE_DAYS), len(series)):
        today = series[index]
        window = series[index - BASELINE_DAYS : index]
        baseline = sum(day.mentions for day in window) / BASELINE_DAYS
        if today.mentions >= max(VOLUME_MIN_COUNT, VOLUME_MIN_RATIO * baseline):
            p_value = volume_p_value(today.mentions, baseline)
            if p_value < VOLUME_ALPHA:
                spikes.append(SocialSpike(day=days[index], kind="volume", value=today.mentions,
                                          baseline=baseline, p_value=p_value))  # fmt: skip
        before_analysed = sum(day.analysed for day in window)
        before_negative = sum(day.negative for day in window)
        if today.analysed >= SHARE_MIN_ANALYSED and before_analysed >= SHARE_MIN_ANALYSED:
            share, before_share = today.negative / today.analysed, before_negative / before_analysed
            p_value = rise_p_value(today.negative, today.analysed, before_negative, before_analysed)
            if (share - before_share) * 100 >= SHARE_RISE_POINTS and p_value < SHARE_ALPHA:
                spikes.append(SocialSpike(day=days[index], kind="negative_share", value=share,
                                          baseline=before_share, p_value=p_value))  # fmt: skip
    return spikes


def spikes(
    session: Session,
    *,
    workspace_id: int,
    timezone: str,
    since: date,
    until: date,
    term_id: int | None = None,
) -> list[SocialSpike]:
    """Spikes on the days from ``since`` to ``until``, newest first."""
    figures = daily(session, workspace_id=workspace_id, timezone=timezone,
                    since=since - timedelta(days=BASELINE_DAYS), until=until, term_id=term_id)  # fmt: skip
    found = series_spikes(
        [f.day for f in figures], [Day(f.mentions, f.analysed, f.negative) for f in figures]
    )
    return sorted(found, key=lambda spike: (spike.day, spike.kind), reverse=True)


# ------------------------------------------------------------------------------------------------------ periods
DEFAULT_DAYS = 30


def period(timezone: str, since: str | None, until: str | None) -> tuple[date, date]:
    """The days asked for (YYYY-MM-DD, the workspace's calendar); by default the 30 days ending yesterday."""

    def day(value: str | None, name: str) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise PatronError("dashboard.bad_date", field=name, value=value[:40]) from None

    last = day(until, "until") or today_in(timezone) - timedelta(days=1)
    first = day(since, "since") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise PatronError("metrics.empty_period", since=first.isoformat(), until=last.isoformat())
    if (last - first).days > 3660 or first.year < 1900 or last.year > 9000:
        raise PatronError("social.period_too_long", status=422, days=3660)
    return first, last


# ------------------------------------------------------------------------------------------------- reply queue
#: A question: a question mark (full-width folds to ``?``), 吗 / 請問 (Simplified in the analysis copy), or an
#: English text that opens with a question word.
_QUESTION_WORDS = ("how", "why", "what", "when", "where", "who", "which", "can", "could", "is", "are", "do", "does",
                   "did", "will", "would")  # fmt: skip
_QUESTION = re.compile(r"\?|吗|请问|^(?:" + "|".join(_QUESTION_WORDS) + r")\b", re.IGNORECASE)
QUEUE_STATES = ("open", "handled", "all")


def is_question(analysis_text: str) -> bool:
    return _QUESTION.search(analysis_text) is not None


def _queue_candidates(workspace_id: int) -> Any:
    """Items that may need a reply: reviews and items mentioning a tracked term, negative or asking a question
    (the question test runs in Python: ``queue`` filters the rest)."""
    mentioned = select(SocialMention.item_id).where(SocialMention.workspace_id == workspace_id)
    return (
        select(FeedbackItem, SocialReply)
        .outerjoin(
            SocialReply,
            (SocialReply.workspace_id == FeedbackItem.workspace_id)
            & (SocialReply.item_id == FeedbackItem.id),
        )
        .where(
            FeedbackItem.workspace_id == workspace_id,
            or_(FeedbackItem.channel == "review", FeedbackItem.id.in_(mentioned)),
            # A coarse filter in the database; ``_queued`` applies the exact rule.
            or_(
                FeedbackItem.sentiment == "negative",
                FeedbackItem.analysis_text.contains("?", autoescape=True),
                FeedbackItem.analysis_text.contains("吗"),
                FeedbackItem.analysis_text.contains("请问"),
                *(
                    func.lower(func.substr(FeedbackItem.analysis_text, 1, 6)).like(f"{word}%")
                    for word in _QUESTION_WORDS
                ),
            ),
        )
        .order_by(FeedbackItem.occurred_at.desc(), FeedbackItem.id.desc())
    )


def _queued(item: FeedbackItem, reply: SocialReply | None) -> QueueItem | None:
    question = is_question(item.analysis_text)
    if item.sentiment != "negative" and not question:
        return None
    return QueueItem(
        item_id=item.id, channel=item.channel, source=item.source, occurred_at=item.occurred_at, author=item.author,
        text=item.masked_text, sentiment=item.sentiment, question=question, reply_to=item.reply_to,
        handled=bool(reply and reply.handled), handled_by=reply.handled_by if reply else None,
        handled_at=reply.handled_at if reply else None, note=reply.note if reply else "",
        reopened_by=reply.reopened_by if reply else None, reopened_at=reply.reopened_at if reply else None,
    )  # fmt: skip


def queue(
    session: Session, *, workspace_id: int, state: str = "open", offset: int = 0, limit: int = 50
) -> QueuePage:
    """Mentions and reviews that need a reply (negative, or a question), newest first: ``open`` ones not yet
    handled, ``handled`` ones with who handled them, or ``all``."""
    if state not in QUEUE_STATES:
        raise PatronError("social.bad_state", status=422, state=state[:20])
    found: list[QueueItem] = []
    for item, reply in session.execute(_queue_candidates(workspace_id)):
        queued = _queued(item, reply)
        if (
            queued is None
            or (state == "open" and queued.handled)
            or (state == "handled" and not queued.handled)
        ):
            continue
        found.append(queued)
    return QueuePage(items=found[offset : offset + limit], total=len(found))


def _queue_item(session: Session, workspace_id: int, item_id: int) -> tuple[QueueItem, SocialReply | None]:
    row = session.execute(_queue_candidates(workspace_id).where(FeedbackItem.id == item_id)).first()
    queued = None if row is None else _queued(row[0], row[1])
    if row is None or queued is None:
        raise PatronError("social.not_in_queue", status=404, item=item_id)
    return queued, row[1]


def handle(session: Session, *, workspace_id: int, item_id: int, actor: str, note: str = "") -> QueueItem:
    """Mark a queued item handled: who, when, a note."""
    queued, reply = _queue_item(session, workspace_id, item_id)
    if queued.handled:
        raise PatronError("social.already_handled", status=409, item=item_id, who=queued.handled_by or "")
    if reply is None:
        reply = SocialReply(workspace_id=workspace_id, item_id=item_id)
        session.add(reply)
    reply.handled, reply.handled_by, reply.handled_at, reply.note = True, actor, utcnow(), note.strip()[:1000]
    session.flush()
    return _queue_item(session, workspace_id, item_id)[0]


def reopen(session: Session, *, workspace_id: int, item_id: int, actor: str) -> QueueItem:
    """Put a handled item back in the open queue (who handled it and the note stay to read)."""
    queued, reply = _queue_item(session, workspace_id, item_id)
    if not queued.handled or reply is None:
        raise PatronError("social.not_handled", status=409, item=item_id)
    reply.handled, reply.reopened_by, reply.reopened_at = False, actor, utcnow()
    session.flush()
    return _queue_item(session, workspace_id, item_id)[0]
