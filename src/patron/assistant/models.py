"""The assistant's knowledge base: one row per entry (a question, its other phrasings, its answer)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.db import Base, IdType, Timestamped, WorkspaceScoped, tenant_reference


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


class ChangeAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RETIRE = "retire"
    PHRASING = "phrasing"


class EntryChange(WorkspaceScoped, Base):
    """One change of a knowledge-base entry by a person: who, when, and per changed field its value before and
    after (``{"title": ["old", "new"], …}``; a new entry's fields have ``None`` before)."""

    __tablename__ = "assistant_entry_changes"
    workspace_indexed = False
    __table_args__ = (Index("ix_assistant_entry_changes_entry_id", "entry_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    entry_id: Mapped[int] = mapped_column(IdType, ForeignKey("assistant_entries.id", ondelete="CASCADE"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    #: Who, as shown: the user's e-mail, ``api key <name>`` or ``cli``.
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict[str, list[object]]] = mapped_column(JSON, default=dict)


class Channel(StrEnum):
    """Where a question was asked."""

    API = "api"
    HELP = "help"
    WIDGET = "widget"


class Rating(StrEnum):
    HELPFUL = "helpful"
    UNHELPFUL = "unhelpful"


class Question(WorkspaceScoped, Base):
    """One question asked, as a record: the text PII-masked (the customer's own words are kept only in a
    hand-over, where staff need them to reply), its language, the top entry (the answer's source, or the
    closest entry when the assistant was not sure), the confidence, whether it was answered and the rating."""

    __tablename__ = "assistant_questions"
    workspace_indexed = False
    __table_args__ = (
        UniqueConstraint("workspace_id", "id"),  # the target of tenant_reference
        Index("ix_assistant_questions_workspace_id_asked_at", "workspace_id", "asked_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    #: The entry's ``external_id`` (entries may be re-imported; the shop's own key survives).
    entry_id: Mapped[str | None] = mapped_column(String(128), default=None)
    confidence: Mapped[float] = mapped_column(Float)
    answered: Mapped[bool] = mapped_column(Boolean)
    rating: Mapped[str | None] = mapped_column(String(16), default=None)
    rated_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Set when an admin closed this question's knowledge gap (made it a phrasing of an entry, or a new entry
    #: from it): the entry's ``external_id`` and when. A covered question leaves the knowledge-gap list.
    covered_by: Mapped[str | None] = mapped_column(String(128), default=None)
    covered_at: Mapped[datetime | None] = mapped_column(default=None)


class ConversationStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class Author(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class Conversation(WorkspaceScoped, Timestamped, Base):
    """A question handed over to a person. Shaped to grow into a support case: a status, a contact (or the
    customer, when known from a signed link) and messages with their author and time."""

    __tablename__ = "assistant_conversations"
    workspace_indexed = False
    __table_args__ = (
        UniqueConstraint("workspace_id", "id"),  # the target of tenant_reference
        Index("ix_assistant_conversations_workspace_id_status", "workspace_id", "status"),
        tenant_reference("question_id", "assistant_questions"),
        tenant_reference("customer_id", "customers"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    question_id: Mapped[int | None] = mapped_column(IdType, default=None)
    customer_id: Mapped[int | None] = mapped_column(IdType, default=None)
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.OPEN.value)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    #: A random nonce; the customer's page is reached through it, signed (``service.conversation_token``).
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class Message(WorkspaceScoped, Base):
    """One message of a conversation: the customer's question, or a reply from staff (sent by e-mail)."""

    __tablename__ = "assistant_messages"
    workspace_from_parent = True
    workspace_indexed = False
    __table_args__ = (
        tenant_reference("conversation_id", "assistant_conversations"),
        Index("ix_assistant_messages_conversation_id", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(IdType)
    author: Mapped[str] = mapped_column(String(16))
    #: The staff member who wrote it (None for the customer).
    user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the e-mail carrying a staff reply was accepted by the mail server; ``send_error`` when it was not.
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    send_error: Mapped[str] = mapped_column(String(500), default="")
