"""Editing the knowledge base by hand (dashboard, API, CLI): list and search entries, create, change, retire, with
a history row for every change (who, when, each changed field before and after), and closing a knowledge gap in
one step. Validation names the field in the user's language. Services never commit.

The retrieval index follows at once: it is rebuilt when the workspace's stamp (count, newest id, newest
``updated_at``) changes, and every change here sets ``updated_at``.

A knowledge gap's question counts as **covered** once an admin made it a phrasing of an entry or a new entry from
it: every recorded question of the workspace with the same (masked) text gets ``covered_by`` (the entry) and
``covered_at`` and leaves the gap list; the action also asks the question again and reports what the assistant
answers now.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Text, cast, func, or_, select, update
from sqlalchemy.orm import Session

from patron.assistant import records, service
from patron.assistant.models import (
    LANGUAGES,
    ChangeAction,
    EntryChange,
    EntryStatus,
    KnowledgeEntry,
    Question,
)
from patron.assistant.schemas import EntryRead
from patron.core.clock import utcnow
from patron.core.errors import Conflict, NotFound, PatronError
from patron.core.i18n import translate

#: What a person may change, in the order forms and the history show them.
FIELDS = ("title", "phrasings", "answer", "category", "language", "valid_from", "valid_until", "status")
LIMITS = {"id": 128, "title": 500, "phrasing": 500, "answer": 20_000, "category": 64}
MAX_PHRASINGS = 50
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PAGE = 50


class EntryInvalid(PatronError):
    """A refused value; ``field`` is named in the reader's language (``assistant.field.<name>``)."""

    status = 422

    def message(self, locale: str | None = None) -> str:
        params = dict(self.params)
        params["field"] = translate(f"assistant.field.{params.get('field', '')}", locale)
        return translate(self.code, locale, **params)


def _bad_text(value: str) -> bool:
    """Control characters (other than line breaks and tabs) are refused: PostgreSQL refuses NUL outright."""
    return any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value)


def _text(field: str, value: Any, *, required: bool, limit: int) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise EntryInvalid("assistant.entry_not_text", field=field)
    text: str = value.strip()
    if required and not text:
        raise EntryInvalid("assistant.entry_field_missing", field=field)
    if len(text) > limit:
        raise EntryInvalid("assistant.entry_too_long", field=field, limit=limit)
    if _bad_text(text):
        raise EntryInvalid("assistant.entry_control_chars", field=field)
    return text


def _phrasings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple) or not all(isinstance(p, str) for p in value):
        raise EntryInvalid("assistant.entry_not_text", field="phrasings")
    found: list[str] = []
    for raw in value:
        phrasing = _text("phrasings", raw, required=False, limit=LIMITS["phrasing"])
        if phrasing and phrasing not in found:
            found.append(phrasing)
    if len(found) > MAX_PHRASINGS:
        raise EntryInvalid("assistant.entry_too_many", field="phrasings", limit=MAX_PHRASINGS)
    return found


def _when(field: str, value: Any, zone: str) -> datetime | None:
    """An aware datetime, ISO text with its offset, or a date/time without one read in the workspace's zone."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise EntryInvalid("assistant.entry_bad_date", field=field, value=value.strip()[:40]) from None
    if not isinstance(value, datetime):
        raise EntryInvalid("assistant.entry_bad_date", field=field, value=str(value)[:40])
    return (value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone))).astimezone(UTC)


def clean(values: Mapping[str, Any], zone: str) -> dict[str, Any]:
    """The given fields, checked and normalised; unknown keys are ignored (callers pass only ``FIELDS``)."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        if field not in values:
            continue
        value = values[field]
        if field in ("title", "answer"):
            out[field] = _text(field, value, required=True, limit=LIMITS[field])
        elif field == "category":
            out[field] = _text(field, value, required=False, limit=LIMITS[field])
        elif field == "phrasings":
            out[field] = _phrasings(value)
        elif field in ("language", "status"):
            allowed = list(LANGUAGES) if field == "language" else [s.value for s in EntryStatus]
            if value not in allowed:
                raise EntryInvalid("assistant.entry_bad_choice", field=field, value=str(value)[:20],
                                   allowed=", ".join(allowed))  # fmt: skip
            out[field] = value
        else:
            out[field] = _when(field, value, zone)
    return out


def _json(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, datetime) and isinstance(after, datetime):
        return before == after
    return bool(before == after)


# -------------------------------------------------------------------------------------------------- reading
def entry_read(entry: KnowledgeEntry) -> EntryRead:
    return EntryRead(
        id=entry.external_id, title=entry.title, phrasings=list(entry.phrasings or []), answer=entry.answer,
        category=entry.category, language=entry.language, valid_from=entry.valid_from,
        valid_until=entry.valid_until, status=entry.status, created_at=entry.created_at,
        updated_at=entry.updated_at,
    )  # fmt: skip


