"""Feedback's API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag

from patron.feedback.models import Channel
from patron.feedback.taxonomy import MAX_TAXONOMY_CHARS

MAX_TEXT_CHARS = 100_000
MAX_BATCH = 1000


class FeedbackCreate(BaseModel):
    """One comment. Sending it again with the same ``client_key`` — or the same ``source`` and ``source_id`` —
    stores nothing new and answers with the stored item."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    text: str = Field(max_length=MAX_TEXT_CHARS)
    occurred_at: AwareDatetime
    source: str = Field("", max_length=64, description="Where it came from: google_maps, line, the mailbox …")
    source_id: str | None = Field(None, min_length=1, max_length=128, description="The source's own id")
    client_key: str | None = Field(None, min_length=1, max_length=128, description="Your idempotency key")
    author: str | None = Field(None, max_length=200, description="The author's handle or name as shown")
    customer_id: str | None = Field(None, min_length=1, max_length=128, description="Your customer id")
    email: str | None = Field(None, max_length=320, description="Links the item to the customer with it")
    phone: str | None = Field(None, max_length=32, description="Links the item to the customer with it")
    rating: float | None = Field(None, ge=0, le=100)
    reply_to: str | None = Field(None, max_length=500, description="Where to reply (a link)")


class FeedbackBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[FeedbackCreate] = Field(min_length=1, max_length=MAX_BATCH)


class StoredItem(BaseModel):
    id: int
    source_key: str
    created: bool


class MentionRead(BaseModel):
    theme: str
    sentiment: str
    score: float


class FeedbackRead(BaseModel):
    id: int
    channel: str
    source: str
    source_id: str | None
    occurred_at: datetime
    author: str | None
    customer_id: str | None
    rating: float | None
    reply_to: str | None
    #: The text with personal data masked ([EMAIL], [PHONE] …); the original is not served.
    text: str
    language: str
    sentiment: str | None
    sentiment_score: float | None
    themes: list[MentionRead]


class FeedbackPage(BaseModel):
    items: list[FeedbackRead]
    total: int
    offset: int
    limit: int


class ThemeFigures(BaseModel):
    theme: str
    name: str
    group: str
    items: int
    positive: int
    neutral: int
    negative: int
    positive_share: float | None
    negative_share: float | None


class ChannelFigures(BaseModel):
    channel: str
    items: int
    positive: int
    neutral: int
    negative: int
    positive_share: float | None
    negative_share: float | None


class AnalyzeReport(BaseModel):
    taxonomy: str
    survey_comments_added: int
    analysed: int
    mentions: int


class TaxonomyRead(BaseModel):
    tag: str
    version: int
    origin: str
    themes: list[str]


class TaxonomyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(
        max_length=MAX_TAXONOMY_CHARS, description="The taxonomy document as YAML (docs/feedback.md)"
    )


class DriverRead(BaseModel):
    """One driver: a theme indicator (``kind`` negative: mentioned in a negative clause; other: mentioned, never
    negatively) or a rating item, with its Shapley (LMG) share of R² and the impact × frequency figures."""

    key: str
    kind: str
    theme: str | None
    name: str
    importance: float = Field(description="Shapley (LMG) share of R²; the drivers' shares sum to R²")
    importance_low: float | None = Field(description="Bootstrap percentile interval, lower end")
    importance_high: float | None
    share_of_r_squared: float | None = Field(description="importance / R²")
    johnson: float = Field(description="Johnson's relative weight (also sums to R²)")
    frequency: float | None = Field(description="Share of the rows that show this indicator (themes only)")
    mean_with: float | None = Field(description="Mean outcome of rows showing it (themes only)")
    mean_without: float | None
    correlation: float
    harmful: bool = Field(description="It goes with a worse outcome (lower score, or more detractors)")
    fix_first: bool = Field(description="Harmful theme with importance and frequency at or above the average")


class DriversReport(BaseModel):
    outcome: str
    #: Rows analysed, rows left out for a missing rating, responses with the outcome.
    rows: int
    missing: int
    responses: int
    r_squared: float
    r_squared_low: float | None
    r_squared_high: float | None
    outcome_mean: float
    drivers: list[DriverRead]
    #: Predictors that had one value only, and candidates beyond the predictor limit.
    constant: list[str]
    left_out: list[str]
    bootstrap: int
    seed: int
    level: float
    small_sample: bool


# ------------------------------------------------------------------------------------------- discovery
class DiscoveryExample(BaseModel):
    id: int
    occurred_at: datetime
    channel: str
    #: The masked copy ([EMAIL], [PHONE] …); the original is never served.
    text: str


