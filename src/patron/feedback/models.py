"""Feedback items from every channel, the themes each mentions with that mention's sentiment, and the
workspace's own versions of the theme taxonomy (docs/feedback.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, IdType, Timestamped, WorkspaceScoped, tenant_reference


class Channel(StrEnum):
    SURVEY = "survey"
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    REVIEW = "review"
    SOCIAL = "social"


CHANNELS = tuple(channel.value for channel in Channel)


class FeedbackItem(WorkspaceScoped, Timestamped, Base):
    """One comment as written, where it came from, and its analysis copy.

    ``text`` is kept exactly as written; ``masked_text`` (personal data replaced by [EMAIL], [PHONE] …) is what
    pages and exports show, ``analysis_text`` (masked, width-folded, Simplified) is what analysis reads.
    ``source_key`` makes every way in idempotent: ``src:<channel>:<source>:<source_id>``, ``key:<client key>``,
    ``answer:<survey answer id>`` or ``fp:<fingerprint of the row>``."""

    __tablename__ = "feedback_items"
    workspace_indexed = False
    __table_args__ = (
        UniqueConstraint("workspace_id", "source_key"),
        UniqueConstraint("workspace_id", "id"),
        tenant_reference("customer_id", "customers"),
        Index("ix_feedback_items_workspace_id_occurred_at", "workspace_id", "occurred_at"),
        Index("ix_feedback_items_workspace_id_analyzed_with", "workspace_id", "analyzed_with"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64), default="")
    source_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column()
    author: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(IdType)
    rating: Mapped[float | None] = mapped_column(Float)
    reply_to: Mapped[str | None] = mapped_column(String(500))
    survey_answer_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("survey_answers.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    masked_text: Mapped[str] = mapped_column(Text)
    analysis_text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    sentiment: Mapped[str | None] = mapped_column(String(8))
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    #: The taxonomy the themes came from (``shipped:1``, ``workspace:3``); None until analysed.
    analyzed_with: Mapped[str | None] = mapped_column(String(40))


class FeedbackMention(WorkspaceScoped, Base):
    """A theme an item mentions, with the sentiment of the clauses that mention it (not the item's overall
    sentiment). The item's time and channel are copied so page figures read one table."""

    __tablename__ = "feedback_mentions"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("item_id", "theme"),
        tenant_reference("item_id", "feedback_items"),
        Index("ix_feedback_mentions_workspace_id_theme_occurred_at", "workspace_id", "theme", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    item_id: Mapped[int] = mapped_column(IdType)
    theme: Mapped[str] = mapped_column(String(48))
    #: The first clause (0-based) that mentions the theme.
    clause: Mapped[int] = mapped_column(Integer)
    sentiment: Mapped[str] = mapped_column(String(8))
    score: Mapped[float] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column()
    channel: Mapped[str] = mapped_column(String(16))


class FeedbackTaxonomy(WorkspaceScoped, Base):
    """A workspace's own version of the theme taxonomy (the YAML document as read); the highest version is in
    force. Without one the shipped taxonomy is."""

    __tablename__ = "feedback_taxonomies"
    workspace_indexed = False
    __table_args__ = (UniqueConstraint("workspace_id", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200), default="")


class FeedbackInbound(WorkspaceScoped, Timestamped, Base):
    """A signed inbound webhook: a tool (a social-listening vendor, a review platform, Zapier) POSTs items to
    ``/api/v1/feedback/inbound/<public_id>`` signed with ``secret`` instead of sending an API key.

    The secret is kept as issued, like an outbound webhook's (``webhook_endpoints.secret``): verifying an HMAC
    needs the key itself, and the project has no encryption for secrets at rest. It is shown once, when the
    source is added or rotated, and never listed."""

    __tablename__ = "feedback_inbound_sources"
    workspace_indexed = False
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    #: The URL's last segment; random, so it names no workspace and cannot be guessed.
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    #: Given to items that name no channel of their own.
    channel: Mapped[str] = mapped_column(String(16))
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    rotated_at: Mapped[datetime | None] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()
    #: When the last signed delivery was stored: tells an admin the sender is working.
    received_at: Mapped[datetime | None] = mapped_column()


class TestimonialStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    HIDDEN = "hidden"


class FeedbackTestimonial(WorkspaceScoped, Base):
    """An admin's decision on a testimonial: approved (shown on the public page ``/t/<workspace>``) or hidden.
    A consented positive comment without a row is pending. Deleting the item (erasure) deletes the decision."""

    __tablename__ = "feedback_testimonials"
    workspace_indexed = False
    workspace_from_parent = True
    __table_args__ = (
        UniqueConstraint("workspace_id", "item_id"),
        tenant_reference("item_id", "feedback_items"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    item_id: Mapped[int] = mapped_column(IdType)
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(String(320), default="")
    decided_at: Mapped[datetime] = mapped_column()


class FeedbackDismissedTerm(WorkspaceScoped, Base):
    """A keyword an admin said is no topic (a shop's name, noise): discovery stops suggesting any term it matches.
    Stored as analysed (Simplified, lower case); deleting the row undoes the dismissal (docs/feedback.md)."""

    __tablename__ = "feedback_dismissed_terms"
    workspace_indexed = False
    __table_args__ = (UniqueConstraint("workspace_id", "keyword"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    keyword: Mapped[str] = mapped_column(String(64))
    dismissed_by: Mapped[str] = mapped_column(String(320), default="")
    dismissed_at: Mapped[datetime] = mapped_column()
