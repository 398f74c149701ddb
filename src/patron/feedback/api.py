"""REST: feedback items (one or a batch of up to 1,000, idempotent), the listing with themes, figures by theme
and by channel, analysis, and the workspace's theme taxonomy; and the signed inbound webhook (``inbound_router``:
its sources are managed with an API key, its deliveries carry none and are signed, ``feedback.inbound``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request

from patron.core.errors import PatronError, Unauthorized
from patron.feedback import discovery, drivers, inbound, service, testimonials
from patron.feedback.models import Channel
from patron.feedback.schemas import (
    AnalyzeReport,
    ChannelFigures,
    DiscoveryReport,
    DismissedTerms,
    DriversReport,
    FeedbackBatch,
    FeedbackCreate,
    FeedbackPage,
    InboundBatch,
    InboundCreate,
    InboundCreated,
    InboundDelivery,
    InboundRead,
    InboundReceipt,
    StoredItem,
    TaxonomyRead,
    TaxonomyUpdate,
    TestimonialDecision,
    TestimonialPage,
    TestimonialRead,
    ThemeFigures,
    TopicAccept,
    TopicAccepted,
    TopicDismiss,
)
from patron.feedback.taxonomy import Taxonomy
from patron.web.deps import ApiWorkspaceDep, LocaleDep, in_transaction
from patron.web.limits import INBOUND_STATE
from patron.web.openapi import INT64_MAX, errors

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"], responses=errors(401))
_DAY = r"^\d{4}-\d{2}-\d{2}$"
Since = Annotated[
    str | None,
    Query(
        pattern=_DAY, description="First day, YYYY-MM-DD (workspace calendar); default 30 days before until"
    ),
]
Until = Annotated[
    str | None, Query(pattern=_DAY, description="Last day, YYYY-MM-DD, inclusive; default yesterday")
]


def _bounds(timezone: str, since: str | None, until: str | None) -> tuple[datetime, datetime]:
    return service.day_bounds(timezone, _day(since, "since"), _day(until, "until"))


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PatronError("dashboard.bad_date", field=name, value=value[:40]) from None


@router.post(
    "/items", response_model=StoredItem, operation_id="feedback-add", responses=errors(400, 404, 422)
)
async def add_item(workspace: ApiWorkspaceDep, body: FeedbackCreate) -> StoredItem:
    """Store one comment with its masked and analysis copies, analysed now (sentiment and themes). The same
    ``client_key``, or the same source and ``source_id``, stores nothing new."""

    def work(session: Any) -> StoredItem:
        return service.add_items(session, workspace_id=workspace.id, items=[body])[0]

    return await in_transaction(work)


@router.post(
    "/items/batch",
    response_model=list[StoredItem],
    operation_id="feedback-add_batch",
    responses=errors(400, 404, 422),
)
async def add_batch(workspace: ApiWorkspaceDep, body: FeedbackBatch) -> list[StoredItem]:
    """Up to 1,000 comments in one transaction: all stored or, on any bad one, none."""
    return await in_transaction(service.add_items, workspace_id=workspace.id, items=body.items)


@router.get("/items", response_model=FeedbackPage, operation_id="feedback-items", responses=errors(400, 422))
async def list_items(
    workspace: ApiWorkspaceDep,
    since: Since = None,
    until: Until = None,
    theme: Annotated[str | None, Query(max_length=48)] = None,
    sentiment: Literal["positive", "neutral", "negative"] | None = None,
    channel: Channel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> FeedbackPage:
    """Comments newest first, personal data masked, each with its themes and their sentiment."""
    start, end = _bounds(workspace.timezone, since, until)
    return await in_transaction(service.list_items, workspace_id=workspace.id, since=start, until=end, theme=theme,
                                sentiment=sentiment, channel=channel.value if channel else None, offset=offset,
                                limit=limit)  # fmt: skip


@router.get(
    "/themes", response_model=list[ThemeFigures], operation_id="feedback-themes", responses=errors(400, 422)
)
async def themes(
    workspace: ApiWorkspaceDep,
    locale: LocaleDep,
    since: Since = None,
    until: Until = None,
    channel: Channel | None = None,
) -> list[ThemeFigures]:
    """Per theme: items mentioning it and how many of those mentions are positive, neutral and negative."""
    start, end = _bounds(workspace.timezone, since, until)
    return await in_transaction(service.theme_figures, workspace_id=workspace.id, since=start, until=end,
                                locale=locale, channel=channel.value if channel else None)  # fmt: skip


@router.get(
    "/channels",
    response_model=list[ChannelFigures],
    operation_id="feedback-channels",
    responses=errors(400, 422),
)
async def channels(
    workspace: ApiWorkspaceDep, since: Since = None, until: Until = None
) -> list[ChannelFigures]:
    """Per channel: analysed items and their overall sentiment."""
    start, end = _bounds(workspace.timezone, since, until)
    return await in_transaction(service.channel_figures, workspace_id=workspace.id, since=start, until=end)


@router.post("/analyze", response_model=AnalyzeReport, operation_id="feedback-analyze")
async def analyze(workspace: ApiWorkspaceDep) -> AnalyzeReport:
    """Bring the analysis up to date: new survey comments become items, new or changed items are analysed."""
    return await in_transaction(service.analyze, workspace_id=workspace.id)


def _read(taxonomy: Taxonomy) -> TaxonomyRead:
    return TaxonomyRead(tag=taxonomy.tag, version=taxonomy.version, origin=taxonomy.origin,
                        themes=[theme.key for theme in taxonomy.themes])  # fmt: skip


@router.get("/taxonomy", response_model=TaxonomyRead, operation_id="feedback-taxonomy")
async def read_taxonomy(workspace: ApiWorkspaceDep) -> TaxonomyRead:
    """The taxonomy in force: the workspace's newest version, or the shipped one."""

    def work(session: Any) -> TaxonomyRead:
        return _read(service.current_taxonomy(session, workspace.id))

    return await in_transaction(work)


