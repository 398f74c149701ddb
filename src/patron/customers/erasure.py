"""Erasing a customer (right to erasure: Taiwan PDPA art. 11, GDPR art. 17), in one transaction.

What is written by or about the person goes; what finance must keep (orders and their lines, the loyalty ledger)
stays, detached from the person: the customer row becomes a tombstone with every personal column empty and a
random ``erased-…`` id, so counts and sums stay right. Survey scores stay as anonymous answers without text
(like those of a public link); their comments go. Table by table: docs/privacy.md."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Delete, Update, delete, func, or_, select, update
from sqlalchemy.orm import Session

from patron.analytics.models import ChurnScore, ClvScore
from patron.assistant.models import Conversation, Message, Question
from patron.commerce.models import Interaction
from patron.core.clock import utcnow
from patron.core.errors import NotFound
from patron.customers.models import Customer, CustomerErasure
from patron.customers.schemas import ErasureRead
from patron.feedback.models import FeedbackItem, FeedbackMention, FeedbackTestimonial
from patron.loyalty.models import Member, ReferralCode
from patron.social.models import SocialMention, SocialReply
from patron.surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse
from patron.webhooks.models import WebhookDelivery

#: The prefix of a tombstone's ``external_id``; the rest is random, so it leads back to no one.
ERASED_PREFIX = "erased-"


def _count(session: Session, statement: Delete | Update) -> int:
    result: Any = session.execute(statement, execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)


def find_living(session: Session, *, workspace_id: int, external_id: str) -> Customer:
    """The customer ``external_id`` of the workspace, not yet erased (a tombstone is not found either)."""
    customer = session.scalar(
        select(Customer)
        .where(
            Customer.workspace_id == workspace_id,
            Customer.external_id == external_id,
            Customer.erased_at.is_(None),
        )
        .with_for_update()
    )
    if customer is None:
        raise NotFound("customer.not_found", external_id=external_id)
    return customer


def erase_customer(
    session: Session, *, workspace_id: int, external_id: str, actor: str, now: datetime | None = None
) -> ErasureRead:
    """Erase the customer and every copy of what they wrote; log the erasure (counts only). The caller's
    transaction holds it all: an error anywhere leaves nothing half-erased."""
    now = now or utcnow()
    customer = find_living(session, workspace_id=workspace_id, external_id=external_id)
    ws, cid = workspace_id, customer.id
    counts: dict[str, int] = {}

    responses = list(
        session.scalars(
            select(SurveyResponse.id).where(
                SurveyResponse.workspace_id == ws, SurveyResponse.customer_id == cid
            )
        )
    )
    answers = select(SurveyAnswer.id).where(
        SurveyAnswer.workspace_id == ws, SurveyAnswer.response_id.in_(responses)
    )

    # Feedback items: the customer's own, and the copies of their survey comments (with every analysis row).
    items = list(
        session.scalars(
            select(FeedbackItem.id).where(
                FeedbackItem.workspace_id == ws,
                or_(FeedbackItem.customer_id == cid, FeedbackItem.survey_answer_id.in_(answers)),
            )
        )
    )
    for model, key in ((SocialReply, "social_replies"), (SocialMention, "social_mentions"),
                       (FeedbackMention, "feedback_mentions"), (FeedbackTestimonial, "feedback_testimonials")):  # fmt: skip
        counts[key] = _count(session, delete(model).where(model.workspace_id == ws, model.item_id.in_(items)))
    counts["feedback_items"] = _count(
        session, delete(FeedbackItem).where(FeedbackItem.workspace_id == ws, FeedbackItem.id.in_(items))
    )

    # Survey answers: comments go; scores stay, anonymous; an answer left with nothing goes.
    mine = (SurveyAnswer.workspace_id == ws, SurveyAnswer.response_id.in_(responses))
    counts["survey_comments"] = _count(
        session, update(SurveyAnswer).where(*mine, SurveyAnswer.text.is_not(None)).values(text=None)
    )
    _count(
        session,
        delete(SurveyAnswer).where(
            *mine,
            SurveyAnswer.score.is_(None),
            SurveyAnswer.expected_score.is_(None),
            SurveyAnswer.choices.is_(None),
        ),
    )
    counts["survey_responses_detached"] = _count(
        session,
        update(SurveyResponse)
        .where(SurveyResponse.workspace_id == ws, SurveyResponse.id.in_(responses))
        .values(
            customer_id=None,
            client_key=None,
            invitation_id=None,
            order_external_id=None,
            publish_consent=False,
        ),
    )
    # The response.completed webhooks queued or sent with those responses carry their comments and the customer.
    deliveries = [
        delivery_id
        for delivery_id, payload in session.execute(
            select(WebhookDelivery.id, WebhookDelivery.payload).where(
                WebhookDelivery.workspace_id == ws, WebhookDelivery.event == "response.completed"
            )
        )
        if isinstance(payload, dict)
        and (payload.get("id") in responses or payload.get("customer_id") == customer.external_id)
    ]
    counts["webhook_deliveries"] = _count(
        session, delete(WebhookDelivery).where(WebhookDelivery.id.in_(deliveries))
    )
    counts["survey_invitations"] = _count(
        session,
        delete(SurveyInvitation).where(
            SurveyInvitation.workspace_id == ws, SurveyInvitation.customer_id == cid
        ),
    )

    # Assistant hand-overs: linked to the customer, or sent from their e-mail address.
    reached = [Conversation.customer_id == cid]
    if customer.email:
        reached.append(func.lower(Conversation.contact_email) == customer.email.strip().lower())
    conversations = list(
        session.execute(
            select(Conversation.id, Conversation.question_id).where(
                Conversation.workspace_id == ws, or_(*reached)
            )
        )
    )
    conversation_ids = [row[0] for row in conversations]
    questions = [row[1] for row in conversations if row[1] is not None]
    counts["assistant_messages"] = _count(
        session,
        delete(Message).where(Message.workspace_id == ws, Message.conversation_id.in_(conversation_ids)),
    )
    counts["assistant_conversations"] = _count(
        session,
        delete(Conversation).where(Conversation.workspace_id == ws, Conversation.id.in_(conversation_ids)),
    )
    counts["assistant_questions"] = _count(
        session, delete(Question).where(Question.workspace_id == ws, Question.id.in_(questions))
    )

    # Scores about the person, their behaviour and their referral link.
    for scored, key in (
        (ClvScore, "clv_scores"),
        (ChurnScore, "churn_scores"),
        (Interaction, "interactions"),
    ):
        counts[key] = _count(
            session, delete(scored).where(scored.workspace_id == ws, scored.customer_id == cid)
        )
    members = select(Member.id).where(Member.workspace_id == ws, Member.customer_id == cid)
    counts["referral_codes"] = _count(
        session,
        delete(ReferralCode).where(ReferralCode.workspace_id == ws, ReferralCode.member_id.in_(members)),
    )

    # The tombstone: orders, order lines, the loyalty member, its ledger, lots, coupons and tiers point at it.
    customer.external_id = ERASED_PREFIX + secrets.token_hex(12)
    for column in ("name", "email", "phone", "birthday", "gender", "locale", "city", "attributes",
                   "surveys_unsubscribed_at"):  # fmt: skip
        setattr(customer, column, None)
    customer.consent_email = customer.consent_sms = customer.consent_surveys = False
    customer.erased_at = now
    log = CustomerErasure(workspace_id=ws, customer_id=cid, actor=actor[:320], erased_at=now, counts=counts)
    session.add(log)
    session.flush()
    return ErasureRead(erased_at=now, counts=counts)
