"""Reading files: encodings are detected, delimiters sniffed, and whole-file problems named."""

from __future__ import annotations

from pathlib import Path

import pytest

from patron.core.errors import PatronError
from patron.core.tabular import normalize_header, open_source

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