@router.put(
    "/taxonomy", response_model=TaxonomyRead, operation_id="feedback-set_taxonomy", responses=errors(400, 422)
)
async def set_taxonomy(
    workspace: ApiWorkspaceDep,
    body: TaxonomyUpdate,
) -> TaxonomyRead:
    """A new version of the workspace's taxonomy; a bad document is refused whole, naming the line."""

    def work(session: Any) -> TaxonomyRead:
        return _read(service.set_taxonomy(session, workspace_id=workspace.id, raw=body.yaml, source="body",
                                          actor="api"))  # fmt: skip

    return await in_transaction(work)


@router.get(
    "/drivers",
    response_model=DriversReport,
    operation_id="feedback-drivers",
    responses=errors(400, 404, 422),
)
async def key_drivers(
    workspace: ApiWorkspaceDep,
    locale: LocaleDep,
    outcome: Literal["nps", "csat", "detractor"] = "nps",
    survey: Annotated[
        str | None, Query(max_length=64, description="Only this survey; adds its rating items")
    ] = None,
    segment: Annotated[str | None, Query(max_length=64, description="Only customers in this segment")] = None,
    since: Since = None,
    until: Until = None,
    bootstrap: Annotated[
        int, Query(ge=0, le=2000, description="Bootstrap replicates for the intervals")
    ] = 200,
) -> DriversReport:
    """Key drivers of NPS, CSAT or being a detractor: themes from each response's comments (mentioned negatively,
    or otherwise) and the survey's rating items, with their Shapley share of R², a bootstrap interval, frequency
    and the mean outcome with and without (docs/drivers.md). Too few responses is a 400 that says so."""
    start, end = _bounds(workspace.timezone, since, until)
    return await in_transaction(drivers.key_drivers, workspace_id=workspace.id, outcome=outcome, since=start,
                                until=end, locale=locale, survey=survey, segment=segment,
                                bootstrap=bootstrap)  # fmt: skip


