"""Webhook shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, HttpUrl, UrlConstraints
from pydantic_core import PydanticKnownError

from patron.core.schemas import ReadModel

EVENTS = ("response.completed",)
Event = Literal["response.completed"]
DEFAULT_EVENTS: tuple[Event, ...] = ("response.completed",)


#: The longest URL the endpoints table holds (``webhook_endpoints.url``).
URL_LENGTH = 2000


def _fits(url: HttpUrl) -> HttpUrl:
    # The URL is stored as written out (an IDN host in punycode, a path made canonical), which can be longer.
    if len(str(url)) > URL_LENGTH:
        raise PydanticKnownError("url_too_long", {"max_length": URL_LENGTH})
    return url


class WebhookCreate(BaseModel):
    url: Annotated[HttpUrl, UrlConstraints(max_length=URL_LENGTH), AfterValidator(_fits)]
    events: list[Event] = Field(default_factory=lambda: list(DEFAULT_EVENTS), min_length=1)


class WebhookRead(ReadModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Verifies the X-Patron-Signature header. Shown once; store it now.")
