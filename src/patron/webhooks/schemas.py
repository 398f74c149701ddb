"""Webhook shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, HttpUrl

from patron.core.schemas import ReadModel

EVENTS = ("response.completed",)
Event = Literal["response.completed"]
DEFAULT_EVENTS: tuple[Event, ...] = ("response.completed",)


class WebhookCreate(BaseModel):
    url: HttpUrl
    events: list[Event] = Field(default_factory=lambda: list(DEFAULT_EVENTS), min_length=1)


class WebhookRead(ReadModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Verifies the X-Patron-Signature header. Shown once; store it now.")
