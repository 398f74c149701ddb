"""Testimonials: positive survey comments whose authors agreed to be quoted, named as they allowed, approved or
hidden by an admin, exported, and shown on the public page ``/t/<workspace>`` (docs/feedback.md, "Testimonials";
consent: docs/privacy.md).

What makes a comment a testimonial is read every time, never copied: the survey comment is an analysed item with
overall sentiment positive, it answers a text question that asks for consent (``consent_to_publish``), and its
response has ``publish_consent`` (the box ticked). So a consent withdrawn (an erasure sets it
to no and deletes the item) takes the testimonial away at once, from the dashboard, the API and the public page.
The text shown is always the masked copy. The name is the customer's, in the form the respondent chose
(``publish_as``): the full name, the initials (王小明 → 王○○, Jane Doe → J. D.), or none (anonymous); a response
with no known customer is anonymous whatever it chose.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import NotFound
from patron.customers.models import Customer
from patron.feedback.models import FeedbackItem, FeedbackTestimonial, TestimonialStatus
from patron.feedback.schemas import TestimonialPage, TestimonialRead
from patron.surveys.models import Survey, SurveyAnswer, SurveyResponse

DISPLAY_FORMS = ("full", "initials", "anonymous")
STATUSES = tuple(status.value for status in TestimonialStatus)
#: The public page shows the newest this many approved testimonials.
PUBLIC_LIMIT = 50


def initials(name: str) -> str:
    """A name shortened to what identifies no one by itself: a Chinese name keeps its family name (王小明 → 王○○),
    a name in Latin letters its initials (Jane Doe → J. D.)."""
    cleaned = " ".join(name.split())
    if not cleaned:
        return ""
    if not cleaned.isascii() and " " not in cleaned:
        return cleaned[0] + "○" * (len(cleaned) - 1)
    return " ".join(word[0].upper() + "." for word in cleaned.split())


def display_name(form: str, name: str | None) -> str | None:
    """The name as the respondent allowed it; None for anonymous or when no name is known."""
    if not name or not name.strip() or form not in ("full", "initials"):
        return None
    return " ".join(name.split()) if form == "full" else initials(name)


_status_column = func.coalesce(FeedbackTestimonial.status, TestimonialStatus.PENDING.value)


def _consent_questions(session: Session, workspace_id: int) -> Any:
    """The text questions that ask for consent to publish (``consent_to_publish``), per survey: consent covers
    the answers to these, not the respondent's other comments."""
    conditions = []
    for survey_id, definition in session.execute(
        select(Survey.id, Survey.definition).where(Survey.workspace_id == workspace_id)
    ):
        keys = [str(q.get("key")) for q in (definition or {}).get("questions", [])
                if isinstance(q, dict) and q.get("type") == "text" and q.get("consent_to_publish") is True]  # fmt: skip
        if keys:
            conditions.append(and_(SurveyAnswer.survey_id == survey_id, SurveyAnswer.question_key.in_(keys)))
    return or_(*conditions) if conditions else false()


def _candidates(session: Session, workspace_id: int) -> Any:
    """Consented, positive survey comments of the workspace (with the decision, when there is one)."""
    return (
        select(FeedbackItem.id, FeedbackItem.occurred_at, FeedbackItem.masked_text, FeedbackItem.language,
               FeedbackItem.sentiment_score, Survey.key, SurveyResponse.publish_as, Customer.name,
               _status_column.label("status"), FeedbackTestimonial.decided_by, FeedbackTestimonial.decided_at)
        .join(SurveyAnswer, SurveyAnswer.id == FeedbackItem.survey_answer_id)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .outerjoin(Customer, Customer.id == SurveyResponse.customer_id)
        .outerjoin(FeedbackTestimonial, and_(FeedbackTestimonial.workspace_id == FeedbackItem.workspace_id,
                                             FeedbackTestimonial.item_id == FeedbackItem.id))
        .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.sentiment == "positive",
               SurveyResponse.workspace_id == workspace_id, SurveyResponse.publish_consent.is_(True),
               Customer.erased_at.is_(None), _consent_questions(session, workspace_id))
    )  # fmt: skip


def _read(row: Any) -> TestimonialRead:
    (item_id, occurred_at, text, language, score, survey, form, name, status, decided_by, decided_at) = row
    form = form if form in DISPLAY_FORMS else "anonymous"
    shown = display_name(form, name)
    return TestimonialRead(
        item_id=item_id, occurred_at=occurred_at, survey=survey, text=text, language=language,
        sentiment_score=round(float(score or 0), 4), display_as=form if shown else "anonymous",
        display_name=shown, status=status, decided_by=decided_by or None, decided_at=decided_at,
    )  # fmt: skip


def list_testimonials(
    session: Session, *, workspace_id: int, status: str | None = None, offset: int = 0, limit: int = 100
) -> TestimonialPage:
    """The workspace's testimonials newest first (``status``: only those), with how many are in each status."""
    base = _candidates(session, workspace_id).subquery()
    counts = dict.fromkeys(STATUSES, 0)
    for value, number in session.execute(select(base.c.status, func.count()).group_by(base.c.status)):
        counts[str(value)] = int(number)
    query = _candidates(session, workspace_id)
    if status is not None:
        query = query.where(_status_column == status)
    rows = session.execute(
        query.order_by(FeedbackItem.occurred_at.desc(), FeedbackItem.id.desc()).offset(offset).limit(limit)
    ).all()
    total = counts[status] if status is not None else sum(counts.values())
    return TestimonialPage(items=[_read(row) for row in rows], total=total, approved=counts["approved"],
                           pending=counts["pending"], hidden=counts["hidden"])  # fmt: skip


def public_testimonials(session: Session, *, workspace_id: int) -> list[TestimonialRead]:
    """What the public page shows: the newest approved testimonials."""
    return list_testimonials(
        session, workspace_id=workspace_id, status=TestimonialStatus.APPROVED.value, limit=PUBLIC_LIMIT
    ).items


def decide(
    session: Session, *, workspace_id: int, item_id: int, status: str, actor: str, now: datetime | None = None
) -> TestimonialRead:
    """Approve, hide, or put back to pending (no decision) one testimonial; an item that is not a testimonial (no
    consent, not positive, another workspace's) is not found."""
    found = session.execute(_candidates(session, workspace_id).where(FeedbackItem.id == item_id)).first()
    if found is None:
        raise NotFound("feedback.testimonial_not_found", id=item_id)
    session.execute(
        delete(FeedbackTestimonial).where(
            FeedbackTestimonial.workspace_id == workspace_id, FeedbackTestimonial.item_id == item_id
        )
    )
    if status != TestimonialStatus.PENDING.value:
        session.add(FeedbackTestimonial(workspace_id=workspace_id, item_id=item_id, status=status,
                                        decided_by=actor[:320], decided_at=now or utcnow()))  # fmt: skip
    session.flush()
    return _read(session.execute(_candidates(session, workspace_id).where(FeedbackItem.id == item_id)).one())