@dataclass(frozen=True)
class EntryPage:
    entries: list[KnowledgeEntry]
    total: int
    categories: list[str]


def list_entries(
    session: Session, workspace_id: int, *, search: str = "", category: str = "", language: str = "",
    status: str = "", offset: int = 0, limit: int = PAGE,
) -> EntryPage:  # fmt: skip
    """Entries by id, filtered; ``search`` matches the id, title, phrasings or answer (case-insensitive)."""
    where = [KnowledgeEntry.workspace_id == workspace_id]
    if category:
        where.append(KnowledgeEntry.category == category)
    if language:
        where.append(KnowledgeEntry.language == language)
    if status:
        where.append(KnowledgeEntry.status == status)
    term = search.strip()[:200].lower()
    if term:
        # Phrasings are stored as JSON text, non-ASCII escaped (\\uXXXX): the term is matched escaped the same way.
        where.append(or_(*(func.lower(column).like(_like(term), escape="!") for column in (
            KnowledgeEntry.external_id, KnowledgeEntry.title, KnowledgeEntry.answer)),
            func.lower(cast(KnowledgeEntry.phrasings, Text)).like(_like(json.dumps(term)[1:-1]), escape="!")))  # fmt: skip
    total = session.scalar(select(func.count()).select_from(KnowledgeEntry).where(*where)) or 0
    rows = list(session.scalars(select(KnowledgeEntry).where(*where).order_by(KnowledgeEntry.external_id)
                                .offset(max(offset, 0)).limit(limit)))  # fmt: skip
    categories = [c for c in session.scalars(
        select(KnowledgeEntry.category).where(KnowledgeEntry.workspace_id == workspace_id)
        .distinct().order_by(KnowledgeEntry.category)) if c]  # fmt: skip
    return EntryPage(rows, total, categories)


def _like(term: str) -> str:
    return "%" + term.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def get_entry(session: Session, workspace_id: int, external_id: str) -> KnowledgeEntry:
    entry = session.scalar(select(KnowledgeEntry).where(KnowledgeEntry.workspace_id == workspace_id,
                                                        KnowledgeEntry.external_id == external_id))  # fmt: skip
    if entry is None:
        raise NotFound("assistant.entry_not_found", id=external_id[:128])
    return entry


def history(session: Session, entry: KnowledgeEntry) -> list[EntryChange]:
    """The entry's changes, newest first."""
    return list(session.scalars(select(EntryChange).where(EntryChange.entry_id == entry.id)
                                .order_by(EntryChange.changed_at.desc(), EntryChange.id.desc())))  # fmt: skip


# ------------------------------------------------------------------------------------------------- changing
@dataclass(frozen=True)
class Actor:
    """Who changes: shown in the history (an e-mail, ``api key <name>``, ``cli``) and the user when there is one."""

    name: str
    user_id: int | None = None


def _log(session: Session, entry: KnowledgeEntry, actor: Actor, action: ChangeAction,
         changes: dict[str, list[Any]]) -> EntryChange:  # fmt: skip
    change = EntryChange(workspace_id=entry.workspace_id, entry_id=entry.id, changed_at=utcnow(),
                         user_id=actor.user_id, actor=actor.name[:320], action=action.value, changes=changes)  # fmt: skip
    session.add(change)
    return change


def _new_id(session: Session, workspace_id: int) -> str:
    count = session.scalar(select(func.count()).select_from(KnowledgeEntry)
                           .where(KnowledgeEntry.workspace_id == workspace_id)) or 0  # fmt: skip
    taken = set(
        session.scalars(select(KnowledgeEntry.external_id).where(KnowledgeEntry.workspace_id == workspace_id))
    )
    number = count + 1
    while f"kb-{number}" in taken:
        number += 1
    return f"kb-{number}"


def create_entry(
    session: Session, workspace_id: int, values: Mapping[str, Any], actor: Actor, *, zone: str,
    external_id: str = "",
) -> KnowledgeEntry:  # fmt: skip
    """A new entry (title and answer required; an empty id becomes the next free ``kb-<n>``)."""
    given = _text("id", external_id, required=False, limit=LIMITS["id"])
    if given and not _ID.match(given):
        raise EntryInvalid("assistant.entry_bad_id", field="id", value=given[:40])
    data = clean({"title": None, "answer": None, **values}, zone)
    _check_dates(data.get("valid_from"), data.get("valid_until"))
    if given and session.scalar(select(KnowledgeEntry.id).where(KnowledgeEntry.workspace_id == workspace_id,
                                                                KnowledgeEntry.external_id == given)):  # fmt: skip
        raise Conflict("assistant.entry_id_taken", id=given)
    now = utcnow()
    entry = KnowledgeEntry(workspace_id=workspace_id, external_id=given or _new_id(session, workspace_id),
                           created_at=now, updated_at=now, **data)  # fmt: skip
    entry.phrasings = data.get("phrasings", [])
    entry.category = data.get("category", "")
    entry.language = data.get("language", "zh-Hant")
    entry.status = data.get("status", EntryStatus.PUBLISHED.value)
    session.add(entry)
    session.flush()
    _log(session, entry, actor, ChangeAction.CREATE,
         {f: [None, _json(getattr(entry, f))] for f in FIELDS if getattr(entry, f) not in (None, "", [])})  # fmt: skip
    session.flush()
    return entry


