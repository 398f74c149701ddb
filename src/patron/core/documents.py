"""Small documents read whole (survey definitions, earn rules, knowledge bases, question sets): bounded before
they are read, so a wrong or hostile file is a named refusal, never the process's memory."""

from __future__ import annotations

from pathlib import Path

from patron.core.errors import PatronError

#: The largest document read whole; bigger data goes through the streaming imports.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def read_document(path: Path) -> str:
    """The file's text (UTF-8, with or without BOM); UnicodeDecodeError is the caller's to word."""
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise PatronError("file.too_large", file=path.name, limit_mb=MAX_DOCUMENT_BYTES // (1024 * 1024))
    return path.read_text(encoding="utf-8-sig")
