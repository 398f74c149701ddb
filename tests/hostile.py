"""Hostile files for imports (issue 18), built as streams so the full-size ones never sit in memory.

The tests build small versions with the import bounds lowered through settings; ``bench/hostile_files.py``
builds the full-size ones the probe found and measures the memory an import takes."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from openpyxl.utils import get_column_letter

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"


def _text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def write_workbook(path: Path, sheet_xml: Iterator[str], dimension: str | None = None) -> Path:
    """A minimal .xlsx whose one sheet's XML is streamed from ``sheet_xml`` (pieces of ``<sheetData>``)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            head = _SHEET_HEAD
            if dimension:
                head = head.replace("<sheetData>", f'<dimension ref="{dimension}"/><sheetData>')
            sheet.write(head.encode())
            for piece in sheet_xml:
                sheet.write(piece.encode())
            sheet.write(_SHEET_TAIL.encode())
    return path


def xlsx_with_one_huge_string(path: Path, chars: int) -> Path:
    """Customers: a header and one row whose name is an inline string of ``chars`` characters (the probe's file:
    400 MB in 412 KB)."""

    def xml() -> Iterator[str]:
        yield '<row r="1">' + _text_cell("A1", "external_id") + _text_cell("B1", "name") + "</row>"
        yield '<row r="2">' + _text_cell("A2", "C1") + '<c r="B2" t="inlineStr"><is><t>'
        block = "A" * (1024 * 1024)
        left = chars
        while left > 0:
            yield block[: min(left, len(block))]
            left -= len(block)
        yield "</t></is></c></row>"

    return write_workbook(path, xml())


def xlsx_of(path: Path, rows: int, columns: int, *, references: bool = True) -> Path:
    """Customers: ``rows`` rows (the header first) of ``columns`` cells each (the probe's: 2,000 × 16,384);
    ``references=False`` leaves out each cell's ``r`` and the sheet's ``<dimension>``, as some writers do."""

    def ref(column: int, row: int) -> str:
        return f' r="{letters[column]}{row}"' if references else ""

    letters = [get_column_letter(c) for c in range(1, columns + 1)]

    def xml() -> Iterator[str]:
        header = ["external_id", "name", *(f"x{c}" for c in range(3, columns + 1))]
        yield "<row>" + "".join(
            f'<c{ref(c, 1)} t="inlineStr"><is><t>{header[c]}</t></is></c>' for c in range(columns)
        )
        yield "</row>"
        for r in range(2, rows + 1):
            cells = [f'<c{ref(0, r)} t="inlineStr"><is><t>C{r}</t></is></c>',
                     f'<c{ref(1, r)} t="inlineStr"><is><t>n{r}</t></is></c>']  # fmt: skip
            cells += [f"<c{ref(c, r)}><v>{c}</v></c>" for c in range(2, columns)]
            yield "<row>" + "".join(cells) + "</row>"

    return write_workbook(path, xml(), dimension=f"A1:{letters[-1]}{rows}" if references else None)


def deep_jsonl(path: Path, depth: int) -> Path:
    """Customers as JSON Lines: a good record, a line of ``depth`` ``[``, another good record."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write('{"external_id": "J1", "name": "一"}\n')
        handle.write("[" * depth + "\n")
        handle.write('{"external_id": "J3", "name": "三"}\n')
    return path


def nul_past_the_sample(path: Path, rows: int = 3_000) -> Path:
    """Customers, about 100 bytes a row, whose last row's e-mail ends in a NUL character: past the first
    256 KB the encoding is detected from, at line ``rows + 2``."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("external_id,name,email\n")
        for i in range(rows):
            handle.write(f"N{i:06d},{'名' * 20}{'x' * 20},n{i}@example.com\n")
        handle.write("NUL,壞,bad@example.com\x00\n")
    return path


def unclosed_quote_csv(path: Path, rows: int) -> Path:
    """Customers: ``rows`` rows after the header; the third opens a quote it never closes."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("external_id,name\n")
        for i in range(1, rows + 1):
            handle.write(f'Q{i},"name {i}\n' if i == 3 else f"Q{i},name {i}\n")
    return path
