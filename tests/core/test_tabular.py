"""Reading files: encodings are detected, delimiters sniffed, and whole-file problems named."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from patron.core import tabular
from patron.core.errors import PatronError
from patron.core.tabular import ARROW_BLOCK_BYTES, ArrowReaderGaveUp, normalize_header, open_source

SAMPLE = "顧客編號,姓名,城市\nC1,陳怡君,臺北市\nC2,林家豪,高雄市\n"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("big5", "cp950"), ("utf-16", "utf-16")],
)
def test_encodings(tmp_path: Path, encoding: str, expected: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(SAMPLE.encode(encoding))
    with open_source(path) as source:
        assert source.encoding == expected
        assert source.header == ["顧客編號", "姓名", "城市"]
        assert [row.values for row in source.rows()][1] == ["C2", "林家豪", "高雄市"]


def test_gbk(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("客户编号,姓名,城市\nC1,张伟,北京市\nC2,王芳,上海市\nC3,李娜,广州市\n".encode("gbk"))
    with open_source(path) as source:
        assert source.encoding == "gb18030"
        assert [row.values[1] for row in source.rows()] == ["张伟", "王芳", "李娜"]


def test_tab_and_semicolon_files_and_line_numbers_count_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "f.tsv"
    path.write_text('id\tnote\nA\t"two\nlines"\nB\tok\n', encoding="utf-8")
    with open_source(path) as source:
        assert [(row.line, row.values) for row in source.rows()] == [
            (2, ["A", "two\nlines"]),
            (4, ["B", "ok"]),
        ]


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("a.csv", b"", "import.empty_file"),
        ("a.json", b'[{"a": 1}]', "import.json_array"),
        ("a.pdf", b"%PDF", "import.unknown_extension"),
        ("a.xlsx", b"not a zip", "import.bad_xlsx"),
    ],
)
def test_whole_file_errors(tmp_path: Path, name: str, content: bytes, code: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PatronError) as caught:
        open_source(path)
    assert caught.value.code == code


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(PatronError) as missing:
        open_source(tmp_path / "nope.csv")
    assert missing.value.code == "import.file_not_found"
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    with pytest.raises(PatronError) as not_file:
        open_source(folder)
    assert not_file.value.code == "import.not_a_file"


def test_headers_match_loosely() -> None:
    assert normalize_header("\ufeffＣustomer-ID ") == "customer_id"
    assert normalize_header("Signup  Date") == "signup_date"


READER_CASES: dict[str, tuple[str, bool]] = {
    # name: (content, read by pyarrow to the end?)
    "plain": ("id,name,city\nC1,陳怡君,臺北市\nC2,林家豪,高雄市\n", True),
    "CRLF without a final line break": ("id,name,city\r\nC1,陳怡君,臺北市\r\nC2,林家豪,高雄市", True),
    "a byte-order mark": ("\ufeffid,name,city\nC1,a,b\n", True),
    "a row of empty cells": ("id,name,city\nC1,a,b\n,,\nC2,c,d\n", True),
    "a blank line": ("id,name,city\nC1,a,b\n\nC2,c,d\n\n", True),
    "tabs": ("id\tname\nC1\ta b\nC2\t c \n", True),
    "quotes": ('id,name,city\nC1,"a, b",c\nC2,"x""y",z\n', False),
    "a quoted line break": ('id,name,city\nC1,"two\nlines",c\nC2,d,e\n', False),
    "a short row": ("id,name,city\nC1,a,b\nC2,c,d\nC3,e\nC4,f,g\n", False),
    "a long row": ("id,name,city\nC1,a,b\nC2,c,d\nC3,e,f,\nC4,g,h\n", False),
    "a lone CR": ("id,name,city\nC1,a\rb,c\nC2,d,e\n", False),
}


def _batches(path: Path, *, fast: bool) -> tuple[str, list[tuple[int, list[str], list[str]]]]:
    """How the file was read, and each row's line, cells by column and cells as read, whatever the batches."""
    with open_source(path, fast=fast) as source:
        seen: list[tuple[int, list[str], list[str]]] = []
        try:
            for batch in source.batches(2):
                seen += [
                    (line, [column[i] for column in batch.columns], batch.cells(i))
                    for i, line in enumerate(batch.lines)
                ]
        except ArrowReaderGaveUp:
            return "pyarrow gave up", seen
        return "pyarrow" if source.parsed_by_arrow else "rows", seen


@pytest.mark.parametrize("block_bytes", [ARROW_BLOCK_BYTES, 32])
@pytest.mark.parametrize("case", sorted(READER_CASES))
def test_pyarrow_reads_a_file_exactly_like_the_row_reader_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, block_bytes: int
) -> None:
    """32-byte blocks: the checks before parsing see CRLFs cut in two, and a bad row turns up after rows were
    handed out (the importer then starts again with the row reader, tests/imports/test_messy_corpus.py)."""
    monkeypatch.setattr(tabular, "ARROW_BLOCK_BYTES", block_bytes)
    content, arrow_reads_it = READER_CASES[case]
    path = tmp_path / ("f.tsv" if case == "tabs" else "f.csv")
    path.write_bytes(content.encode("utf-8"))  # the byte-order mark case writes its mark itself
    how, with_arrow = _batches(path, fast=True)
    rows_how, with_rows = _batches(path, fast=False)
    assert rows_how == "rows"
    if arrow_reads_it:
        assert how == "pyarrow"
        assert with_arrow == with_rows
    else:
        assert how in ("rows", "pyarrow gave up")
        assert with_arrow == with_rows[: len(with_arrow)]


def test_bad_bytes_past_the_encoding_sample_fall_back_to_the_row_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tabular, "ARROW_BLOCK_BYTES", 64 * 1024)  # the bad row in a later block
    path = tmp_path / "f.csv"
    good = "".join(f"C{i},顧客{i}\n" for i in range(40_000)).encode()  # > 256 KB sampled for the encoding
    path.write_bytes(b"id,name\n" + good + b"BAD,\xff\xfe\n")
    how, _ = _batches(path, fast=True)
    assert how == "pyarrow gave up", "pyarrow refuses invalid UTF-8; the row reader marks the cell instead"
    assert _batches(path, fast=False)[1][-1][2] == ["BAD", "\ufffd\ufffd"]


_CELL = st.text(alphabet=st.sampled_from(["a", "Z", "7", " ", "-", "臺", "北", "\t", "é", ";"]), max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.one_of(st.lists(_CELL, min_size=3, max_size=3), st.lists(_CELL, min_size=0, max_size=5)),
        max_size=12,
    ),
    crlf=st.booleans(),
    final_break=st.booleans(),
    block_bytes=st.sampled_from([ARROW_BLOCK_BYTES, 24]),
)
def test_pyarrow_and_the_row_reader_agree_on_generated_files(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[list[str]],
    crlf: bool,
    final_break: bool,
    block_bytes: int,
) -> None:
    """Any file pyarrow reads to the end, it reads like the row reader: same rows, lines and cells."""
    monkeypatch.setattr(tabular, "ARROW_BLOCK_BYTES", block_bytes)
    newline = "\r\n" if crlf else "\n"
    text = newline.join([",".join(["id", "name", "city"]), *(",".join(cells) for cells in rows)])
    path = tmp_path / "generated.csv"
    path.write_bytes((text + (newline if final_break else "")).encode("utf-8"))
    how, with_arrow = _batches(path, fast=True)
    _, with_rows = _batches(path, fast=False)
    event(how)
    if how == "pyarrow":
        assert with_arrow == with_rows
    else:
        assert with_arrow == with_rows[: len(with_arrow)]
