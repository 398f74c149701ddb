"""Surveys, their responses and one row per answer (so metrics read scores with plain column filters)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, IdType, Timestamped, WorkspaceScoped


class SurveyStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class ResponseStatus(StrEnum):
    PARTIAL = "partial"
    COMPLETED = "completed"


class Survey(WorkspaceScoped, Timestamped, Base):
    """A survey definition. ``definition`` is the validated document; editing it bumps ``version`` so each
    response records the wording it answered."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default=SurveyStatus.ACTIVE.value)
    kind: Mapped[str] = mapped_column(String(16))
    touchpoint: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)


class SurveyResponse(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("workspace_id", "client_key"),
        Index(
            "ix_survey_responses_workspace_id_survey_id_completed_at",
            "workspace_id",
            "survey_id",
            "completed_at",
        ),
        Index("ix_survey_responses_workspace_id_updated_at", "workspace_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    survey_id: Mapped[int] = mapped_column(IdType, ForeignKey("surveys.id", ondelete="CASCADE"))
    survey_version: Mapped[int] = mapped_column()
    customer_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    #: The integrator's idempotency key (or the invitation's): a retry with the same key stores nothing new.
    client_key: Mapped[str | None] = mapped_column(String(128))
    touchpoint: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    order_external_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=ResponseStatus.COMPLETED.value)
    invitation_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("survey_invitations.id", ondelete="SET NULL")
    )
    #: The respondent agreed that their comment may be quoted as a testimonial.
    publish_consent: Mapped[bool] = mapped_column(default=False)
    #: How a testimonial may name them: "full" (their name), "initials" or "anonymous" (docs/privacy.md).
    publish_as: Mapped[str] = mapped_column(String(16), default="anonymous", server_default="anonymous")
    #: Answer-page progress of a partial response: which questions the respondent has already been shown.
    seen: Mapped[list[str] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()


class SurveyAnswer(WorkspaceScoped, Base):
    """One answered question (a SERVQUAL item is one row with both its scores)."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("response_id", "question_key", "item_key"),
        Index(
            "ix_survey_answers_workspace_id_survey_id_question_type",
            "workspace_id",
            "survey_id",
            "question_type",
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    response_id: Mapped[int] = mapped_column(IdType, ForeignKey("survey_responses.id", ondelete="CASCADE"))
    survey_id: Mapped[int] = mapped_column(IdType, ForeignKey("surveys.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(64))
    question_type: Mapped[str] = mapped_column(String(24))
    #: SERVQUAL item, empty string for other questions (so the unique constraint holds on every backend).
    item_key: Mapped[str] = mapped_column(String(64), default="")
    score: Mapped[int | None] = mapped_column()
    #: The ends of the question's scale when the answer was given (CSAT 1–5 or 1–10, NPS 0–10, CES 1–7, a
    #: rating's min–max); empty for answers without a score. CSAT's top box and the normalised mean come from
    #: these, so answers on different scales are never read with one threshold.
    scale_min: Mapped[int | None] = mapped_column()
    scale_max: Mapped[int | None] = mapped_column()
    expected_score: Mapped[int | None] = mapped_column()
    choices: Mapped[list[str] | None] = mapped_column(JSON)
    text: Mapped[str | None] = mapped_column(Text)


class InvitationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    #: A personal link minted for the workspace to hand over through its own channel (``patron surveys link``):
    #: counted as sent from the moment it is minted, never e-mailed or reminded by Patron.
    LINKED = "linked"
    ANSWERED = "answered"
    FAILED = "failed"


class SurveyInvitation(WorkspaceScoped, Timestamped, Base):
    """A personal invitation: one customer, one survey, one touchpoint (often an order). Its ``nonce`` is
    what the signed link carries; the row decides whether the link still works."""

    __tablename__ = "survey_invitations"
    __table_args__ = (
        UniqueConstraint("nonce"),
        UniqueConstraint("workspace_id", "survey_id", "customer_id", "subject"),
        Index(
            "ix_survey_invitations_workspace_id_customer_id_created_at",
            "workspace_id",
            "customer_id",
            "created_at",
        ),
        Index("ix_survey_invitations_workspace_id_updated_at", "workspace_id", "updated_at"),
        Index("ix_survey_invitations_workspace_id_sent_at", "workspace_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    survey_id: Mapped[int] = mapped_column(IdType, ForeignKey("surveys.id", ondelete="CASCADE"))
    #: None for an anonymous public link (a checkout page, a QR code in a store).
    customer_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("customers.id", ondelete="CASCADE"))
    #: What was experienced: "order:O123", "interaction:E9", or "wave:2026-11" for a relationship wave.
    subject: Mapped[str] = mapped_column(String(160))
    touchpoint: Mapped[str] = mapped_column(String(32))
    order_external_id: Mapped[str | None] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=InvitationStatus.PENDING.value)
    send_after: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()
    opened_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
