"""The assistant's knowledge base: one row per entry (a question, its other phrasings, its answer)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, IdType, Timestamped, WorkspaceScoped


class EntryStatus(StrEnum):
    PUBLISHED = "published"
    DRAFT = "draft"
    ARCHIVED = "archived"


LANGUAGES = ("zh-Hant", "zh-Hans", "en")


class KnowledgeEntry(WorkspaceScoped, Timestamped, Base):
    """A knowledge-base entry. ``external_id`` is the shop's own key (files re-import onto it)."""

    __tablename__ = "assistant_entries"
    workspace_indexed = False
    __table_args__ = (UniqueConstraint("workspace_id", "external_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(500))
    #: Other ways customers ask the same question (a list of strings).
    phrasings: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64), default="")
    language: Mapped[str] = mapped_column(String(8), default="zh-Hant")
    valid_from: Mapped[datetime | None] = mapped_column(default=None)
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default=EntryStatus.PUBLISHED.value)