@router.get(
    "/discovery",
    response_model=DiscoveryReport,
    operation_id="feedback-discovery",
    responses=errors(400, 422),
)
async def discover(
    workspace: ApiWorkspaceDep,
    days: Annotated[int, Query(ge=1, le=366, description="How many complete days, ending with until")] = 30,
    until: Until = None,
    min_items: Annotated[int, Query(ge=1, le=1000, description="Items a topic needs")] = discovery.MIN_ITEMS,
) -> DiscoveryReport:
    """Emerging topics: terms that go together in the clauses no theme matches, with their items, share, the
    count in the period before, and up to 3 masked examples (docs/feedback.md)."""
    start, end = service.day_bounds(workspace.timezone, None, _day(until, "until"), default_days=days)
    return await in_transaction(discovery.discover, workspace_id=workspace.id, since=start, until=end,
                                min_items=min_items)  # fmt: skip


@router.post(
    "/discovery/accept",
    response_model=TopicAccepted,
    operation_id="feedback-discovery_accept",
    responses=errors(400, 404, 409, 422),
)
async def accept_topic(workspace: ApiWorkspaceDep, body: TopicAccept) -> TopicAccepted:
    """Accept a topic in one step: its keywords become a new theme (``name``) or join ``theme``. A new taxonomy
    version is stored and every item analysed again with it."""
    return await in_transaction(discovery.accept, workspace_id=workspace.id, keywords=body.keywords,
                                name=body.name, theme=body.theme, actor="api")  # fmt: skip


@router.get(
    "/discovery/dismissed",
    response_model=DismissedTerms,
    operation_id="feedback-discovery_dismissed",
    responses=errors(),
)
async def dismissed_topics(workspace: ApiWorkspaceDep) -> DismissedTerms:
    """The keywords dismissed as no topic: discovery suggests no term that holds one or is part of one."""
    return await in_transaction(discovery.dismissed_terms, workspace_id=workspace.id)


@router.post(
    "/discovery/dismiss",
    response_model=DismissedTerms,
    operation_id="feedback-discovery_dismiss",
    responses=errors(422),
)
async def dismiss_topic(workspace: ApiWorkspaceDep, body: TopicDismiss) -> DismissedTerms:
    """Dismiss a topic: its keywords are no topic (a shop's name, noise) and are not suggested again. Dismissing a
    keyword twice changes nothing; the taxonomy is not touched."""
    return await in_transaction(
        discovery.dismiss, workspace_id=workspace.id, keywords=body.keywords, actor="api"
    )


@router.post(
    "/discovery/restore",
    response_model=DismissedTerms,
    operation_id="feedback-discovery_restore",
    responses=errors(404, 422),
)
async def restore_topic(workspace: ApiWorkspaceDep, body: TopicDismiss) -> DismissedTerms:
    """Undo a dismissal: the keywords may be suggested again. None of them dismissed is a 404."""
    return await in_transaction(discovery.restore, workspace_id=workspace.id, keywords=body.keywords)


