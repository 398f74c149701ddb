"""The respondent's side of a personal link: what to show next, saving each page, completing once.

Progress is kept server-side in a partial response (keyed by the invitation), so a respondent can close the
page and come back, and a double tap, a back button or a retry never creates a second response."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.surveys.answers import AnswerProblem, check_answers, is_shown
from patron.surveys.distribution import nonce_from_survey_token
from patron.surveys.models import (
    InvitationStatus,
    ResponseStatus,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveyStatus,
)
from patron.surveys.schemas import (
    ChoiceQuestion,
    Question,
    ResponseRead,
    ScaleQuestion,
    ServqualQuestion,
    SurveyDefinition,
    TextQuestion,
)
from patron.surveys.service import announce_completed, answer_rows, answers_of, definition_of, stored_shape


class LinkProblem(PatronError):
    """A link that cannot be answered: shown as a friendly page, never as an error screen."""

    status = 404


@dataclass
class OpenedLink:
    invitation: SurveyInvitation
    survey: Survey
    definition: SurveyDefinition
    response: SurveyResponse | None


def open_link(session: Session, token: str, now: datetime) -> OpenedLink:
    nonce = nonce_from_survey_token(token)
    invitation = (
        None
        if nonce is None
        else session.scalar(select(SurveyInvitation).where(SurveyInvitation.nonce == nonce))
    )
    if invitation is None:
        raise LinkProblem("link.invalid")
    survey = session.get_one(Survey, invitation.survey_id)
    response = session.scalar(select(SurveyResponse).where(SurveyResponse.invitation_id == invitation.id))
    if response is None or response.status != ResponseStatus.COMPLETED.value:
        if survey.status != SurveyStatus.ACTIVE.value:
            raise LinkProblem("survey.closed", status=410, key=survey.key)
        if invitation.expires_at <= now:
            raise LinkProblem("link.expired", status=410)
    if invitation.opened_at is None:
        invitation.opened_at = now
    return OpenedLink(invitation, survey, definition_of(survey), response)


def open_public(
    session: Session, *, workspace_slug: str, survey_key: str
) -> tuple[Workspace, Survey, SurveyDefinition] | None:
    """The workspace and survey behind a public link, if that survey allows public answers."""
    workspace = session.scalar(select(Workspace).where(Workspace.slug == workspace_slug))
    if workspace is None:
        return None
    survey = session.scalar(
        select(Survey).where(Survey.workspace_id == workspace.id, Survey.key == survey_key)
    )
    if survey is None:
        return None
    definition = definition_of(survey)
    if not definition.settings.public:
        return None
    if survey.status != SurveyStatus.ACTIVE.value:
        raise LinkProblem("survey.closed", status=410, key=survey.key)
    return workspace, survey, definition


def current_answers(session: Session, opened: OpenedLink) -> dict[str, Any]:
    return {} if opened.response is None else dict(answers_of(session, opened.response.id))


def questions_to_show(
    definition: SurveyDefinition, answers: dict[str, Any], seen: list[str]
) -> list[Question]:
    """The visible questions not yet shown: one at a time, or all of them, as the survey is set up."""
    pending = [q for q in definition.questions if is_shown(q.show_if, answers) and q.key not in seen]
    return pending[:1] if definition.settings.one_question_per_page else pending


def more_may_follow(
    definition: SurveyDefinition, answers: dict[str, Any], seen: list[str], page: list[Question]
) -> bool:
    """Whether a question could still come after this page: one not yet shown that is asked now, or whose
    condition hangs on an answer given on this page. The page's button says "Next" then, "Submit" otherwise."""
    on_page = {q.key for q in page}
    return any(
        q.show_if is None or q.show_if.question in on_page or is_shown(q.show_if, answers)
        for q in definition.questions
        if q.key not in on_page and q.key not in seen
    )


def progress(definition: SurveyDefinition, answers: dict[str, Any], seen: list[str]) -> tuple[int, int]:
    visible = [q.key for q in definition.questions if is_shown(q.show_if, answers)]
    return len([k for k in visible if k in seen]), len(visible)


def shown_questions(definition: SurveyDefinition, keys: list[str]) -> list[Question]:
    """The questions a submitted page says it showed; unknown keys (a tampered form) are ignored."""
    by_key = {q.key: q for q in definition.questions}
    return [by_key[k] for k in keys if k in by_key]


def read_form(questions: list[Question], form: dict[str, list[str]]) -> dict[str, Any]:
    """HTML forms send strings; turn them into the answer shapes the checker knows. What cannot be
    converted is passed on as written, so the checker names the problem."""
    answers: dict[str, Any] = {}
    for question in questions:
        if isinstance(question, ServqualQuestion):
            pairs: dict[str, dict[str, Any]] = {}
            for item in question.items:
                pair = {
                    part: _number(form.get(f"{question.key}.{item.key}.{part}", [""])[0])
                    for part in ("expectation", "perception")
                }
                if any(v not in (None, "") for v in pair.values()):
                    pairs[item.key] = pair
            answers[question.key] = pairs or None
            continue
        values = [v for v in form.get(question.key, []) if v != ""]
        if not values:
            answers[question.key] = None
        elif isinstance(question, ScaleQuestion):
            answers[question.key] = _number(values[0])
        elif isinstance(question, ChoiceQuestion) and question.type == "multiple_choice":
            answers[question.key] = values
        else:
            answers[question.key] = values[0]
    return answers


