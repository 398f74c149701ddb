"""What the public help centre lists: the published entries valid now, in the page's language.

A zh-Hans page lists zh-Hans entries and zh-Hant ones converted with OpenCC (and the other way round); an English
page lists English entries, or every entry when the knowledge base has none in English (they are shown in their
own language). Categories keep the knowledge base's order of first appearance."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from patron.assistant.service import Row, _valid_now, workspace_index
from patron.core.clock import utcnow
from patron.surveys.texts import to_simplified, to_traditional


@dataclass(frozen=True)
class Shown:
    id: str
    title: str
    answer: str
    category: str
    language: str


def in_language(text: str, written_in: str, locale: str) -> str:
    """Chinese text in the page's script (OpenCC); anything else as written."""
    if written_in == "zh-Hant" and locale == "zh-Hans":
        return to_simplified(text)
    if written_in == "zh-Hans" and locale == "zh-Hant":
        return to_traditional(text)
    return text


def _shown(row: Row, locale: str) -> Shown:
    return Shown(row.id, in_language(row.title, row.language, locale), in_language(row.answer, row.language, locale),
                 row.category, row.language)  # fmt: skip


def visible_entries(session: Session, workspace_id: int, locale: str) -> list[Shown]:
    cached = workspace_index(session, workspace_id)
    valid: list[bool] = list(_valid_now(cached.rows, utcnow())) if cached.rows else []
    rows = [row for row, ok in zip(cached.rows, valid, strict=True) if ok]
    chinese = {"zh-Hant", "zh-Hans"}
    same = [r for r in rows if r.language == locale or (locale in chinese and r.language in chinese)]
    return [_shown(r, locale) for r in (same or rows)]


def entry(session: Session, workspace_id: int, entry_id: str, locale: str) -> Shown | None:
    """One published entry valid now, or None."""
    cached = workspace_index(session, workspace_id)
    valid: list[bool] = list(_valid_now(cached.rows, utcnow())) if cached.rows else []
    for row, ok in zip(cached.rows, valid, strict=True):
        if ok and row.id == entry_id:
            return _shown(row, locale)
    return None


def by_category(entries: list[Shown]) -> list[tuple[str, list[Shown]]]:
    groups: dict[str, list[Shown]] = {}
    for shown in entries:
        groups.setdefault(shown.category, []).append(shown)
    return list(groups.items())
