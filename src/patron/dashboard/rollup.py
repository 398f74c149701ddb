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
from collections.abc import Callable
from typing import Any

import ibis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.customers.models import Customer
from patron.metrics import engine
from patron.metrics.engine import DailyStatistics, MetricQuery
from patron.surveys.models import Survey, SurveyInvitation, SurveyResponse

Runner = Callable[[MetricQuery], list[dict[str, Any]]]
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


def runner(con: ibis.BaseBackend, session: Session, workspace_id: int) -> Runner:
    """Runs a metric query from the roll-up when its slices and filters are the roll-up's, else on the raw
    answers. The roll-up is fetched on first need only."""
    held: list[DailyStatistics] = []

    def run(query: MetricQuery) -> list[dict[str, Any]]:
        dimensions = (*query.by, *(name for name, _ in query.where))
        if any(d not in engine.DAILY_DIMENSIONS for d in dimensions):
            return engine.metric(con, workspace_id, query)
        if not held:
            held.append(daily(con, session, workspace_id))
        return engine.from_daily(held[0], query)

    return run