def _number(value: str) -> int | str | None:
    stripped = value.strip()
    if not stripped:
        return None
    return int(stripped) if stripped.isdigit() and len(stripped) < 4 else stripped


def _pruned(definition: SurveyDefinition, answers: dict[str, Any]) -> dict[str, Any]:
    """Drop answers to questions that an edited earlier answer has hidden again."""
    kept: dict[str, Any] = {}
    for question in definition.questions:
        if question.key in answers and is_shown(question.show_if, kept):
            kept[question.key] = answers[question.key]
    return kept


@dataclass
class PageResult:
    problems: list[AnswerProblem]
    completed: bool


def save_page(
    session: Session,
    opened: OpenedLink,
    *,
    shown: list[str],
    form: dict[str, list[str]],
    publish_consent: bool,
    locale: str,
    publish_as: str = "anonymous",
    now: datetime,
) -> PageResult:
    """Check and keep one page of answers; complete the response when nothing is left to ask."""
    if opened.response is not None and opened.response.status == ResponseStatus.COMPLETED.value:
        return PageResult([], True)  # a repeated submit after completion stores nothing
    definition = opened.definition
    page = shown_questions(definition, shown)
    given = read_form(page, form)
    merged = {**current_answers(session, opened), **{k: v for k, v in given.items() if v is not None}}
    for key, value in given.items():
        if value is None:
            merged.pop(key, None)
    merged = _pruned(definition, merged)
    rows, problems = check_answers(definition, merged, complete=False)
    page_keys = {q.key for q in page}
    problems = [p for p in problems if p.question in page_keys]
    for question in page:
        if question.required and is_shown(question.show_if, merged) and question.key not in merged:
            problems.append(AnswerProblem(question.key, "survey.answer_required"))
    if problems:
        return PageResult(problems, False)
    response = opened.response or _start(session, opened, locale, now)
    response.seen = sorted(set(response.seen or []) | page_keys)
    if publish_consent:
        response.publish_consent = True
        response.publish_as = publish_as if publish_as in ("full", "initials") else "anonymous"
    session.execute(delete(SurveyAnswer).where(SurveyAnswer.response_id == response.id))
    session.add_all(answer_rows(response, rows))
    if questions_to_show(definition, merged, response.seen):
        session.flush()
        return PageResult([], False)
    _, final_problems = check_answers(definition, merged, complete=True)
    if final_problems:
        return PageResult(final_problems, False)
    response.status, response.completed_at = ResponseStatus.COMPLETED.value, now
    opened.invitation.status, opened.invitation.answered_at = InvitationStatus.ANSWERED.value, now
    session.flush()
    customer = session.get(Customer, response.customer_id) if response.customer_id else None
    announce_completed(session, workspace_id=response.workspace_id, now=now, response=ResponseRead(
        id=response.id, survey=opened.survey.key, survey_version=response.survey_version,
        customer_id=customer.external_id if customer else None, client_key=response.client_key,
        status=response.status, locale=response.locale, touchpoint=response.touchpoint, channel=response.channel,
        completed_at=now, answers=stored_shape(rows),
    ))  # fmt: skip
    return PageResult([], True)


def _start(session: Session, opened: OpenedLink, locale: str, now: datetime) -> SurveyResponse:
    invitation = opened.invitation
    response = SurveyResponse(
        workspace_id=invitation.workspace_id, survey_id=opened.survey.id, survey_version=opened.survey.version,
        customer_id=invitation.customer_id, client_key=f"inv:{invitation.nonce}", touchpoint=invitation.touchpoint,
        channel=opened.definition.channel.value, locale=locale, order_external_id=invitation.order_external_id,
        status=ResponseStatus.PARTIAL.value, invitation_id=invitation.id, seen=[], started_at=now,
    )  # fmt: skip
    session.add(response)
    session.flush()
    opened.response = response
    return response


def brand_name(session: Session, opened: OpenedLink) -> str:
    """Respondents see the brand that asked them, not the software behind it."""
    workspace = session.get(Workspace, opened.invitation.workspace_id)
    return workspace.name if workspace else ""


def respondent_name(session: Session, opened: OpenedLink) -> str:
    customer_id = opened.invitation.customer_id
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    return (customer.name or "") if customer else ""


def question_kind(question: Question) -> str:
    """Which input the page draws."""
    if isinstance(question, ScaleQuestion):
        return "scale"
    if isinstance(question, TextQuestion):
        return "text"
    if isinstance(question, ServqualQuestion):
        return "servqual"
    return question.type
