"""The dashboard's metric runner: answers from a cached daily roll-up while the data is unchanged.

A page asks for the same few numbers (this period, the previous one, a trend, by segment) many times a day
while the answers change far less often. The roll-up (``metrics.engine.daily_statistics``) is one scan of the
answers and invitations; it is kept per workspace until the data-version stamp below changes, and any query
it cannot answer (a slice by touchpoint, city…) goes to the raw answers. Both paths give identical numbers
(tests/metrics/test_daily.py).

The stamp is the newest change to each table the numbers depend on, read through indexes in one statement;
rows are deleted only through their customer or survey (cascades), so those two tables are counted too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import ibis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.customers.models import Customer
from patron.metrics import engine
from patron.metrics.engine import DailyStatistics, MetricQuery
from patron.surveys.models import Survey, SurveyInvitation, SurveyResponse

MAX_WORKSPACES = 32
_lock = threading.Lock()
_cache: OrderedDict[tuple[str, int], tuple[tuple[Any, ...], DailyStatistics]] = OrderedDict()


def data_stamp(session: Session, workspace_id: int) -> tuple[Any, ...]:
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
    )).one()  # fmt: skip
    return tuple(row)


def daily(con: ibis.BaseBackend, session: Session, workspace_id: int) -> DailyStatistics:
    """The workspace's roll-up, computed again only when its data changed since it was last computed."""
    key = (session.connection().engine.url.render_as_string(), workspace_id)
    stamp = data_stamp(session, workspace_id)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == stamp:
            _cache.move_to_end(key)
            return cached[1]
    fresh = engine.daily_statistics(con, workspace_id)
    with _lock:
        _cache[key] = (stamp, fresh)
        _cache.move_to_end(key)
        while len(_cache) > MAX_WORKSPACES:
            _cache.popitem(last=False)
    return fresh


class MetricSource:
    """Where a page's numbers come from: the cached roll-up when it can answer (slices and filters by segment
    and survey), the raw answers otherwise; ``cached=False`` always reads the raw data (tests compare both)."""

    def __init__(self, con: ibis.BaseBackend, session: Session, workspace_id: int, *, cached: bool = True):
        self.con, self.session, self.workspace_id, self.cached = con, session, workspace_id, cached
        self._daily: DailyStatistics | None = None

    def _rollup(self) -> DailyStatistics:
        if self._daily is None:
            self._daily = daily(self.con, self.session, self.workspace_id)
        return self._daily

    def metric(self, query: MetricQuery) -> list[dict[str, Any]]:
        dimensions = (*query.by, *(name for name, _ in query.where))
        if not self.cached or any(d not in engine.DAILY_DIMENSIONS for d in dimensions):
            return engine.metric(self.con, self.workspace_id, query)
        return engine.from_daily(self._rollup(), query)

    def responses(
        self, since: date, until: date, survey: str | None, where: tuple[tuple[str, str], ...]
    ) -> int:
        """Completed responses in the days, of any survey type."""
        if self.cached:
            return engine.responses_from_daily(self._rollup(), since, until, survey, where)
        r, c, v = SurveyResponse, Customer, Survey
        start = datetime.combine(since, time.min, tzinfo=UTC)
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
        query = (
            select(func.count())
            .select_from(r)
            .where(
                r.workspace_id == self.workspace_id,
                r.status == "completed",
                r.completed_at >= start,
                r.completed_at < end,
            )
        )
        if survey is not None:
            query = query.where(
                r.survey_id.in_(select(v.id).where(v.workspace_id == self.workspace_id, v.key == survey))
            )
        for dimension, value in where:
            column = {"segment": c.segment, "city": c.city}.get(dimension)
            if column is None:
                raise PatronError("metrics.unknown_dimension", dimension=dimension, choices="segment, city")
            query = query.where(
                r.customer_id.in_(select(c.id).where(c.workspace_id == self.workspace_id, column == value))
            )
        return int(self.session.scalar(query) or 0)
