"""Who gets invited to which survey, when, and how the invitation reaches them.

The rules a CX manager expects, in the order they are applied:
1. only customers who consented to surveys and never used the unsubscribe link;
2. fatigue control: nobody is invited more than once in the workspace's ``survey_quiet_days``, across surveys;
3. one invitation per customer, survey and subject (the order, the ticket, the wave) however often triggers run;
4. the survey's sampling rate, decided by a hash so a re-run makes the same choice;
then email invitations go out once ``send_after`` has passed, and one reminder if still unanswered.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from patron.commerce.models import Interaction, Order
from patron.commerce.service import NON_REVENUE_STATUSES
from patron.core.i18n import translate
from patron.core.mail import Mailer, MailError, Message
from patron.core.models import Workspace
from patron.core.settings import get_settings
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.surveys.models import InvitationStatus, Survey, SurveyInvitation, SurveyStatus
from patron.surveys.schemas import SurveyDefinition
from patron.surveys.texts import pick

_LINK_SALT = "patron-survey-link"
_UNSUBSCRIBE_SALT = "patron-survey-unsubscribe"


class Skip(StrEnum):
    """Why a customer was not invited; counted and shown so a manager can trust the numbers."""

    NO_CONSENT = "no_consent"
    UNSUBSCRIBED = "unsubscribed"
    RECENTLY_INVITED = "recently_invited"
    ALREADY_INVITED = "already_invited"
    SAMPLED_OUT = "sampled_out"
    NO_EMAIL = "no_email"


# ------------------------------------------------------------------ links
def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().resolved_secret_key(), salt=salt)


def survey_token(nonce: str) -> str:
    return str(_serializer(_LINK_SALT).dumps(nonce))


def unsubscribe_token(nonce: str) -> str:
    return str(_serializer(_UNSUBSCRIBE_SALT).dumps(nonce))


def _read(token: str, salt: str) -> str | None:
    try:
        value = _serializer(salt).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def nonce_from_survey_token(token: str) -> str | None:
    """The invitation nonce, or None for a tampered or foreign token."""
    return _read(token, _LINK_SALT)


def nonce_from_unsubscribe_token(token: str) -> str | None:
    return _read(token, _UNSUBSCRIBE_SALT)


def survey_link(nonce: str) -> str:
    return f"{get_settings().base_url()}/s/{survey_token(nonce)}"


def unsubscribe_link(nonce: str) -> str:
    return f"{get_settings().base_url()}/unsubscribe/{unsubscribe_token(nonce)}"


# ------------------------------------------------------------------ deciding
def sampled_in(rate: float, *parts: object) -> bool:
    """A stable pseudo-random draw: the same customer, survey and subject always get the same answer."""
    if rate >= 1:
        return True
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def last_invited_at(session: Session, *, workspace_id: int, customer_id: int) -> datetime | None:
    return session.scalar(
        select(func.max(SurveyInvitation.created_at)).where(
            SurveyInvitation.workspace_id == workspace_id, SurveyInvitation.customer_id == customer_id
        )
    )


@dataclass
class InviteOutcome:
    invitation: SurveyInvitation | None
    skipped: Skip | None


def invite(
    session: Session,
    *,
    workspace: Workspace,
    survey: Survey,
    definition: SurveyDefinition,
    customer: Customer,
    subject: str,
    now: datetime,
    send_after: datetime | None = None,
    order_external_id: str | None = None,
) -> InviteOutcome:
    """Create one invitation if every rule allows it, else say which rule stopped it."""
    if customer.surveys_unsubscribed_at is not None:
        return InviteOutcome(None, Skip.UNSUBSCRIBED)
    if not customer.consent_surveys:
        return InviteOutcome(None, Skip.NO_CONSENT)
    if definition.channel.value == "email" and not customer.email:
        return InviteOutcome(None, Skip.NO_EMAIL)
    existing = session.scalar(
        scoped(SurveyInvitation, workspace.id, SurveyInvitation.survey_id == survey.id,
               SurveyInvitation.customer_id == customer.id, SurveyInvitation.subject == subject)
    )  # fmt: skip
    if existing is not None:
        return InviteOutcome(None, Skip.ALREADY_INVITED)
    last = last_invited_at(session, workspace_id=workspace.id, customer_id=customer.id)
    if last is not None and now - last < timedelta(days=workspace.survey_quiet_days):
        return InviteOutcome(None, Skip.RECENTLY_INVITED)
    if not sampled_in(definition.settings.sampling_rate, survey.id, customer.id, subject):
        return InviteOutcome(None, Skip.SAMPLED_OUT)
    start = send_after or now
    invitation = SurveyInvitation(
        workspace_id=workspace.id, survey_id=survey.id, customer_id=customer.id, subject=subject,
        touchpoint=definition.touchpoint.value, order_external_id=order_external_id,
        nonce=secrets.token_urlsafe(16), locale=customer.locale or workspace.default_locale,
        status=InvitationStatus.PENDING.value, send_after=start,
        expires_at=start + timedelta(days=definition.settings.expires_after_days), created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(invitation)
    session.flush()
    return InviteOutcome(invitation, None)


def mint_link(
    session: Session,
    *,
    workspace: Workspace,
    survey: Survey,
    definition: SurveyDefinition,
    customer: Customer,
    subject: str,
    now: datetime,
    order_external_id: str | None = None,
) -> InviteOutcome:
    """A personal link for the workspace to hand over through its own channel, under the same rules as
    ``invite``. It counts as sent when it is minted (``sent_at`` = now, status ``linked``): the link is given
    to someone at that moment, so it belongs in the response rate's denominator, and its answer in the
    numerator. Patron never e-mails or reminds a linked invitation."""
    outcome = invite(session, workspace=workspace, survey=survey, definition=definition, customer=customer,
                     subject=subject, now=now, order_external_id=order_external_id)  # fmt: skip
    if outcome.invitation is not None:
        outcome.invitation.status, outcome.invitation.sent_at = InvitationStatus.LINKED.value, now
        session.flush()
    return outcome


@dataclass
class TriggerReport:
    invited: int
    skipped: Counter[str]


def run_trigger(
    session: Session, *, workspace: Workspace, survey: Survey, definition: SurveyDefinition, now: datetime
) -> TriggerReport:
    """Invite for every order or interaction of the trigger's type that is at least ``delay_hours`` old and
    at most ``lookback_days``; events too old are never surveyed late."""
    trigger = definition.settings.trigger
    report = TriggerReport(0, Counter())
    if trigger is None or survey.status != SurveyStatus.ACTIVE.value:
        return report
    newest, oldest = now - timedelta(hours=trigger.delay_hours), now - timedelta(days=trigger.lookback_days)
    events: list[tuple[Customer, str, str | None, datetime]]
    if trigger.event == "order":
        order_rows = session.execute(
            select(Customer, Order.external_id, Order.ordered_at)
            .join(Order, and_(Order.customer_id == Customer.id, Order.workspace_id == workspace.id))
            .where(Order.ordered_at.between(oldest, newest), Order.status.not_in(NON_REVENUE_STATUSES))
            .order_by(Order.ordered_at)
        )
        events = [(c, f"order:{external_id}", external_id, at) for c, external_id, at in order_rows]
    else:
        interaction_rows = session.execute(
            select(Customer, Interaction.external_id, Interaction.order_external_id, Interaction.occurred_at)
            .join(
                Interaction,
                and_(Interaction.customer_id == Customer.id, Interaction.workspace_id == workspace.id),
            )
            .where(Interaction.type == trigger.event, Interaction.occurred_at.between(oldest, newest))
            .order_by(Interaction.occurred_at)
        )
        events = [
            (c, f"interaction:{external_id}", order, at) for c, external_id, order, at in interaction_rows
        ]
    for customer, subject, order_external_id, _ in events:
        outcome = invite(session, workspace=workspace, survey=survey, definition=definition, customer=customer,
                         subject=subject, now=now, order_external_id=order_external_id)  # fmt: skip
        if outcome.invitation is not None:
            report.invited += 1
        elif outcome.skipped is not None:
            report.skipped[outcome.skipped.value] += 1
    return report


def relationship_wave(
    session: Session, *, workspace: Workspace, survey: Survey, definition: SurveyDefinition, sample_size: int,
    now: datetime, seed: int | None = None,
) -> TriggerReport:  # fmt: skip
    """A periodic relationship survey to a random sample of the customers allowed to receive one."""
    report = TriggerReport(0, Counter())
    customers = list(session.scalars(scoped(Customer, workspace.id).order_by(Customer.id)))
    rng = random.Random(seed if seed is not None else f"{survey.id}:{now:%Y-%m}")
    rng.shuffle(customers)
    subject = f"wave:{now:%Y-%m}"
    for customer in customers:
        if report.invited >= sample_size:
            break
        outcome = invite(session, workspace=workspace, survey=survey, definition=definition, customer=customer,
                         subject=subject, now=now)  # fmt: skip
        if outcome.invitation is not None:
            report.invited += 1
        elif outcome.skipped is not None:
            report.skipped[outcome.skipped.value] += 1
    return report


def public_link(workspace_slug: str, survey_key: str) -> str:
    return f"{get_settings().base_url()}/p/{workspace_slug}/{survey_key}"


def open_anonymous(
    session: Session, *, workspace: Workspace, survey: Survey, definition: SurveyDefinition, locale: str,
    order_external_id: str | None, now: datetime,
) -> SurveyInvitation:  # fmt: skip
    """An invitation without a customer, made when someone opens a public link."""
    nonce = secrets.token_urlsafe(16)
    invitation = SurveyInvitation(
        workspace_id=workspace.id, survey_id=survey.id, customer_id=None, subject=f"anon:{nonce}",
        touchpoint=definition.touchpoint.value, order_external_id=order_external_id, nonce=nonce, locale=locale,
        status=InvitationStatus.SENT.value, send_after=now, sent_at=now,
        expires_at=now + timedelta(days=definition.settings.expires_after_days), created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(invitation)
    session.flush()
    return invitation


# ------------------------------------------------------------------ sending
def invitation_message(
    *, invitation: SurveyInvitation, customer: Customer, workspace: Workspace, definition: SurveyDefinition,
    reminder: bool,
) -> Message:  # fmt: skip
    locale = invitation.locale
    link, leave = survey_link(invitation.nonce), unsubscribe_link(invitation.nonce)
    survey_name = pick(definition.name, locale)
    subject = translate("mail.reminder_subject" if reminder else "mail.invite_subject", locale,
                        brand=workspace.name, survey=survey_name)  # fmt: skip
    greeting = translate("mail.greeting", locale, name=customer.name or "")
    body = translate("mail.invite_body", locale, brand=workspace.name, survey=survey_name)
    button = translate("mail.invite_button", locale)
    footer = translate("mail.unsubscribe", locale)
    text = f"{greeting}\n\n{body}\n\n{button}: {link}\n\n{footer}: {leave}\n"
    html = (
        f'<!doctype html><html lang="{locale}"><meta charset="utf-8"><body style="font-family:sans-serif">'
        f"<p>{_escape(greeting)}</p><p>{_escape(body)}</p>"
        f'<p><a href="{link}" style="background:#2f6f5e;color:#fff;padding:10px 18px;border-radius:6px;'
        f'text-decoration:none">{_escape(button)}</a></p>'
        f'<p style="color:#5b6b75;font-size:12px"><a href="{leave}">{_escape(footer)}</a></p></body></html>'
    )
    headers = {"List-Unsubscribe": f"<{leave}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return Message(to=customer.email or "", to_name=customer.name or "", subject=subject, text=text, html=html,
                   headers=headers)  # fmt: skip


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class SendReport:
    sent: int = 0
    reminded: int = 0
    failed: int = 0
    skipped: int = 0


def send_due(session: Session, *, workspace: Workspace, mailer: Mailer, now: datetime) -> SendReport:
    """Send pending invitations whose time has come, then one reminder to those still unanswered.

    Consent is checked again at send time: an unsubscribe between planning and sending wins."""
    from patron.surveys.service import definition_of

    report = SendReport()
    due = session.execute(
        select(SurveyInvitation, Customer, Survey)
        .join(Customer, Customer.id == SurveyInvitation.customer_id)
        .join(Survey, Survey.id == SurveyInvitation.survey_id)
        .where(SurveyInvitation.workspace_id == workspace.id, SurveyInvitation.answered_at.is_(None),
               SurveyInvitation.expires_at > now, Survey.status == SurveyStatus.ACTIVE.value)
        .order_by(SurveyInvitation.id)
    ).all()  # fmt: skip
    for invitation, customer, survey in due:
        definition = definition_of(survey)
        if invitation.status == InvitationStatus.PENDING.value and invitation.send_after <= now:
            reminder = False
        elif (
            invitation.status == InvitationStatus.SENT.value
            and invitation.reminded_at is None
            and definition.settings.reminder_after_days is not None
            and invitation.sent_at is not None
            and now - invitation.sent_at >= timedelta(days=definition.settings.reminder_after_days)
        ):
            reminder = True
        else:
            continue
        if customer.surveys_unsubscribed_at is not None or not customer.consent_surveys or not customer.email:
            report.skipped += 1
            continue
        message = invitation_message(invitation=invitation, customer=customer, workspace=workspace,
                                     definition=definition, reminder=reminder)  # fmt: skip
        try:
            mailer.send(message)
        except MailError as exc:
            invitation.last_error = str(exc)[:500]
            if not reminder:
                invitation.status = InvitationStatus.FAILED.value
            report.failed += 1
            continue
        if reminder:
            invitation.reminded_at = now
            report.reminded += 1
        else:
            invitation.status, invitation.sent_at = InvitationStatus.SENT.value, now
            report.sent += 1
    return report


def unsubscribe(session: Session, *, nonce: str, now: datetime) -> Customer | None:
    """Honoured everywhere: the customer gets no further invitation from any survey of the workspace."""
    invitation = session.scalar(select(SurveyInvitation).where(SurveyInvitation.nonce == nonce))
    if invitation is None:
        return None
    customer = session.get(Customer, invitation.customer_id)
    if customer is not None and customer.surveys_unsubscribed_at is None:
        customer.surveys_unsubscribed_at = now
        customer.consent_surveys = False
    return customer
