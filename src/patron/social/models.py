"""Social listening: the brand names and keywords a workspace tracks, and which feedback items mention them
(docs/social.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, IdType, WorkspaceScoped, tenant_reference

#: The channels a new term is matched in unless it names others.
DEFAULT_CHANNELS = ("social", "review")


class SocialTerm(WorkspaceScoped, Base):
    """A tracked brand name or keyword. ``normalised`` is the term's analysis copy (width-folded, Simplified,
    lower case) — what is looked for in the items' analysis copies."""

    __tablename__ = "social_terms"
    workspace_indexed = False
    __table_args__ = (UniqueConstraint("workspace_id", "normalised"), UniqueConstraint("workspace_id", "id"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    term: Mapped[str] = mapped_column(String(100))
    normalised: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="keyword")
    channels: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200), default="")


class SocialMention(WorkspaceScoped, Base):
    """An item that contains a tracked term. The item's time and channel are copied so the daily series reads
    one table; its sentiment is read from the item (analysis may come later)."""

    __tablename__ = "social_mentions"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("term_id", "item_id"),
        tenant_reference("term_id", "social_terms"),
        tenant_reference("item_id", "feedback_items"),
        Index("ix_social_mentions_workspace_id_occurred_at", "workspace_id", "occurred_at"),
        Index("ix_social_mentions_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    term_id: Mapped[int] = mapped_column(IdType)
    item_id: Mapped[int] = mapped_column(IdType)
    occurred_at: Mapped[datetime] = mapped_column()
    channel: Mapped[str] = mapped_column(String(16))


class SocialReply(WorkspaceScoped, Base):
    """The reply queue's record of an item: handled (who, when, a note) or reopened (who, when)."""

    __tablename__ = "social_replies"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("workspace_id", "item_id"),
        tenant_reference("item_id", "feedback_items"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    item_id: Mapped[int] = mapped_column(IdType)
    handled: Mapped[bool] = mapped_column()
    handled_by: Mapped[str | None] = mapped_column(String(200))
    handled_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str] = mapped_column(String(1000), default="")
    reopened_by: Mapped[str | None] = mapped_column(String(200))
    reopened_at: Mapped[datetime | None] = mapped_column()
