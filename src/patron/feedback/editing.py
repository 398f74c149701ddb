"""Editing the workspace's theme taxonomy from the dashboard: the version in force with who stored it and when,
its themes as rows a person can read, and saving a new version that is applied to every stored item at once
(docs/feedback.md, "The taxonomy editor")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.i18n import LOCALES
from patron.feedback import service
from patron.feedback.models import FeedbackTaxonomy
from patron.feedback.taxonomy import MAX_TAXONOMY_CHARS, SHIPPED_ORIGIN, Taxonomy


@dataclass(frozen=True)
class ThemeRow:
    """One theme as written in the document (keywords in the script they were typed in)."""

    key: str
    group: str
    names: dict[str, str]
    keywords: dict[str, list[str]]  # "zh", "en"
    negative: dict[str, list[str]]
    positive: dict[str, list[str]]


@dataclass(frozen=True)
class InForce:
    taxonomy: Taxonomy
    yaml: str
    rows: list[ThemeRow]
    #: Who stored the workspace's version and when; None for the shipped taxonomy.
    saved_by: str | None = None
    saved_at: datetime | None = None

    @property
    def shipped(self) -> bool:
        return self.taxonomy.origin == SHIPPED_ORIGIN


@dataclass(frozen=True)
class Saved:
    version: int
    themes: int
    analysed: int


def _words(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        return {}
    return {
        script: [str(word) for word in value.get(script) or []]
        for script in ("zh", "en")
        if value.get(script)
    }


def theme_rows(taxonomy: Taxonomy) -> list[ThemeRow]:
    """The themes in the document's order, names and words as written (the parsed themes hold Simplified,
    lower-cased keywords, which is not what the person typed)."""
    written = {
        str(entry.get("key")): entry
        for entry in taxonomy.document.get("themes", [])
        if isinstance(entry, dict)
    }
    rows = []
    for theme in taxonomy.themes:
        entry = written.get(theme.key, {})
        rows.append(ThemeRow(theme.key, theme.group, {locale: theme.name(locale) for locale in LOCALES},
                             _words(entry.get("keywords")), _words(entry.get("negative")),
                             _words(entry.get("positive"))))  # fmt: skip
    return rows


def in_force(session: Session, workspace_id: int) -> InForce:
    """The taxonomy in force, its YAML as written, and who saved it when (a workspace version)."""
    taxonomy = service.current_taxonomy(session, workspace_id)
    stored = None
    if taxonomy.origin != SHIPPED_ORIGIN:
        stored = session.execute(
            select(FeedbackTaxonomy.created_by, FeedbackTaxonomy.created_at).where(
                FeedbackTaxonomy.workspace_id == workspace_id, FeedbackTaxonomy.version == taxonomy.version
            )
        ).first()
    return InForce(taxonomy, service.taxonomy_source(session, workspace_id), theme_rows(taxonomy),
                   stored[0] or None if stored else None, stored[1] if stored else None)  # fmt: skip


def check_size(raw: str) -> None:
    """The editor's body is bounded as the API's is (``MAX_TAXONOMY_CHARS``)."""
    if len(raw) > MAX_TAXONOMY_CHARS:
        raise PatronError("feedback.taxonomy_too_large", status=413, chars=len(raw), limit=MAX_TAXONOMY_CHARS)


def save(session: Session, *, workspace_id: int, raw: str, source: str, actor: str) -> Saved:
    """Store ``raw`` as a new version (refused whole, naming the line, when anything is wrong; earlier versions
    are kept as they were) and analyse every stored item with it now, so the pages show the new themes."""
    check_size(raw)
    try:
        with session.begin_nested():
            taxonomy = service.set_taxonomy(
                session, workspace_id=workspace_id, raw=raw, source=source, actor=actor
            )
    except IntegrityError:
        # Another save took the same version number between our read of the newest one and our insert
        # (PostgreSQL; SQLite runs one writer at a time).
        raise PatronError("feedback.taxonomy_conflict", status=409) from None
    report = service.analyze(session, workspace_id=workspace_id)
    return Saved(taxonomy.version, len(taxonomy.themes), report.analysed)
