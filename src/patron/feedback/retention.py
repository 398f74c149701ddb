"""Retention of feedback originals (docs/privacy.md): after the workspace's ``feedback_original_days`` an item's
text as written is replaced by its masked copy, and so is the survey comment it was copied from. Pages, exports
and the analysis already read the masked and analysis copies, so nothing else changes."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Update, select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.feedback.models import FeedbackItem
from patron.surveys.models import SurveyAnswer

#: Ten years: a longer retention is a typo, not a policy.
MAX_DAYS = 3650


class PurgeReport(BaseModel):
    days: int | None
    #: Items received before this moment have had their originals replaced (None: the workspace keeps them).
    before: datetime | None
    items: int
    survey_comments: int


def set_retention(session: Session, *, workspace_id: int, days: int | None) -> int | None:
    """Keep originals for ``days`` days after they arrive (None: keep them)."""
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise PatronError("feedback.retention_days", days=days, maximum=MAX_DAYS)
    workspace = session.get_one(Workspace, workspace_id)
    workspace.feedback_original_days = days
    session.flush()
    return days


def _rowcount(session: Session, statement: Update) -> int:
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0) or 0)


def purge_originals(session: Session, *, workspace_id: int, now: datetime | None = None) -> PurgeReport:
    """Replace the originals that are past the workspace's retention by their masked copies. Safe to run twice
    (and from a scheduler): an item whose text is already its masked copy is not touched again."""
    days = session.get_one(Workspace, workspace_id).feedback_original_days
    if days is None:
        return PurgeReport(days=None, before=None, items=0, survey_comments=0)
    before = (now or utcnow()) - timedelta(days=days)
    due = (
        FeedbackItem.workspace_id == workspace_id,
        FeedbackItem.created_at < before,
        FeedbackItem.text != FeedbackItem.masked_text,
    )
    masked_copy = (
        select(FeedbackItem.masked_text)
        .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.survey_answer_id == SurveyAnswer.id)
        .limit(1)
        .scalar_subquery()
    )
    # The survey comments first, while their items still tell which are due.
    comments = _rowcount(
        session,
        update(SurveyAnswer)
        .where(
            SurveyAnswer.workspace_id == workspace_id,
            SurveyAnswer.id.in_(select(FeedbackItem.survey_answer_id).where(*due)),
        )
        .values(text=masked_copy),
    )
    items = _rowcount(session, update(FeedbackItem).where(*due).values(text=FeedbackItem.masked_text))
    return PurgeReport(days=days, before=before, items=items, survey_comments=comments)