class EmergingTopic(BaseModel):
    """Terms that go together in clauses no theme matches (docs/feedback.md, "Discovering emerging topics")."""

    label: str = Field(description="The best-scoring keyword (Chinese in Simplified, as analysed)")
    keywords: list[str] = Field(description="What a theme made of this topic would match")
    script: str = Field(description="zh or en: the script of the label")
    items: int = Field(description="Items of the period with a clause no theme matches that has a keyword")
    share: float = Field(description="items ÷ the period's analysed items")
    previous: int = Field(description="The same count in the period of the same length before")
    change: int = Field(description="items − previous")
    lift: float = Field(
        description="The label's lift: its item share where no theme matches over where one does"
    )
    examples: list[DiscoveryExample] = Field(description="Up to 3, newest first, masked")


class DiscoveryReport(BaseModel):
    since: datetime
    until: datetime
    analysed: int = Field(description="Analysed items in the period (the newest 20,000 at most)")
    with_unmatched: int = Field(description="Of those, items with at least one clause no theme matches")
    topics: list[EmergingTopic]


Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class TopicAccept(BaseModel):
    """Accept an emerging topic in one step: a new theme named ``name`` or more keywords for ``theme``."""

    model_config = ConfigDict(extra="forbid")

    keywords: list[Keyword] = Field(min_length=1, max_length=20)
    name: str | None = Field(None, max_length=100, description="The new theme's name (with no theme)")
    theme: str | None = Field(None, max_length=48, description="Add the keywords to this existing theme")


class TopicAccepted(BaseModel):
    theme: str
    created: bool = Field(description="A new theme (else keywords added to an existing one)")
    version: int = Field(description="The taxonomy version stored")
    themes: int
    analysed: int = Field(description="Items analysed again with the new version")


class TopicDismiss(BaseModel):
    """Keywords that are no topic (a shop's name, noise), or, to undo, that may be suggested again."""

    model_config = ConfigDict(extra="forbid")

    keywords: list[Keyword] = Field(min_length=1, max_length=20)


class DismissedTerm(BaseModel):
    keyword: str = Field(description="As analysed: Simplified Chinese, lower case")
    dismissed_by: str
    dismissed_at: datetime


class DismissedTerms(BaseModel):
    """The workspace's dismissed keywords: discovery suggests no term that holds one or is part of one."""

    terms: list[DismissedTerm]


# ------------------------------------------------------------------------------------------ testimonials
class TestimonialRead(BaseModel):
    """A positive survey comment whose author agreed to be quoted, named as they chose."""

    item_id: int
    occurred_at: datetime
    survey: str
    #: The masked copy ([EMAIL], [PHONE] …); the original is never served.
    text: str
    language: str
    sentiment_score: float
    display_as: str = Field(description="full, initials or anonymous: what the author allowed")
    display_name: str | None = Field(description="The name as allowed; none when anonymous or unknown")
    status: str = Field(description="pending, approved (shown on the public page) or hidden")
    decided_by: str | None
    decided_at: datetime | None


class TestimonialPage(BaseModel):
    items: list[TestimonialRead]
    total: int
    approved: int
    pending: int
    hidden: int


class TestimonialDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["approved", "hidden", "pending"]


# ------------------------------------------------------------------------------ the signed inbound webhook
InboundName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class InboundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: InboundName = Field(description="What sends (a vendor, a review site); also the items' source")
    channel: Channel = Field(Channel.SOCIAL, description="Given to items that name no channel")


class InboundRead(BaseModel):
    public_id: str
    name: str
    channel: str
    active: bool
    path: str = Field(description="Where the sender POSTs (after the server's address)")
    created_at: datetime
    rotated_at: datetime | None
    disabled_at: datetime | None
    received_at: datetime | None = Field(description="When the last signed delivery arrived")


class InboundCreated(InboundRead):
    secret: str = Field(description="Signs the X-Patron-Signature header. Shown once; store it now.")


class InboundItem(FeedbackCreate):
    """An item as the batch API takes it; without a channel it gets the inbound source's, without a source
    the inbound source's name."""

    channel: Channel | None = None  # type: ignore[assignment]


class InboundBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[InboundItem] = Field(min_length=1, max_length=MAX_BATCH)


def _delivery_kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "items" in value else "item"


#: One item, or ``{"items": [...]}``; told apart by the ``items`` key, so a refusal names the one shape meant.
InboundDelivery = Annotated[
    Annotated[InboundItem, Tag("item")] | Annotated[InboundBatch, Tag("batch")], Discriminator(_delivery_kind)
]


class InboundReceipt(BaseModel):
    stored: int = Field(description="Items stored now")
    duplicates: int = Field(description="Items already stored (a retried delivery): nothing was stored twice")
    items: list[StoredItem]
