"""The dashboard's metric source: answers from a cached daily roll-up, kept up to date day by day.

A page asks for the same few numbers (this period, the previous one, a trend, by segment) many times a day.
The roll-up (``metrics.engine.daily_statistics``) is one scan of the answers and invitations; it is kept per
workspace and, when the data changes, only the days that changed are computed again. Any query it cannot
answer (a slice by touchpoint, city…) goes to the raw answers. Both paths give identical numbers
(tests/metrics/test_daily.py, tests/dashboard/test_service.py).

What changed is read from a data-version stamp: the newest id and ``updated_at`` of responses and
invitations, and the newest change and count of customers and surveys (all indexed). New or changed
responses and invitations mark their days for a recount, and so do those of a changed customer (their
segment may have changed). A change to surveys (a key), a deletion (only through customers or surveys), an
erasure (it deletes the customer's invitations and detaches their responses: docs/privacy.md) or a very large
change recounts everything.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.customers.models import Customer, CustomerErasure
from patron.metrics import engine
from patron.metrics.engine import DailyStatistics, MetricQuery
from patron.surveys.models import Survey, SurveyInvitation, SurveyResponse

MAX_WORKSPACES = 32
#: Writers stamp ``updated_at`` before they commit; rows stamped up to this long before the last count began are
#: looked at again, so a transaction that committed during or just after that count is not missed.
LATE_COMMIT = timedelta(minutes=5)
#: Past these, a full recount is cheaper than listing what changed.
MAX_RECOUNTED_RESPONSES = 50_000
MAX_RECOUNTED_DAYS = 120
MAX_CHANGED_CUSTOMERS = 500


@dataclass(frozen=True)
class Stamp:
    responses: tuple[Any, Any]  # newest id, newest updated_at
    invitations: tuple[Any, Any]
    others: tuple[Any, ...]  # customers' and surveys' newest updated_at and count, erasures' count


_lock = threading.Lock()


@dataclass(frozen=True)
class _Entry:
    stamp: Stamp
    counted_at: datetime  # when the count began: later changes are after it
    frames: DailyStatistics


_cache: OrderedDict[tuple[str, int, str], _Entry] = OrderedDict()


def data_stamp(session: Session, workspace_id: int) -> Stamp:
    def newest(model: Any, column: Any) -> Any:
        return select(func.max(column)).where(model.workspace_id == workspace_id).scalar_subquery()

    def count(model: Any) -> Any:
        return (
            select(func.count())
            .select_from(model)
            .where(model.workspace_id == workspace_id)
            .scalar_subquery()
        )

    row = session.execute(select(
        newest(SurveyResponse, SurveyResponse.id), newest(SurveyResponse, SurveyResponse.updated_at),
        newest(SurveyInvitation, SurveyInvitation.id), newest(SurveyInvitation, SurveyInvitation.updated_at),
        newest(Customer, Customer.updated_at), count(Customer), newest(Survey, Survey.updated_at), count(Survey),
        count(CustomerErasure),
    )).one()  # fmt: skip
    return Stamp((row[0], row[1]), (row[2], row[3]), tuple(row[4:]))


def _day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """When the calendar ``day`` starts and ends in ``zone`` (23 or 25 hours apart on a clock change)."""
    start, end = engine.day_start(day, zone), engine.day_start(day + timedelta(days=1), zone)
    return start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)


def local_days(since: date, until: date, zone: str) -> tuple[datetime, datetime]:
    """The UTC instants where the calendar days ``since``…``until`` (inclusive) in ``zone`` begin and end."""
    return _day_bounds(since, zone)[0], _day_bounds(until, zone)[1]


def workspace_zone(session: Session, workspace_id: int) -> str:
    """The workspace's time zone: the dashboard's days are its calendar days."""
    return session.scalar(select(Workspace.timezone).where(Workspace.id == workspace_id)) or "UTC"


def completed_between(
    workspace_id: int, since: date, until: date, survey: str | None, where: tuple[tuple[str, str], ...],
    zone: str,
) -> list[Any]:  # fmt: skip
    """Conditions on survey_responses: completed on the days ``since``…``until`` in ``zone``, of ``survey``
    when given, of customers whose attributes (segment, city) equal the ``where`` values."""
    r, c = SurveyResponse, Customer
    conditions: list[Any] = [
        r.workspace_id == workspace_id,
        r.status == "completed",
        r.completed_at >= local_days(since, until, zone)[0],
        r.completed_at < local_days(since, until, zone)[1],
    ]
    if survey is not None:
        conditions.append(
            r.survey_id.in_(
                select(Survey.id).where(Survey.workspace_id == workspace_id, Survey.key == survey)
            )
        )
    for dimension, value in where:
        column = {"segment": c.segment, "city": c.city}.get(dimension)
        if column is None:
            raise PatronError("metrics.unknown_dimension", dimension=dimension, choices="segment, city")
        conditions.append(
            r.customer_id.in_(select(c.id).where(c.workspace_id == workspace_id, column == value))
        )
    return conditions


def _local_days(moments: Iterable[datetime | None], zone: str) -> set[date]:
    tz = ZoneInfo(zone)
    return {moment.astimezone(tz).date() for moment in moments if moment is not None}


def _replace_days(frame: pd.DataFrame, fresh: pd.DataFrame, days: set[date]) -> pd.DataFrame:
    kept = frame[~frame["day"].isin([pd.Timestamp(day) for day in days])]
    return pd.concat([kept, fresh], ignore_index=True) if len(fresh) else kept.reset_index(drop=True)


@dataclass
class _Changes:
    """The days (in the workspace's zone) whose counts may have changed since the last count."""

    response_days: set[date]
    invitation_days: set[date]


def _changes(
    session: Session, workspace_id: int, before: Stamp, now: Stamp, since: datetime, zone: str
) -> _Changes | None:
    """What changed from ``before`` to ``now`` (rows stamped from ``since`` on), or None when only a full
    recount is safe: surveys changed (a key), customers were deleted (with their responses) or erased, or too
    many customers changed at once."""
    customers_before, customers_now = before.others[:2], now.others[:2]
    if before.others[2:] != now.others[2:] or now.others[1] < before.others[1]:
        return None
    r, i, c = SurveyResponse, SurveyInvitation, Customer
    changes = _Changes(set(), set())
    if now.responses != before.responses:
        changes.response_days |= _local_days(session.scalars(
            select(r.completed_at).where(r.workspace_id == workspace_id, r.updated_at >= since)), zone)  # fmt: skip
    if now.invitations != before.invitations:
        changes.invitation_days |= _local_days(session.scalars(
            select(i.sent_at).where(i.workspace_id == workspace_id, i.updated_at >= since)), zone)  # fmt: skip
    if customers_now != customers_before:
        # a customer's segment may have changed: recount the days of their responses and invitations
        changed = select(c.id).where(c.workspace_id == workspace_id, c.updated_at >= since)
        if (
            session.scalar(select(func.count()).select_from(changed.subquery())) or 0
        ) > MAX_CHANGED_CUSTOMERS:
            return None
        changes.response_days |= _local_days(session.scalars(
            select(r.completed_at).where(r.workspace_id == workspace_id, r.customer_id.in_(changed))), zone)  # fmt: skip
        changes.invitation_days |= _local_days(session.scalars(
            select(i.sent_at).where(i.workspace_id == workspace_id, i.customer_id.in_(changed))), zone)  # fmt: skip
    return changes


def _completed_on(session: Session, workspace_id: int, days: set[date], zone: str) -> list[int] | None:
    """Ids of the responses completed on the days, day by day through the (workspace, survey, completed_at)
    index; None past MAX_RECOUNTED_RESPONSES."""
    r = SurveyResponse
    survey_ids = list(session.scalars(select(Survey.id).where(Survey.workspace_id == workspace_id)))
    ids: list[int] = []
    for start, end in (_day_bounds(day, zone) for day in sorted(days)):
        ids += session.scalars(select(r.id).where(
            r.workspace_id == workspace_id, r.survey_id.in_(survey_ids), r.completed_at >= start, r.completed_at < end,
            r.status == "completed"))  # fmt: skip
        if len(ids) > MAX_RECOUNTED_RESPONSES:
            return None
    return ids


def _refreshed(con: ibis.BaseBackend, session: Session, workspace_id: int, entry: _Entry,
               now: Stamp, zone: str) -> DailyStatistics | None:  # fmt: skip
    """The roll-up brought from the entry's stamp to ``now`` by recounting the changed days, or None when it
    needs a full recount."""
    changes = _changes(session, workspace_id, entry.stamp, now, entry.counted_at - LATE_COMMIT, zone)
    if changes is None:
        return None
    frames = entry.frames
    answers, responses, invitations = frames.answers, frames.responses, frames.invitations
    if len(changes.response_days) > MAX_RECOUNTED_DAYS:
        return None
    if changes.response_days:
        ids = _completed_on(session, workspace_id, changes.response_days, zone)
        if ids is None:
            return None
        answers = _replace_days(
            answers, engine.daily_answers(con, workspace_id, ids, zone), changes.response_days
        )
        responses = _replace_days(
            responses, engine.daily_responses(con, workspace_id, ids, zone), changes.response_days
        )
    if changes.invitation_days:
        if len(changes.invitation_days) > MAX_RECOUNTED_DAYS:
            invitations = engine.daily_invitations(con, workspace_id, zone=zone)
        else:
            days = sorted(changes.invitation_days)
            fresh = engine.daily_invitations(con, workspace_id, sent_days=days, zone=zone)
            invitations = _replace_days(invitations, fresh, changes.invitation_days)
    return DailyStatistics(answers, invitations, responses)


def daily(con: ibis.BaseBackend, session: Session, workspace_id: int, zone: str) -> DailyStatistics:
    """The workspace's roll-up as of now, by calendar days in ``zone``: cached, brought up to date day by
    day, or computed in full."""
    key = (session.connection().engine.url.render_as_string(), workspace_id, zone)
    counted_at = utcnow()
    stamp = data_stamp(session, workspace_id)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached.stamp == stamp:
            _cache.move_to_end(key)
            return cached.frames
    fresh = None if cached is None else _refreshed(con, session, workspace_id, cached, stamp, zone)
    if fresh is None:
        fresh = engine.daily_statistics(con, workspace_id, zone)
    with _lock:
        _cache[key] = _Entry(stamp, counted_at, fresh)
        _cache.move_to_end(key)
        while len(_cache) > MAX_WORKSPACES:
            _cache.popitem(last=False)
    return fresh


def warm_up(con_for_thread: Callable[[], ibis.BaseBackend], session_factory: Callable[[], Session]) -> int:
    """Count the roll-up of every workspace that has answers (run in the background at server start)."""
    con = con_for_thread()
    with session_factory() as session:
        ids = list(session.scalars(select(SurveyResponse.workspace_id).distinct()))
        for workspace_id in ids:
            daily(con, session, workspace_id, workspace_zone(session, workspace_id))
    return len(ids)


class MetricSource:
    """Where a page's numbers come from: the cached roll-up when it can answer (slices and filters by segment
    and survey), the raw answers otherwise; ``cached=False`` always reads the raw data (tests compare both)."""

    def __init__(
        self, con: ibis.BaseBackend, session: Session, workspace_id: int, zone: str, *, cached: bool = True
    ):
        self.con, self.session, self.workspace_id, self.cached = con, session, workspace_id, cached
        self.zone = zone  # the workspace's: its pages count calendar days there
        self._daily: DailyStatistics | None = None

    def _rollup(self) -> DailyStatistics:
        if self._daily is None:
            self._daily = daily(self.con, self.session, self.workspace_id, self.zone)
        return self._daily

    def metric(self, query: MetricQuery) -> list[dict[str, Any]]:
        dimensions = (*query.by, *(name for name, _ in query.where))
        if not self.cached or any(d not in engine.DAILY_DIMENSIONS for d in dimensions):
            return engine.metric(self.con, self.workspace_id, replace(query, time_zone=self.zone))
        return engine.from_daily(self._rollup(), query)

    def responses(
        self, since: date, until: date, survey: str | None, where: tuple[tuple[str, str], ...]
    ) -> int:
        """Completed responses in the days, of any survey type."""
        if self.cached:
            return engine.responses_from_daily(self._rollup(), since, until, survey, where)
        conditions = completed_between(self.workspace_id, since, until, survey, where, self.zone)
        query = select(func.count()).select_from(SurveyResponse).where(*conditions)
        return int(self.session.scalar(query) or 0)
