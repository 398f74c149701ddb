"""Small documents read whole (survey definitions, earn rules, knowledge bases, question sets): bounded before
they are read, so a wrong or hostile file is a named refusal, never the process's memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from patron.core.errors import PatronError

#: The largest document read whole; bigger data goes through the streaming imports.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def read_document(path: Path) -> str:
    """The file's text (UTF-8, with or without BOM); UnicodeDecodeError is the caller's to word."""
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise PatronError("file.too_large", file=path.name, limit_mb=MAX_DOCUMENT_BYTES // (1024 * 1024))
    return path.read_text(encoding="utf-8-sig")


def load_structured(path: Path, unreadable: str) -> Any:
    """A YAML or JSON document (chosen by extension), parsed; a missing file, or one that is not UTF-8 or does
    not parse, is the refusal ``unreadable`` naming the file and the parser's first line of complaint."""
    if not path.is_file():
        raise PatronError("import.file_not_found", file=str(path))
    try:
        raw = read_document(path)
        return json.loads(raw) if path.suffix.lower() == ".json" else yaml.safe_load(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise PatronError(unreadable, file=str(path), reason=reason) from None
