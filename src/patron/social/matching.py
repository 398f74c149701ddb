"""Which items mention which tracked terms (docs/social.md, "Matching"). Kept apart from the service so the
feedback service can call it as items arrive without an import cycle."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from patron.feedback.models import FeedbackItem
from patron.social.models import SocialMention, SocialTerm
from patron.text.normalise import normalise

MATCH_BATCH = 2000
_WORD_EDGE = re.compile(r"[A-Za-z0-9]")


def normalised_term(term: str) -> str:
    """A term's analysis copy, as items get theirs (NFC, width-folded, Simplified, one space), in lower case."""
    return normalise(term).lower()


@lru_cache(maxsize=1024)
def term_pattern(normalised: str) -> re.Pattern[str]:
    """Chinese matches anywhere; an end of the term that is a Latin letter or digit must be a word edge in the
    text too (``app`` is not in ``happy``), and Latin letters match in any case."""
    head = r"(?<![A-Za-z0-9])" if _WORD_EDGE.match(normalised[:1]) else ""
    tail = r"(?![A-Za-z0-9])" if _WORD_EDGE.match(normalised[-1:]) else ""
    return re.compile(head + re.escape(normalised) + tail, re.IGNORECASE)


def mentions_term(normalised: str, analysis_text: str) -> bool:
    return term_pattern(normalised).search(analysis_text) is not None


def _rows(
    term_ids: Sequence[tuple[int, str, Sequence[str]]], items: Sequence[Any], workspace_id: int
) -> list[dict[str, Any]]:
    rows = []
    for item_id, text, occurred_at, channel in items:
        for term_id, normalised, channels in term_ids:
            if channel in channels and mentions_term(normalised, text):
                rows.append({"workspace_id": workspace_id, "term_id": term_id, "item_id": item_id,
                             "occurred_at": occurred_at, "channel": channel})  # fmt: skip
    return rows


def _terms(session: Session, workspace_id: int) -> list[tuple[int, str, Sequence[str]]]:
    found = session.execute(
        select(SocialTerm.id, SocialTerm.normalised, SocialTerm.channels).where(
            SocialTerm.workspace_id == workspace_id
        )
    )
    return [(term_id, normalised, tuple(channels)) for term_id, normalised, channels in found]


_ITEM_COLUMNS = (FeedbackItem.id, FeedbackItem.analysis_text, FeedbackItem.occurred_at, FeedbackItem.channel)


def match_items(session: Session, *, workspace_id: int, item_ids: Sequence[int]) -> int:
    """(Re)match these items against every tracked term; answers the mentions written."""
    terms = _terms(session, workspace_id)
    if not item_ids:
        return 0
    written = 0
    for start in range(0, len(item_ids), MATCH_BATCH):
        chunk = list(item_ids[start : start + MATCH_BATCH])
        session.execute(
            delete(SocialMention).where(
                SocialMention.workspace_id == workspace_id, SocialMention.item_id.in_(chunk)
            )
        )
        if not terms:
            continue
        items = session.execute(
            select(*_ITEM_COLUMNS).where(
                FeedbackItem.workspace_id == workspace_id, FeedbackItem.id.in_(chunk)
            )
        ).all()
        rows = _rows(terms, items, workspace_id)
        if rows:
            session.execute(insert(SocialMention), rows)
        written += len(rows)
    return written


def match_term(session: Session, *, workspace_id: int, term: SocialTerm) -> int:
    """(Re)match one term against every item in its channels; answers the mentions written."""
    session.execute(
        delete(SocialMention).where(
            SocialMention.workspace_id == workspace_id, SocialMention.term_id == term.id
        )
    )
    spec = [(term.id, term.normalised, tuple(term.channels))]
    written = 0
    last_id = 0
    while True:
        items = session.execute(
            select(*_ITEM_COLUMNS)
            .where(
                FeedbackItem.workspace_id == workspace_id,
                FeedbackItem.id > last_id,
                FeedbackItem.channel.in_(list(term.channels)),
            )
            .order_by(FeedbackItem.id)
            .limit(MATCH_BATCH)
        ).all()
        if not items:
            return written
        last_id = items[-1][0]
        rows = _rows(spec, items, workspace_id)
        if rows:
            session.execute(insert(SocialMention), rows)
        written += len(rows)


def match_new_items(
    session: Session, *, workspace_id: int, items: Sequence[tuple[int, str, Any, str]]
) -> int:
    """Match items just written (``(id, analysis copy, time, channel)``, none matched before) against every
    tracked term: a query for the terms, and an insert only when something matched."""
    if not items:
        return 0
    terms = [term for term in _terms(session, workspace_id) if any(i[3] in term[2] for i in items)]
    rows = _rows(terms, items, workspace_id) if terms else []
    if rows:
        session.execute(insert(SocialMention), rows)
    return len(rows)
