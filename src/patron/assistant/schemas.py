"""Shapes of the assistant's API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class ImportReport(BaseModel):
    inserted: int
    updated: int
    total: int
