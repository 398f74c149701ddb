"""REST: satisfaction metrics with intervals, by any dimension and time grain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from patron.metrics import service
from patron.metrics.commerce import ENGAGEMENT_DIMENSIONS
from patron.metrics.engine import DIMENSIONS, GRAINS, METRICS, MetricQuery
from patron.metrics.schemas import CohortRow, EngagementRow, MetricResult, RetentionRow, SliceComparison
from patron.web.deps import ApiWorkspaceDep, LocaleDep
from patron.web.openapi import errors

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"], responses=errors(400, 401, 404, 422))


# The names each parameter takes are declared in the spec; any other is refused with a named 400 that lists them
# (metrics.unknown_metric, metrics.unknown_grain…), checked by ``MetricQuery.validate`` and ``metrics.commerce``.
MetricPath = Annotated[
    str, Path(description="nps, csat, ces or response_rate", json_schema_extra={"enum": list(METRICS)})
]
GrainQuery = Annotated[
    str, Query(description="day, week, month, quarter, year", json_schema_extra={"enum": list(GRAINS)})
]
Dimension = Annotated[str, Field(json_schema_extra={"enum": list(DIMENSIONS)})]
SegmentQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="Only customers in this segment, e.g. vip; a segment no customer is in is a 404",
    ),
]


@router.get("/retention", response_model=list[RetentionRow], operation_id="metrics-retention")
async def read_retention(
    workspace: ApiWorkspaceDep,
    grain: GrainQuery = "month",
    segment: SegmentQuery = None,
) -> list[RetentionRow]:
    """CRR, strict retention, churn, repeat purchase rate, frequency, AOV and value per customer by period of
    the workspace's calendar; the period still running is marked ``partial``."""
    return await run_in_threadpool(
        service.retention_rows, workspace.id, grain=grain, currency=workspace.currency,
        zone=workspace.timezone, segment=segment,
    )  # fmt: skip


@router.get("/cohorts", response_model=list[CohortRow], operation_id="metrics-cohorts")
async def read_cohorts(
    workspace: ApiWorkspaceDep,
    grain: GrainQuery = "month",
    segment: SegmentQuery = None,
) -> list[CohortRow]:
    """The cohort retention matrix by first-purchase period of the workspace's calendar."""
    return await run_in_threadpool(
        service.cohort_rows, workspace.id, grain=grain, zone=workspace.timezone, segment=segment
    )


@router.get("/engagement", response_model=list[EngagementRow], operation_id="metrics-engagement")
async def read_engagement(
    workspace: ApiWorkspaceDep,
    grain: GrainQuery = "month",
    by: Annotated[
        str | None,
        Query(description="channel or type", json_schema_extra={"enum": list(ENGAGEMENT_DIMENSIONS)}),
    ] = None,
    segment: SegmentQuery = None,
) -> list[EngagementRow]:
    """Interactions per active customer per period of the workspace's calendar, across touchpoints and channels."""
    return await run_in_threadpool(
        service.engagement_rows, workspace.id, grain=grain, by=by, zone=workspace.timezone,
        segment=segment,
    )  # fmt: skip


@router.get("/overview", response_model=dict[str, MetricResult], operation_id="metrics-overview")
async def read_overview(
    workspace: ApiWorkspaceDep,
    locale: LocaleDep,
    by: Annotated[list[Dimension], Query(max_length=4)] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    grain: Annotated[str | None, Query(json_schema_extra={"enum": list(GRAINS)})] = None,
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
    survey: Annotated[str | None, Query(max_length=64)] = None,
    where: Annotated[list[str], Query(max_length=6, description="attribute:value, e.g. segment:vip")] = [],  # noqa: B006
) -> dict[str, MetricResult]:
    """NPS, CSAT and CES for the same slices, computed in one pass over the answers."""
    query = MetricQuery(
        "nps",
        tuple(by),
        grain,
        service.parse_day(since),
        service.parse_day(until, end=True),
        survey,
        where=service.parse_where(where),
        time_zone=workspace.timezone,
    )
    query.validate()
    return await run_in_threadpool(service.run_overview, workspace.id, query, locale)


@router.get("/{name}/compare", response_model=SliceComparison, operation_id="metrics-compare")
async def compare_slices(
    name: MetricPath,
    workspace: ApiWorkspaceDep,
    locale: LocaleDep,
    by: Annotated[
        str, Query(description="The dimension, e.g. segment", json_schema_extra={"enum": list(DIMENSIONS)})
    ],
    a: Annotated[str, Query(max_length=64, description="One slice, e.g. vip")],
    b: Annotated[str, Query(max_length=64, description="The other, e.g. member")],
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
    survey: Annotated[str | None, Query(max_length=64)] = None,
) -> SliceComparison:
    """Is one segment (channel, city…) different from another? The difference with its two-sided p-value."""
    query = MetricQuery(
        name, (by,), None, service.parse_day(since), service.parse_day(until, end=True), survey,
        time_zone=workspace.timezone,
    )  # fmt: skip
    query.validate()
    return await run_in_threadpool(service.compare_slices, workspace.id, query, a, b, locale)


@router.get("/{name}", response_model=MetricResult, operation_id="metrics-read")
async def read_metric(
    name: MetricPath,
    workspace: ApiWorkspaceDep,
    locale: LocaleDep,
    by: Annotated[
        list[Dimension], Query(max_length=4, description="segment, city, locale, touchpoint, channel, survey")
    ] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    grain: Annotated[
        str | None,
        Query(description="day, week, month, quarter, year", json_schema_extra={"enum": list(GRAINS)}),
    ] = None,
    since: Annotated[str | None, Query(description="2025-01 or 2025-01-15")] = None,
    until: Annotated[str | None, Query(description="2025-03 or 2025-03-31")] = None,
    survey: Annotated[str | None, Query(max_length=64)] = None,
    where: Annotated[list[str], Query(max_length=6, description="attribute:value, e.g. segment:vip")] = [],  # noqa: B006
) -> MetricResult:
    """NPS, CSAT or CES with 95 % intervals; slices under the minimum sample are flagged, not hidden."""
    query = MetricQuery(
        name,
        tuple(by),
        grain,
        service.parse_day(since),
        service.parse_day(until, end=True),
        survey,
        service.parse_where(where),
        workspace.timezone,
    )
    query.validate()
    return await run_in_threadpool(service.run, workspace.id, query, locale)
