"""Tenancy and access: workspaces, their users and API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, IdType, Timestamped, WorkspaceScoped


class Workspace(Timestamped, Base):
    """A brand (tenant). Every business row belongs to exactly one."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Taipei")
    currency: Mapped[str] = mapped_column(String(3), default="TWD")
    default_locale: Mapped[str] = mapped_column(String(16), default="zh-Hant")
    industry: Mapped[str | None] = mapped_column(String(64))
    #: The workspace's own NPS benchmark, replacing its industry's published one when set.
    nps_benchmark: Mapped[float | None] = mapped_column()
    #: Fatigue control: no customer gets a survey invitation more often than once in this many days.
    survey_quiet_days: Mapped[int] = mapped_column(default=30, server_default="30")
    #: The workspace's own names for its customer segments: {segment: {locale: label}}; a segment or language
    #: without one reads the catalogue's label (``label.segment.<code>``) or the code made readable.
    segment_labels: Mapped[dict[str, dict[str, str]] | None] = mapped_column(JSON)
    #: Retention of feedback originals: after this many days an item's text as written is replaced by its masked
    #: copy (``patron feedback purge``); None keeps originals.
    feedback_original_days: Mapped[int | None] = mapped_column(default=None)


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


class User(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("workspace_id", "email"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=Role.ADMIN.value)
    locale: Mapped[str | None] = mapped_column(String(16))
    last_login_at: Mapped[datetime | None] = mapped_column()
    disabled: Mapped[bool] = mapped_column(default=False)


class ApiKey(WorkspaceScoped, Timestamped, Base):
    """Only a SHA-256 digest of the key is stored; the prefix finds the row without a scan."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_digest: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginSession(WorkspaceScoped, Base):
    """A browser logged in as a user. Its cookie holds a random token; only the token's SHA-256 digest is stored.
    Logging out deletes the row, so a copy of the cookie opens nothing afterwards (the signed cookie alone
    would have stayed valid for its whole life)."""

    __tablename__ = "login_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
