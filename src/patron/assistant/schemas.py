"""Shapes of the assistant's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Refused past ``service.MAX_QUESTION`` characters with a named error; the bound here only caps the body.
    question: str = Field(max_length=20_000)


class EntryRef(BaseModel):
    id: str
    title: str
    category: str
    language: str
    score: float


class AskAnswer(BaseModel):
    #: False when the assistant is not sure: then ``answer`` and ``source`` are empty, ``closest`` lists the
    #: nearest entries and ``handover`` offers a person.
    answered: bool
    message: str
    answer: str | None
    source: EntryRef | None
    confidence: float
    related: list[EntryRef]
    closest: list[EntryRef]
    handover: bool
    #: The record of this question (``POST /api/v1/assistant/questions/{id}/rating`` rates it).
    question_id: int | None = None


class ImportReport(BaseModel):
    inserted: int
    updated: int
    total: int


class RatingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Literal["helpful", "unhelpful"]


class QuestionRead(BaseModel):
    id: int
    asked_at: datetime
    #: The question PII-masked, as stored.
    text: str
    language: str
    channel: str
    entry_id: str | None
    confidence: float
    answered: bool
    rating: str | None


class HandoverRequest(BaseModel):
    """Leave a question with a person: a contact e-mail, or ``customer_id`` (the shop's own id) of a customer
    whose e-mail is on file."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=20_000)
    email: str = Field(default="", max_length=320)
    name: str = Field(default="", max_length=200)
    customer_id: str | None = Field(default=None, max_length=128)
    #: The record the hand-over follows (``question_id`` of the answer), when there is one.
    question_id: int | None = Field(default=None, ge=1, le=2**63 - 1)


class MessageRead(BaseModel):
    author: str
    body: str
    created_at: datetime
    sent_at: datetime | None


class ConversationRead(BaseModel):
    id: int
    status: str
    contact_name: str
    contact_email: str
    language: str
    channel: str
    created_at: datetime
    closed_at: datetime | None
    messages: list[MessageRead]


class EntryRead(BaseModel):
    """A knowledge-base entry; ``id`` is the shop's own key."""

    id: str
    title: str
    phrasings: list[str]
    answer: str
    category: str
    language: str
    valid_from: datetime | None
    valid_until: datetime | None
    status: str
    created_at: datetime
    updated_at: datetime


class EntryList(BaseModel):
    total: int
    entries: list[EntryRead]


class EntryWrite(BaseModel):
    """Fields of an entry; in a PATCH only those sent change. Limits and allowed values are checked with a
    named error (``assistant.entry_*``) naming the field. Dates need their time zone."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=2_000)
    phrasings: list[str] | None = Field(default=None, max_length=200)
    answer: str | None = Field(default=None, max_length=40_000)
    category: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=20)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    status: str | None = Field(default=None, max_length=20)


class EntryCreate(EntryWrite):
    #: The shop's own id (letters, digits, ``.``, ``_``, ``-``); empty: the next free ``kb-<n>``.
    id: str = Field(default="", max_length=200)


class EntryChangeRead(BaseModel):
    changed_at: datetime
    actor: str
    #: ``create``, ``update``, ``retire`` or ``phrasing`` (a knowledge gap's question added).
    action: str
    #: Per changed field: [before, after].
    changes: dict[str, list[Any]]