def _check_dates(valid_from: datetime | None, valid_until: datetime | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise EntryInvalid("assistant.entry_dates_order", field="valid_until")


def update_entry(
    session: Session, workspace_id: int, external_id: str, values: Mapping[str, Any], actor: Actor, *, zone: str,
    action: ChangeAction = ChangeAction.UPDATE,
) -> tuple[KnowledgeEntry, EntryChange | None]:  # fmt: skip
    """Change the given fields; a history row with each changed field before and after (none when nothing
    changed)."""
    entry = get_entry(session, workspace_id, external_id)
    data = clean(values, zone)
    _check_dates(data.get("valid_from", entry.valid_from), data.get("valid_until", entry.valid_until))
    changes: dict[str, list[Any]] = {}
    for field, value in data.items():
        before = getattr(entry, field)
        if field == "phrasings":
            before = list(before or [])
        if not _same(before, value):
            changes[field] = [_json(before), _json(value)]
            setattr(entry, field, value)
    if not changes:
        return entry, None
    entry.updated_at = utcnow()
    change = _log(session, entry, actor, action, changes)
    session.flush()
    return entry, change


def retire_entry(session: Session, workspace_id: int, external_id: str, actor: Actor) -> KnowledgeEntry:
    """Archived: kept with its history, no longer answered or listed in the help centre."""
    entry, _ = update_entry(session, workspace_id, external_id, {"status": EntryStatus.ARCHIVED.value}, actor,
                            zone="UTC", action=ChangeAction.RETIRE)  # fmt: skip
    return entry


# ---------------------------------------------------------------------------------------------- gaps closed
@dataclass(frozen=True)
class GapClosed:
    entry: KnowledgeEntry
    question: str
    covered: int
    #: Asked again after the change: answered by this entry (and the confidence), or the closest entry.
    answered_by: str | None
    confidence: float


def cover(session: Session, workspace_id: int, text: str, entry_id: str) -> int:
    """Mark every recorded question with this text as covered by the entry; how many were."""
    result = session.execute(
        update(Question)
        .where(Question.workspace_id == workspace_id, Question.text == text, Question.covered_by.is_(None))
        .values(covered_by=entry_id, covered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _recheck(session: Session, workspace_id: int, entry: KnowledgeEntry, text: str) -> GapClosed:
    covered = cover(session, workspace_id, text, entry.external_id)
    session.flush()
    answer = service.ask(session, workspace_id, text[: service.MAX_QUESTION])
    by = answer.source.id if answer.source else (answer.closest[0].id if answer.closest else None)
    return GapClosed(entry, text, covered, by if answer.answered else None, round(answer.confidence, 2))


def phrasing_from_gap(
    session: Session, workspace_id: int, *, question_id: int, entry_id: str, actor: Actor
) -> GapClosed:
    """The recorded (masked) question becomes a phrasing of entry ``entry_id`` (once; already there changes
    nothing), and its questions count as covered."""
    question = records.get_question(session, workspace_id, question_id)
    entry = get_entry(session, workspace_id, entry_id)
    phrasing = question.text.strip()[: LIMITS["phrasing"]]
    if phrasing and phrasing != entry.title and phrasing not in (entry.phrasings or []):
        update_entry(session, workspace_id, entry.external_id, {"phrasings": [*(entry.phrasings or []), phrasing]},
                     actor, zone="UTC", action=ChangeAction.PHRASING)  # fmt: skip
    return _recheck(session, workspace_id, entry, question.text)


def entry_from_gap(
    session: Session, workspace_id: int, *, question_id: int, values: Mapping[str, Any], actor: Actor, zone: str,
    external_id: str = "",
) -> GapClosed:  # fmt: skip
    """A new entry made from a gap's question (the form is pre-filled with it); the question's text counts as
    covered."""
    question = records.get_question(session, workspace_id, question_id)
    entry = create_entry(session, workspace_id, values, actor, zone=zone, external_id=external_id)
    return _recheck(session, workspace_id, entry, question.text)


def prefill(question: Question, languages: Sequence[str] = LANGUAGES) -> dict[str, Any]:
    """A new entry's form from a gap's question: its text as the title, its language when it is one of ours."""
    return {"title": question.text.strip()[: LIMITS["title"]],
            "language": question.language if question.language in languages else "zh-Hant"}  # fmt: skip
