"""Satisfaction metrics written once as Ibis expressions, run where the data lives.

The database computes only sufficient statistics per group (counts, sums, sums of squares), which every
backend computes identically; the estimates and intervals come from ``metrics.stats``. That keeps the two
known cross-backend traps out of the numbers: PostgreSQL truncating integer division, and integer sums
coming back as Decimal (every sum is cast to float64 before it is summed).

The statistics are computed in steps (``_statistics``): the database counts answers per score, slice and
local day, then sums those counts per slice and day; the days are gathered into periods here. Every
statistic is a count or a sum, so the numbers are those of one pass; on DuckDB at 100M answers it took the three metrics
from 2.5 s to 1.2 s (truncating 100M timestamps and summing floats row by row was most of the time), and
0.6 s over an export in its order (docs/benchmarks.md).

Days are the workspace's calendar days (``MetricQuery.time_zone``): a day number computed from the UTC
epoch second plus the zone's offset at that moment, which every backend computes the same way (SQLite has
no time zones, and Ibis cannot add intervals to its timestamps).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.common.exceptions import TableNotFound

from patron.core.clock import utcnow
from patron.core.errors import PatronError
from patron.metrics import stats

METRICS: tuple[str, ...] = ("nps", "csat", "ces", "response_rate")
#: Customer and response attributes a metric can be sliced by.
DIMENSIONS: tuple[str, ...] = ("segment", "city", "locale", "touchpoint", "channel", "survey", "category")
#: A response about an order belongs to every product category in that order (an order with tea and teaware
#: counts once under each); a response without an order is "(none)". Operational database only.
CATEGORY = "category"
GRAINS = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
#: CSAT counts as satisfied from this score up, per scale (top-two box on 5, top-three box on 10). Each answer
#: is read on its own question's scale (``survey_answers.scale_max``), so no caller names a scale.
CSAT_TOP_BOX = {5: 4, 10: 8}
#: The scale of a CSAT answer that records none: an export written before answers recorded their scale.
CSAT_DEFAULT_SCALE = 5


def connect(url: str) -> ibis.BaseBackend:
    """An Ibis connection for a SQLAlchemy-style URL: the operational SQLite or PostgreSQL database, or a
    DuckDB file holding a ``patron export`` of it."""
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    if scheme == "sqlite":
        return ibis.sqlite.connect(unquote(parsed.path))
    if scheme == "duckdb":
        return ibis.duckdb.connect(unquote(parsed.path) or ":memory:")
    if scheme in ("postgresql", "postgres"):
        return ibis.postgres.connect(
            host=parsed.hostname or "localhost", port=parsed.port or 5432, user=unquote(parsed.username or ""),
            password=unquote(parsed.password or "") or None, database=parsed.path.lstrip("/"),
        )  # fmt: skip
    raise PatronError("metrics.unsupported_backend", url=f"{scheme}://…")


FACTS = "answer_facts"
FACT_COLUMNS = (
    "question_type",
    "score",
    #: the ends of the answer's own question's scale (CSAT 1–5 or 1–10): its top box and normalised score
    "scale_min",
    "scale_max",
    "completed_at",
    #: the workspace's calendar day of ``completed_at``: a day number (days since 1970-01-01) on the
    #: operational database, a date in an export, where reading it instead of truncating 100M timestamps
    #: took DuckDB over Parquet from 1.53 s to 0.79 s
    "day",
    "touchpoint",
    "channel",
    "locale",
    "segment",
    "city",
    "survey",
)


SECONDS_PER_DAY = 86_400


@lru_cache
def utc_offsets(zone: str) -> tuple[tuple[int, int], ...]:
    """``(from epoch second, UTC offset in seconds)`` of ``zone`` from 1970 to ten years ahead, oldest first:
    found by probing each day and bisecting to the second where the offset changed."""
    tz = ZoneInfo(zone)

    def offset(second: int) -> int:
        delta = datetime.fromtimestamp(second, tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    end = int(datetime(utcnow().year + 10, 1, 1, tzinfo=UTC).timestamp())
    changes = [(0, offset(0))]
    for probe in range(SECONDS_PER_DAY, end, SECONDS_PER_DAY):
        if offset(probe) != changes[-1][1]:
            low, high = probe - SECONDS_PER_DAY, probe  # offset(low) is the old one, offset(high) the new
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == changes[-1][1] else (low, middle)
            changes.append((high, offset(high)))
    return tuple(changes)


def local_day_number(moment: ir.TimestampValue, zone: str) -> ir.IntegerValue:
    """Days since 1970-01-01 of the calendar day ``moment`` (UTC) falls on in ``zone``. The offset is one
    constant for zones without daylight saving since 1970; otherwise CASEs nested three deep over the changes
    (``_offset_at``), so a moment takes at most 13 comparisons for New York's 133 changes. One flat CASE,
    newest change first, took up to 133 for old data, each reading SQLite's stored text time again: CDNOW's
    1997 purchases in a New York workspace, retention 8.4 s → 2.0 s on SQLite."""
    seconds = moment.epoch_seconds()
    offsets = utc_offsets(zone)
    fan = max(2, math.ceil(len(offsets) ** (1 / 3)))  # deeper nesting overflows SQLite's parser stack
    return (seconds + _offset_at(seconds, offsets, fan)) // SECONDS_PER_DAY


def _offset_at(seconds: ir.IntegerValue, offsets: tuple[tuple[int, int], ...], fan: int) -> Any:
    """The UTC offset in force at ``seconds`` among ``offsets`` (before the first: the first's): a CASE over
    up to ``fan`` runs of the changes, newest run first, each run a CASE of the same kind."""
    if len(offsets) == 1:
        return ibis.literal(offsets[0][1])
    size = math.ceil(len(offsets) / fan)
    runs = [offsets[i : i + size] for i in range(0, len(offsets), size)]
    inner = [_offset_at(seconds, run, fan) for run in runs]
    return ibis.cases(*((seconds >= run[0][0], value) for run, value in reversed(list(zip(runs[1:], inner[1:], strict=True)))),
                      else_=inner[0])  # fmt: skip


def day_start(day: date, zone: str) -> datetime:
    """The UTC moment (naive, as the columns compare) the calendar ``day`` starts in ``zone``."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)


def answers_table(
    con: ibis.BaseBackend,
    workspace_id: int,
    question_types: tuple[str, ...],
    response_ids: list[int] | None = None,
    with_category: bool = False,
    zone: str = "UTC",
) -> ir.Table:
    """One row per completed answer of a type, with every attribute a metric may be sliced by; only those of
    ``response_ids`` when given; with a ``category`` column, one row per category of the response's order,
    when asked (both on the operational database only).

    An analytical copy (DuckDB over a Parquet export, Spark) holds these rows already joined, in
    ``answer_facts``; the operational database joins its normalised tables on the fly. ``day`` is the
    calendar day in ``zone`` (an export keeps the day of the zone it was written in)."""
    if response_ids is not None:
        return _operational_answers(con, workspace_id, question_types, response_ids, with_category, zone)
    try:
        # Asked for directly: ibis 12's list_tables() fails on duckdb 2 (it calls a removed method).
        f = con.table(FACTS)
    except TableNotFound:
        f = None
    if f is not None and with_category:
        raise PatronError("metrics.no_category_here")
    if f is not None:
        if "day" not in f.columns:  # an export written before the column was
            f = f.mutate(day=local_day_number(f.completed_at, zone))
        if "scale_max" not in f.columns:  # written before answers recorded their scale: read as 1–5, as then
            f = f.mutate(scale_min=ibis.null("int64"), scale_max=ibis.null("int64"))
        facts = f.filter(f.workspace_id == workspace_id, f.score.notnull())
        # One equality per type, unioned: the export is ordered by type, so each skips the other types' row
        # groups, where DuckDB evaluated an IN list row by row (0.55 s of 1.7 s at 100M answers).
        of_type = [facts.filter(facts.question_type == name).select(*FACT_COLUMNS) for name in question_types]
        return ibis.union(*of_type) if len(of_type) > 1 else of_type[0]
    return _operational_answers(con, workspace_id, question_types, None, with_category, zone)


def _ids_table(ids: list[int]) -> ir.Table:
    """Ids as an in-memory table (a temporary table in the database): compiling thousands of literals into an
    IN list took Ibis 8 s for 14,000 ids."""
    return ibis.memtable({"wanted_id": pd.Series(ids, dtype="int64")})


def _order_categories(con: ibis.BaseBackend, workspace_id: int) -> ir.Table:
    """Each order's external id with each distinct product category on its lines."""
    o, line, pr = con.table("orders"), con.table("order_lines"), con.table("products")
    orders = o.filter(o.workspace_id == workspace_id).select(oid=o.id, order_ref=o.external_id)
    lines = line.filter(line.workspace_id == workspace_id).select(
        line_order=line.order_id, product_ref=line.product_id
    )
    products = pr.filter(pr.workspace_id == workspace_id).select(pid=pr.id, category=pr.category)
    joined = orders.join(lines, orders.oid == lines.line_order).join(
        products, lines.product_ref == products.pid
    )
    return joined.select("order_ref", "category").distinct()


def _operational_answers(
    con: ibis.BaseBackend,
    workspace_id: int,
    question_types: tuple[str, ...],
    response_ids: list[int] | None,
    with_category: bool,
    zone: str,
) -> ir.Table:
    a = con.table("survey_answers")
    r = con.table("survey_responses")
    c = con.table("customers")
    s = con.table("surveys")
    completed = r.filter(r.workspace_id == workspace_id, r.status == "completed")
    if response_ids is None:
        answered = a.filter(
            a.workspace_id == workspace_id, a.question_type.isin(question_types), a.score.notnull()
        )
    else:
        # Answers are found through their response ids only: with the workspace condition too, SQLite read
        # every answer of the workspace through that index (0.46 s at 1M) instead of the response_id index.
        # The workspace still holds: the responses they join are filtered by it.
        wanted = _ids_table(response_ids)
        answered = a.filter(
            a.response_id.isin(wanted.wanted_id), a.question_type.isin(question_types), a.score.notnull()
        )
        completed = completed.filter(completed.id.isin(wanted.wanted_id))
    answers = answered.select(
        response_id=answered.response_id, question_type=answered.question_type, score=answered.score,
        scale_min=answered.scale_min, scale_max=answered.scale_max,
    )  # fmt: skip
    responses = completed.select(
        rid=completed.id, survey_id=completed.survey_id, customer_ref=completed.customer_id,
        completed_at=completed.completed_at, day=local_day_number(completed.completed_at, zone), touchpoint=completed.touchpoint,
        channel=completed.channel, locale=completed.locale, response_order=completed.order_external_id,
    )  # fmt: skip
    customers = c.filter(c.workspace_id == workspace_id).select(cid=c.id, segment=c.segment, city=c.city)
    surveys = s.filter(s.workspace_id == workspace_id).select(sid=s.id, survey=s.key)
    joined = (
        answers.join(responses, answers.response_id == responses.rid)
        .left_join(customers, responses.customer_ref == customers.cid)
        .join(surveys, responses.survey_id == surveys.sid)
    )
    if not with_category:
        return joined.select(*FACT_COLUMNS)
    categories = _order_categories(con, workspace_id)
    with_orders = joined.left_join(categories, joined.response_order == categories.order_ref)
    return with_orders.select(*FACT_COLUMNS, CATEGORY)


def invitations_table(
    con: ibis.BaseBackend, workspace_id: int, sent_days: list[date] | None = None, zone: str = "UTC"
) -> ir.Table:
    """One row per invitation that went out (answered = 1 or 0), with the same slicing attributes; only
    those sent on ``sent_days`` (calendar days in ``zone``) when given."""
    i = con.table("survey_invitations")
    c = con.table("customers")
    s = con.table("surveys")
    went_out = i.filter(i.workspace_id == workspace_id, i.sent_at.notnull())
    if sent_days is not None:
        # one range per day, unioned: each is read through the (workspace, sent_at) index; one filter ORing the
        # ranges made SQLite scan from the first day on (2.3 s for 20 days at 2M invitations, 0.01 s for one)
        bounds = [(day_start(day, zone), day_start(day + timedelta(days=1), zone)) for day in sent_days]
        days = [went_out.filter(went_out.sent_at >= start, went_out.sent_at < end) for start, end in bounds]
        went_out = ibis.union(*days) if len(days) > 1 else days[0]
    w = went_out
    sent = w.select(
        survey_id=w.survey_id, customer_ref=w.customer_id, completed_at=w.sent_at, day=local_day_number(w.sent_at, zone),
        touchpoint=w.touchpoint, locale=w.locale, score=ibis.ifelse(w.answered_at.notnull(), 1, 0),
        question_type=ibis.literal("response_rate"),
    )  # fmt: skip
    customers = c.filter(c.workspace_id == workspace_id).select(cid=c.id, segment=c.segment, city=c.city)
    surveys = s.filter(s.workspace_id == workspace_id).select(sid=s.id, survey=s.key, channel=s.channel)
    joined = sent.left_join(customers, sent.customer_ref == customers.cid).join(
        surveys, sent.survey_id == surveys.sid
    )
    return joined.select(
        "score", "completed_at", "day", "touchpoint", "channel", "locale", "segment", "city", "survey"
    )


@dataclass(frozen=True)
class MetricQuery:
    metric: str
    by: tuple[str, ...] = ()
    grain: str | None = None
    since: date | None = None
    until: date | None = None
    survey: str | None = None
    #: Keep only answers whose attribute equals the value, e.g. (("segment", "vip"),).
    where: tuple[tuple[str, str], ...] = ()
    #: Days, periods and ``since``/``until`` are calendar days in this IANA zone (the workspace's).
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        # A dimension named twice (?by=city&by=city) slices once: a second column of the same name is an error
        # in every backend (found by schemathesis as a 500).
        object.__setattr__(self, "by", tuple(dict.fromkeys(self.by)))

    def validate(self) -> None:
        if self.metric not in METRICS:
            raise PatronError("metrics.unknown_metric", metric=self.metric, choices=list(METRICS))
        unknown = [d for d in (*self.by, *(name for name, _ in self.where)) if d not in DIMENSIONS]
        if unknown:
            raise PatronError("metrics.unknown_dimension", dimension=unknown[0], choices=list(DIMENSIONS))
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PatronError("metrics.unknown_time_zone", zone=self.time_zone) from None
        if self.grain is not None and self.grain not in GRAINS:
            raise PatronError("metrics.unknown_grain", grain=self.grain, choices=list(GRAINS))
        if self.since and self.until and self.since > self.until:
            raise PatronError(
                "metrics.empty_period", since=self.since.isoformat(), until=self.until.isoformat()
            )
        if self.metric == "response_rate" and self.by_category:
            raise PatronError("metrics.no_category_rate")

    @property
    def by_category(self) -> bool:
        return CATEGORY in self.by or any(name == CATEGORY for name, _ in self.where)


def _sliced(t: ir.Table, query: MetricQuery) -> ir.Table:
    """The period, survey and attribute filters every metric query shares; a slice without the attribute is
    labelled "(none)"."""
    if query.since is not None:
        t = t.filter(t.completed_at >= day_start(query.since, query.time_zone))
    if query.until is not None:
        t = t.filter(t.completed_at < day_start(query.until + timedelta(days=1), query.time_zone))
    if query.survey is not None:
        t = t.filter(t.survey == query.survey)
    for dimension, value in query.where:
        t = t.filter(t[dimension] == value)
    return t.mutate(**{d: t[d].fill_null("(none)") for d in query.by}) if query.by else t


def _statistics(
    t: ir.Table,
    keys: tuple[str, ...],
    grain: str | None,
    metrics: tuple[str, ...],
) -> pd.DataFrame:
    """Sufficient statistics per ``keys`` (columns of ``t``) and period of ``grain``, sorted by them. The
    database counts the answers per score, slice and day, then sums those counts per slice and day; the days
    are gathered into periods here (a few thousand rows), because truncating a local day number to a week or
    a month is not something every backend can do in SQL.

    CSAT is read on each answer's own scale: ``satisfied`` counts the answers in their scale's top box,
    ``n_scale_<max>``/``total_scale_<max>`` give the mean per scale and ``normalised_total`` the sum of scores
    put on 0–100 by their own scale ((score − min) / (max − min) · 100)."""
    csat = "csat" in metrics
    first: list[Any] = [t[k] for k in keys]
    if grain is not None:
        first.append(t.day)
    scored = [t.score, t.scale_min, t.scale_max] if csat else [t.score]
    counts = t.group_by([*first, *scored]).aggregate(answers=t.count())
    # cast before summing: PostgreSQL sums integers into numeric, which comes back as Decimal
    answers, score = counts.answers.cast("float64"), counts.score.cast("float64")

    def answers_where(condition: ir.BooleanValue) -> ir.FloatingScalar:
        return ibis.ifelse(condition, answers, 0.0).sum()

    aggregates: dict[str, Any] = {"n": answers.sum()}
    if "nps" in metrics:
        aggregates |= {"promoters": answers_where(score >= 9), "detractors": answers_where(score <= 6)}
    if csat:
        high = counts.scale_max.fill_null(CSAT_DEFAULT_SCALE)
        low = counts.scale_min.fill_null(1).cast("float64")
        top = ibis.cases(*((high == scale, float(box)) for scale, box in CSAT_TOP_BOX.items()),
                         else_=float(CSAT_TOP_BOX[CSAT_DEFAULT_SCALE]))  # fmt: skip
        aggregates["satisfied"] = answers_where(score >= top)
        for scale in CSAT_TOP_BOX:
            aggregates[f"n_scale_{scale}"] = answers_where(high == scale)
            aggregates[f"total_scale_{scale}"] = ibis.ifelse(high == scale, score * answers, 0.0).sum()
        normalised = (score - low) / (high.cast("float64") - low) * 100.0
        aggregates["normalised_total"] = ibis.ifelse(high > low, normalised * answers, 0.0).sum()
    if "response_rate" in metrics:
        aggregates["answered"] = (score * answers).sum()
    if "ces" in metrics:
        aggregates |= {"total": (score * answers).sum(), "total_sq": (score * score * answers).sum()}
    second = [counts[k] for k in [*keys, *(["day"] if grain is not None else [])]]
    summed = counts.group_by(second).aggregate(**aggregates) if second else counts.aggregate(**aggregates)
    frame: pd.DataFrame = summed.execute()
    sums = list(aggregates)
    frame[sums] = frame[sums].astype("float64").fillna(0.0)
    if grain is None:
        return frame.sort_values(list(keys), ignore_index=True) if keys else frame
    frame["period"] = _periods(frame.pop("day"), grain)
    return frame.groupby([*keys, "period"], sort=True, dropna=False).sum().reset_index()


def _periods(days: pd.Series, grain: str) -> pd.Series:
    """The start of each day's period, worked out once per distinct day."""
    distinct = days.drop_duplicates()
    starts = _period_start(_as_days(distinct), grain).dt.date
    return days.map(dict(zip(distinct, starts, strict=True)))


def _as_days(days: pd.Series) -> pd.Series:
    """Day numbers (the operational database) or dates (an export) as midnight timestamps."""
    if pd.api.types.is_integer_dtype(days):
        return pd.to_datetime(days, unit="D")
    return pd.to_datetime(days).dt.normalize()


def sufficient_statistics(con: ibis.BaseBackend, workspace_id: int, query: MetricQuery) -> pd.DataFrame:
    """Per group (sorted): n and the counts or sums the estimate needs."""
    query.validate()
    zone = query.time_zone
    # response rate is sliced by when the invitation went out; the others by when the answer came in
    base = (
        invitations_table(con, workspace_id, zone=zone)
        if query.metric == "response_rate"
        else answers_table(con, workspace_id, (query.metric,), with_category=query.by_category, zone=zone)
    )
    return _statistics(_sliced(base, query), query.by, query.grain, (query.metric,))


SATISFACTION: tuple[str, ...] = ("nps", "csat", "ces")


def overview(con: ibis.BaseBackend, workspace_id: int, query: MetricQuery) -> dict[str, list[dict[str, Any]]]:
    """NPS, CSAT and CES for the same slices in one pass over the answers (the dashboard's first screen);
    ``query.metric`` is ignored."""
    for name in SATISFACTION:
        replace(query, metric=name).validate()
    answers = answers_table(
        con, workspace_id, SATISFACTION, with_category=query.by_category, zone=query.time_zone
    )
    frame = _statistics(_sliced(answers, query), ("question_type", *query.by), query.grain, SATISFACTION)
    results: dict[str, list[dict[str, Any]]] = {}
    for name in SATISFACTION:
        one = replace(query, metric=name)
        part = frame[frame["question_type"] == name].drop(columns="question_type")
        results[name] = with_changes(estimates(part, one), one)
    return results


def _percent(share: stats.ProportionEstimate | None) -> tuple[float, float, float, float] | None:
    """A share with its SE and interval, as percentages."""
    if share is None:
        return None
    return 100 * share.share, 100 * stats.proportion_se(share), 100 * share.ci_low, 100 * share.ci_high


def estimates(frame: pd.DataFrame, query: MetricQuery) -> list[dict[str, Any]]:
    """Rows with the estimate, its 95 % interval and whether the sample is large enough to trust."""
    rows: list[dict[str, Any]] = []
    keys = [*query.by, *(["period"] if query.grain else [])]
    for record in frame.to_dict("records"):
        n = int(record["n"])
        if n == 0:
            continue  # an aggregate over nothing: no row, rather than a number made of nothing
        row: dict[str, Any] = {k: record[k] for k in keys}
        value: tuple[float, float | None, float | None, float | None] | None  # estimate, SE, interval
        if query.metric == "nps":
            promoters, detractors = int(record["promoters"]), int(record["detractors"])
            result = stats.nps(promoters, n - promoters - detractors, detractors)
            value = None if result is None else (result.nps, result.se, result.ci_low, result.ci_high)
            row |= {"promoters": promoters, "passives": n - promoters - detractors, "detractors": detractors}
        elif query.metric == "response_rate":
            value = _percent(stats.wilson(int(record["answered"]), n))
            row |= {"answered": int(record["answered"])}
        elif query.metric == "csat":
            value = _percent(stats.wilson(int(record["satisfied"]), n))
            row |= {"satisfied": int(record["satisfied"]), **csat_means(record)}
        else:
            mean = stats.mean_interval(n, float(record["total"]), float(record["total_sq"]))
            value = None if mean is None else (mean.mean, stats.mean_se(mean), mean.ci_low, mean.ci_high)
            row |= {"sd": None if mean is None else mean.sd}
        row |= {
            "n": n,
            "value": None,
            "se": None,
            "ci_low": None,
            "ci_high": None,
            "sufficient": n >= stats.MIN_SAMPLE,
        }
        if value is not None:
            row |= dict(zip(("value", "se", "ci_low", "ci_high"), value, strict=True))
        rows.append(row)
    return rows


def csat_means(record: Mapping[Any, Any]) -> dict[str, float]:
    """CSAT's mean score per scale that has answers (``mean_score_1_5``, ``mean_score_1_10``, with their
    ``n_1_5``, ``n_1_10``) and the mean of every answer put on 0–100 by its own scale (``mean_score_0_100``):
    a mean of 1–5 and 1–10 scores together would mean nothing."""
    n = float(record["n"])
    means: dict[str, float] = {"mean_score_0_100": float(record["normalised_total"]) / n} if n else {}
    for scale in CSAT_TOP_BOX:
        answered = float(record.get(f"n_scale_{scale}") or 0.0)
        if answered:
            means[f"mean_score_1_{scale}"] = float(record[f"total_scale_{scale}"]) / answered
            means[f"n_1_{scale}"] = answered
    return means


def previous_period(start: date, grain: str) -> date:
    """The start of the period before the one starting on ``start`` (a period start of ``grain``)."""
    if grain == "day":
        return start - timedelta(days=1)
    if grain == "week":
        return start - timedelta(weeks=1)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    index = start.year * 12 + start.month - 1 - months
    return start.replace(year=index // 12, month=index % 12 + 1)


def compare_rows(metric: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> stats.Comparison | None:
    """``a`` − ``b`` for two rows of ``estimates`` of ``metric`` (two periods, or two slices), in the metric's
    unit, by the test that suits it (``metrics.stats``); None when either row has no estimate."""
    if a["value"] is None or b["value"] is None:
        return None
    if metric == "nps":
        first, second = (
            stats.nps(int(r["promoters"]), int(r["passives"]), int(r["detractors"])) for r in (a, b)
        )
        assert first is not None and second is not None, "a row with a value has answers"
        return stats.compare_nps(first, second)
    if metric in ("csat", "response_rate"):
        key = "satisfied" if metric == "csat" else "answered"
        share_a, share_b = (stats.wilson(int(r[key]), int(r["n"])) for r in (a, b))
        assert share_a is not None and share_b is not None, "a row with a value has answers"
        return stats.compare_proportions(share_a, share_b).scaled(100)
    mean_a, mean_b = (
        stats.MeanEstimate(int(r["n"]), float(r["value"]), r["sd"], r["ci_low"], r["ci_high"]) for r in (a, b)
    )
    return stats.compare_means(mean_a, mean_b)


def with_changes(rows: list[dict[str, Any]], query: MetricQuery) -> list[dict[str, Any]]:
    """Each period against the one before it in the same slice: the change, its 95 % interval, p-value and
    whether it is significant (None, with ``change_reason``, when a period has too few answers to say).
    No change is given when the previous period has no answers (a gap is not a comparison)."""
    if query.grain is None:
        return rows
    by_key = {(tuple(row[d] for d in query.by), row["period"]): row for row in rows}
    for row in rows:
        before = previous_period(row["period"], query.grain)
        previous = by_key.get((tuple(row[d] for d in query.by), before))
        change = None if previous is None else compare_rows(query.metric, row, previous)
        row |= {
            "change": None if change is None else change.difference,
            "change_ci_low": None if change is None else change.ci_low,
            "change_ci_high": None if change is None else change.ci_high,
            "change_p_value": None if change is None else change.p_value,
            "change_significant": None if change is None else change.significant,
            "change_reason": None if change is None else change.reason,
        }
    return rows


def metric(con: ibis.BaseBackend, workspace_id: int, query: MetricQuery) -> list[dict[str, Any]]:
    return with_changes(estimates(sufficient_statistics(con, workspace_id, query), query), query)


#: The attributes a daily roll-up keeps: what the dashboard filters every page by.
DAILY_DIMENSIONS: tuple[str, ...] = ("segment", "survey")


@dataclass(frozen=True)
class DailyStatistics:
    """Sufficient statistics per calendar day (in the workspace's zone), segment and survey: of NPS, CSAT and CES answers (``answers``) and
    of invitations sent and answered (``invitations``). Every statistic is a count or a sum, so any period,
    trend or slice by those attributes is a sum of rows, and its estimate equals the one computed from the raw
    answers (tested). One scan of the answers serves every filter of every page until the data changes."""

    answers: pd.DataFrame
    invitations: pd.DataFrame
    #: completed responses (of any survey type) per day, segment and survey, in column ``n``
    responses: pd.DataFrame


def daily_statistics(con: ibis.BaseBackend, workspace_id: int, zone: str = "UTC") -> DailyStatistics:
    return DailyStatistics(
        daily_answers(con, workspace_id, zone=zone),
        daily_invitations(con, workspace_id, zone=zone),
        daily_responses(con, workspace_id, zone=zone),
    )


def daily_answers(
    con: ibis.BaseBackend, workspace_id: int, response_ids: list[int] | None = None, zone: str = "UTC"
) -> pd.DataFrame:
    """The answers' part of the roll-up; of some responses only when ``response_ids`` is given."""
    t = answers_table(con, workspace_id, SATISFACTION, response_ids, zone=zone)
    answers = _statistics(t, ("question_type", *DAILY_DIMENSIONS), "day", SATISFACTION)
    return _daily_frame(answers.rename(columns={"period": "day"}))


def daily_invitations(
    con: ibis.BaseBackend, workspace_id: int, sent_days: list[date] | None = None, zone: str = "UTC"
) -> pd.DataFrame:
    """The invitations' part of the roll-up; of some days only when ``sent_days`` is given."""
    invitations = invitations_table(con, workspace_id, sent_days, zone)
    counts = _statistics(invitations, DAILY_DIMENSIONS, "day", ("response_rate",))
    return _daily_frame(counts.rename(columns={"period": "day"}))


def daily_responses(
    con: ibis.BaseBackend, workspace_id: int, response_ids: list[int] | None = None, zone: str = "UTC"
) -> pd.DataFrame:
    """Completed responses (of any survey type) per day, segment and survey."""
    r, c, v = con.table("survey_responses"), con.table("customers"), con.table("surveys")
    completed = r.filter(r.workspace_id == workspace_id, r.status == "completed", r.completed_at.notnull())
    if response_ids is not None:
        wanted = _ids_table(response_ids)
        completed = completed.filter(completed.id.isin(wanted.wanted_id))
    customers = c.filter(c.workspace_id == workspace_id).select(cid=c.id, segment=c.segment)
    surveys = v.filter(v.workspace_id == workspace_id).select(sid=v.id, survey=v.key)
    joined = completed.left_join(customers, completed.customer_id == customers.cid).join(
        surveys, completed.survey_id == surveys.sid
    )
    responses = joined.group_by(
        [local_day_number(joined.completed_at, zone).name("day"), joined.segment, joined.survey]
    ).aggregate(n=joined.count())
    counted: pd.DataFrame = responses.execute()
    counted["day"] = _as_days(counted["day"])
    return _daily_frame(counted)


def responses_from_daily(
    daily: DailyStatistics, since: date, until: date, survey: str | None, where: tuple[tuple[str, str], ...]
) -> int:
    """Completed responses from ``since`` to ``until`` (inclusive days), filtered like a metric query."""
    frame = daily.responses
    keep = (frame["day"] >= pd.Timestamp(since)) & (frame["day"] <= pd.Timestamp(until))
    if survey is not None:
        keep &= frame["survey"] == survey
    for dimension, value in where:
        keep &= frame[dimension] == value
    return int(frame.loc[keep, "n"].sum())


def _daily_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame["day"] = pd.to_datetime(frame["day"]).dt.normalize()
    for column in frame.columns:
        if column not in ("day", "question_type", *DAILY_DIMENSIONS):
            frame[column] = frame[column].astype("float64").fillna(0.0)
    return frame


def _period_start(days: pd.Series, grain: str) -> pd.Series:
    """The start of each day's period, as ``truncate`` gives it in the database (weeks start on Monday)."""
    if grain == "day":
        return days
    starts: pd.Series
    if grain == "week":
        starts = days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    else:
        starts = days.dt.to_period(GRAINS[grain]).dt.start_time
    return starts


def from_daily(daily: DailyStatistics, query: MetricQuery) -> list[dict[str, Any]]:
    """``metric(query)`` computed from the daily roll-up instead of the raw answers: same rows, same numbers.
    Only the roll-up's attributes can slice or filter it."""
    query.validate()
    for dimension in (*query.by, *(name for name, _ in query.where)):
        if dimension not in DAILY_DIMENSIONS:
            raise PatronError(
                "metrics.unknown_dimension", dimension=dimension, choices=list(DAILY_DIMENSIONS)
            )
    if query.metric == "response_rate":
        frame = daily.invitations
    else:
        frame = daily.answers[daily.answers["question_type"] == query.metric]
    keep = pd.Series(True, index=frame.index)
    if query.since is not None:
        keep &= frame["day"] >= pd.Timestamp(query.since)
    if query.until is not None:
        keep &= frame["day"] <= pd.Timestamp(query.until)
    if query.survey is not None:
        keep &= frame["survey"] == query.survey
    for dimension, value in query.where:
        keep &= frame[dimension] == value
    chosen = frame[keep].copy()
    keys = list(query.by)
    for dimension in query.by:
        chosen[dimension] = chosen[dimension].fillna("(none)")
    if query.grain is not None:
        chosen["period"] = _period_start(chosen["day"], query.grain).dt.date
        keys.append("period")
    sums = [c for c in chosen.columns if c not in ("day", "question_type", "period", *DAILY_DIMENSIONS)]
    if keys:
        grouped = chosen.groupby(keys, sort=True, dropna=False)[sums].sum().reset_index()
    else:
        grouped = chosen[sums].sum().to_frame().T
    return with_changes(estimates(grouped, query), query)