@router.get(
    "/testimonials",
    response_model=TestimonialPage,
    operation_id="feedback-testimonials",
    responses=errors(422),
)
async def list_testimonials(
    workspace: ApiWorkspaceDep,
    status: Literal["pending", "approved", "hidden"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> TestimonialPage:
    """Positive survey comments whose authors agreed to be quoted, newest first, masked, each with the name as
    the author allowed (full, initials or none) and the admin's decision; approved ones are on ``/t/{workspace}``."""
    return await in_transaction(testimonials.list_testimonials, workspace_id=workspace.id, status=status,
                                offset=offset, limit=limit)  # fmt: skip


@router.post(
    "/testimonials/{item_id}",
    response_model=TestimonialRead,
    operation_id="feedback-testimonial_decide",
    responses=errors(400, 404, 422),
)
async def decide_testimonial(
    workspace: ApiWorkspaceDep,
    item_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    body: TestimonialDecision,
) -> TestimonialRead:
    """Approve (shown on the public page), hide, or put back to pending one testimonial."""
    return await in_transaction(testimonials.decide, workspace_id=workspace.id, item_id=item_id,
                                status=body.status, actor="api")  # fmt: skip


# ---------------------------------------------------------------------------------- the inbound webhook
inbound_router = APIRouter(prefix="/api/v1/feedback/inbound", tags=["feedback"])
PublicId = Annotated[
    str, Path(pattern=inbound.PUBLIC_ID_PATTERN, max_length=40, description="The source's public id (in_…)")
]


@inbound_router.post(
    "",
    response_model=InboundCreated,
    status_code=201,
    operation_id="feedback-inbound_add",
    responses=errors(401, 409, 422),
)
async def add_source(workspace: ApiWorkspaceDep, body: InboundCreate) -> InboundCreated:
    """A new inbound source; its secret is in this answer only. The sender POSTs to ``path``."""
    return await in_transaction(inbound.add_source, workspace_id=workspace.id, name=body.name,
                                channel=body.channel.value, actor="api")  # fmt: skip


@inbound_router.get(
    "", response_model=list[InboundRead], operation_id="feedback-inbound_list", responses=errors(401)
)
async def list_sources(workspace: ApiWorkspaceDep) -> list[InboundRead]:
    """The workspace's inbound sources, never their secrets."""
    return await in_transaction(inbound.list_sources, workspace_id=workspace.id)


@inbound_router.post(
    "/{source_public_id}/rotate",
    response_model=InboundCreated,
    operation_id="feedback-inbound_rotate",
    responses=errors(401, 404, 422),
)
async def rotate_source(workspace: ApiWorkspaceDep, source_public_id: PublicId) -> InboundCreated:
    """A new secret, in this answer only; deliveries signed with the old one are refused from now on."""
    return await in_transaction(inbound.rotate_source, workspace_id=workspace.id, public_id=source_public_id)


@inbound_router.post(
    "/{source_public_id}/disable",
    response_model=InboundRead,
    operation_id="feedback-inbound_disable",
    responses=errors(401, 404, 422),
)
async def disable_source(workspace: ApiWorkspaceDep, source_public_id: PublicId) -> InboundRead:
    """Refuse the source's deliveries from now on (401 ``inbound.disabled``)."""
    return await in_transaction(inbound.disable_source, workspace_id=workspace.id, public_id=source_public_id)


@inbound_router.post(
    "/{source_public_id}",
    response_model=InboundReceipt,
    operation_id="feedback-inbound_receive",
    responses=errors(401, 404, 413, 422),
)
async def receive(
    request: Request,
    source_public_id: PublicId,
    body: InboundDelivery,
    signature: Annotated[
        str | None,
        Header(
            alias=inbound.SIGNATURE_HEADER,
            description='t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the source\'s secret>',
        ),
    ] = None,
) -> InboundReceipt:
    """A delivery from an inbound source, without an API key: one item or ``{"items": [...]}`` (up to 1,000),
    as the batch API takes them, signed in ``X-Patron-Signature``. Refused with 401 (a named code) when the
    signature is missing or wrong, its time more than 5 minutes old or ahead, or the source disabled; 404 for
    an unknown source. Items already stored (a retried delivery) are counted as duplicates, not stored again."""
    verified = request.scope.get("state", {}).get(INBOUND_STATE)
    if not isinstance(verified, inbound.Verified):  # only the guard (web.limits) verifies a delivery
        raise Unauthorized("inbound.signature_missing", header=inbound.SIGNATURE_HEADER)
    items = body.items if isinstance(body, InboundBatch) else [body]
    return await in_transaction(inbound.receive, source=verified, items=items)
