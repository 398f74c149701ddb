"""The project's documents stand alone: every file they point to is inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Markdown links, and paths written in backticks that climb out of the folder (`../shared/DESIGN.md`).
POINTERS = re.compile(r"\]\(([^)#\s]+)[^)]*\)|`(\.\./[^`\s]+)`")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_documents_point_only_at_files_of_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    for link, climbing in POINTERS.findall(text):
        target = link or climbing
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        resolved = (document.parent / target).resolve()
        assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{document.name} points at {target}"


def test_the_design_direction_is_part_of_the_project() -> None:
    assert "[docs/design.md](docs/design.md)" in (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert "DESIGN.md" not in (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
