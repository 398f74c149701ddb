"""Documents read whole are bounded before they are read: survey definitions, earn rules, knowledge bases."""

from __future__ import annotations

from pathlib import Path

import pytest

from patron.assistant import service as assistant
from patron.core import documents
from patron.core.errors import PatronError
from patron.loyalty import service as loyalty
from patron.surveys import service as surveys


@pytest.mark.parametrize(
    ("name", "read"),
    [("survey.yaml", surveys.load_definition_file), ("rules.json", loyalty.load_rule_file),
     ("faq.jsonl", assistant.read_entries), ("questions.jsonl", assistant.read_cases)],
)  # fmt: skip
def test_a_document_past_the_bound_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, read: object
) -> None:
    path = tmp_path / name
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 1024 * 1024)
    path.write_bytes(b" " * (1024 * 1024 + 1))
    with pytest.raises(PatronError) as refused:
        read(path)  # type: ignore[operator]
    assert refused.value.code == "file.too_large"
    assert refused.value.message("zh-Hant") == f"{name} 超過 1 MB，無法整份讀取。"


def test_a_document_within_the_bound_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes("\ufeff顧客".encode())
    assert documents.read_document(path) == "顧客"
