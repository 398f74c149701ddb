"""Running a metric for a workspace on the operational database, for the API, CLI and dashboard."""

from __future__ import annotations

import threading
from calendar import monthrange
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import ibis

from patron.core.db import get_engine
from patron.core.errors import PatronError
from patron.core.i18n import join_statements, translate
from patron.core.safecells import SafeCsvWriter
from patron.metrics import commerce, stats
from patron.metrics.engine import CSAT_TOP_BOX, MetricQuery, compare_rows, connect, metric, overview
from patron.metrics.schemas import (
    CohortRow,
    EngagementRow,
    MetricResult,
    MetricRow,
    RetentionRow,
    SliceComparison,
)

_local = threading.local()
#: CSAT's means are per scale (``mean_score_1_5`` of ``n_1_5`` answers, ``mean_score_1_10`` of ``n_1_10``) and
#: on 0–100 (``mean_score_0_100``, each answer normalised by its own scale); ``engine.csat_means``.
COUNT_COLUMNS = ("promoters", "passives", "detractors", "satisfied", "mean_score_1_5", "n_1_5", "mean_score_1_10",
                 "n_1_10", "mean_score_0_100", "answered")  # fmt: skip
#: The columns of a metric's file outputs after the slice's own (``records``).
RECORD_COLUMNS = ("period", "n", "value", "se", "ci_low", "ci_high", "sufficient", "change", "change_ci_low",
                  "change_ci_high", "change_p_value", "change_significant", "change_reason")  # fmt: skip


def means_text(means: Mapping[str, float], locale: str) -> str:
    """CSAT's mean score as the CLI and dashboard show it: per scale that has answers, then on 0–100
    ("on 1–5: 4.20; on 1–10: 7.90; normalised to 0–100: 73.1"); empty when there are none."""
    parts = [
        translate("metrics.mean_on_scale", locale, scale=f"1–{scale}", mean=f"{means[key]:.2f}")
        for scale in CSAT_TOP_BOX
        if (key := f"mean_score_1_{scale}") in means
    ]
    if "mean_score_0_100" in means:
        parts.append(translate("metrics.mean_normalised", locale, mean=f"{means['mean_score_0_100']:.1f}"))
    return join_statements(parts, locale)


def operational_connection() -> ibis.BaseBackend:
    """One Ibis connection per thread (sqlite3 connections may not cross threads), to the configured database."""
    url = get_engine().url.render_as_string(hide_password=False)
    cached = getattr(_local, "connection", None)
    if cached is None or cached[0] != url:
        cached = (url, connect(url))
        _local.connection = cached
    return cached[1]


