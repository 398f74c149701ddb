"""Social listening's API shapes."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from patron.feedback.models import Channel


class TermCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    term: str = Field(
        min_length=1, max_length=100, description="A brand name or keyword (any script, any width)"
    )
    kind: str = Field("keyword", pattern=r"^(brand|keyword)$")
    channels: list[Channel] | None = Field(
        None, min_length=1, max_length=6, description="Channels to look in; default social and review"
    )


class TermRead(BaseModel):
    id: int
    term: str
    normalised: str
    kind: str
    channels: list[str]
    mentions: int
    created_at: datetime
    created_by: str


class DayFigures(BaseModel):
    """One day in the workspace's calendar: items mentioning a tracked term, and their sentiment."""

    day: date
    mentions: int
    analysed: int
    positive: int
    negative: int
    positive_share: float | None
    negative_share: float | None


class SocialSpike(BaseModel):
    day: date
    #: ``volume`` (more mentions than usual) or ``negative_share`` (a larger share negative than usual).
    kind: str
    value: float
    baseline: float
    p_value: float


class QueueItem(BaseModel):
    item_id: int
    channel: str
    source: str
    occurred_at: datetime
    author: str | None
    #: The text with personal data masked.
    text: str
    sentiment: str | None
    question: bool
    reply_to: str | None
    handled: bool
    handled_by: str | None
    handled_at: datetime | None
    note: str
    reopened_by: str | None
    reopened_at: datetime | None


class QueuePage(BaseModel):
    items: list[QueueItem]
    total: int


class HandleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=1000)