def parse_day(value: str | None, *, end: bool = False) -> date | None:
    """2025-01-31, or a month 2025-01 (its first day, or its last with ``end``)."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 7:
            year, month = int(text[:4]), int(text[5:7])
            return date(year, month, monthrange(year, month)[1] if end else 1)
        return date.fromisoformat(text)
    except ValueError:
        raise PatronError("metrics.bad_date", value=value) from None


def parse_where(items: list[str]) -> tuple[tuple[str, str], ...]:
    """``segment:vip`` → (("segment", "vip"),); the attribute is checked with the rest of the query."""
    parsed = []
    for item in items:
        name, separator, value = item.partition(":")
        if not separator or not name.strip() or not value.strip():
            raise PatronError("metrics.bad_filter", filter=item[:80])
        parsed.append((name.strip(), value.strip()))
    return tuple(parsed)


def _result(name: str, rows: list[dict[str, Any]], query: MetricQuery, locale: str) -> MetricResult:
    return MetricResult(
        metric=name,
        min_sample=stats.MIN_SAMPLE,
        rows=[
            MetricRow(
                group={d: str(row[d]) for d in query.by},
                period=row.get("period"),
                n=row["n"],
                value=row["value"],
                se=row["se"],
                ci_low=row["ci_low"],
                ci_high=row["ci_high"],
                sufficient=row["sufficient"],
                counts={k: float(row[k]) for k in COUNT_COLUMNS if row.get(k) is not None},
                change=row.get("change"),
                change_ci_low=row.get("change_ci_low"),
                change_ci_high=row.get("change_ci_high"),
                change_p_value=row.get("change_p_value"),
                change_significant=row.get("change_significant"),
                change_reason=row.get("change_reason"),
            )
            for row in rows
        ],
        message=None if rows else translate("metrics.no_data", locale),
    )


def run(
    workspace_id: int, query: MetricQuery, locale: str, con: ibis.BaseBackend | None = None
) -> MetricResult:
    return _result(query.metric, metric(con or operational_connection(), workspace_id, query), query, locale)


def run_overview(workspace_id: int, query: MetricQuery, locale: str) -> dict[str, MetricResult]:
    together = overview(operational_connection(), workspace_id, query)
    return {name: _result(name, rows, query, locale) for name, rows in together.items()}


def checked_segment(workspace_id: int, segment: str | None) -> str | None:
    """The segment filter of a purchase metric; blank is none. A segment no customer of the workspace is in
    is a mistake (a typo, another workspace's name): named, with the segments that exist, rather than
    answered with an empty list."""
    segment = (segment or "").strip() or None
    if segment is None:
        return None
    c = operational_connection().table("customers")
    mine = c.filter(c.workspace_id == workspace_id, c.segment.notnull())
    if int(mine.filter(mine.segment == segment).count().execute()):
        return segment
    known = mine.select("segment").distinct().order_by("segment").limit(21).execute()["segment"].tolist()
    choices = known[:20] + (["…"] if len(known) > 20 else [])
    raise PatronError("metrics.unknown_segment", status=404, segment=segment[:64], choices=choices or ["—"])


def retention_rows(
    workspace_id: int, *, grain: str, currency: str, zone: str, segment: str | None = None
) -> list[RetentionRow]:
    """Runs in the calling thread, with that thread's own connection."""
    segment = checked_segment(workspace_id, segment)
    rows = commerce.retention(
        operational_connection(), workspace_id, zone=zone, grain=grain, currency=currency, segment=segment
    )
    return [RetentionRow(**row) for row in rows]


def cohort_rows(workspace_id: int, *, grain: str, zone: str, segment: str | None = None) -> list[CohortRow]:
    segment = checked_segment(workspace_id, segment)
    rows = commerce.cohorts(operational_connection(), workspace_id, zone=zone, grain=grain, segment=segment)
    return [CohortRow(**row) for row in rows]


def engagement_rows(
    workspace_id: int, *, grain: str, by: str | None, zone: str, segment: str | None = None
) -> list[EngagementRow]:
    segment = checked_segment(workspace_id, segment)
    rows = commerce.engagement(
        operational_connection(), workspace_id, zone=zone, grain=grain, by=by, segment=segment
    )
    return [
        EngagementRow(
            period=row["period"],
            group=None if by is None else str(row[by]),
            interactions=row["interactions"],
            customers=row["customers"],
            per_customer=row["per_customer"],
            partial=row["partial"],
        )
        for row in rows
    ]


def records(result: MetricResult) -> list[dict[str, Any]]:
    """One record per slice: its attributes, period, n, estimate, interval (low and high apart), sample flag and
    change; what the Parquet and CSV outputs hold."""
    return [{**row.group, **{name: getattr(row, name) for name in RECORD_COLUMNS}} for row in result.rows]


def write_parquet(result: MetricResult, path: Path) -> None:
    """``records`` as a typed Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(records(result)), path)


def write_csv(result: MetricResult, query: MetricQuery, stream: TextIO) -> None:
    """``records`` as CSV, with a header row even when there are no slices."""
    columns = [*query.by, *RECORD_COLUMNS]
    writer = SafeCsvWriter(stream, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([record.get(column) for column in columns] for record in records(result))


def compare_slices(workspace_id: int, query: MetricQuery, a: str, b: str, locale: str) -> SliceComparison:
    """``query`` sliced by one dimension; slices ``a`` and ``b`` with the difference and its significance."""
    if len(query.by) != 1 or query.grain is not None:
        raise PatronError("metrics.compare_one_dimension")
    dimension = query.by[0]
    raw = metric(operational_connection(), workspace_id, query)
    rows = {str(row[dimension]): row for row in raw}
    for value in (a, b):
        if value not in rows:
            raise PatronError("metrics.no_slice", dimension=dimension, value=value[:64], status=404)
    shown = _result(query.metric, [rows[a], rows[b]], query, locale).rows
    comparison = compare_rows(query.metric, rows[a], rows[b])
    return SliceComparison(
        metric=query.metric, dimension=dimension, a=shown[0], b=shown[1],
        difference=None if comparison is None else comparison.difference,
        se=None if comparison is None else comparison.se,
        p_value=None if comparison is None else comparison.p_value,
        significant=None if comparison is None else comparison.significant,
        ci_low=None if comparison is None else comparison.ci_low,
        ci_high=None if comparison is None else comparison.ci_high,
        reason=None if comparison is None else comparison.reason,
    )  # fmt: skip
