"""One shape for every table the dashboard shows: the page renders it, CSV and Excel exports write it.

Cells hold raw values (numbers stay numbers in Excel); the column's ``kind`` says how a page formats them.
Text that could start a formula is neutralised in both files (``core.safecells``).
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from openpyxl import Workbook

from patron.core.safecells import SafeCsvWriter, set_xlsx_value

#: ``month`` is a date naming its month (its first day), shown as the month. ``money`` is shown in whole units
#: (estimates such as CLV); ``amount`` keeps its cents on the page (a liability finance reconciles).
Kind = Literal["text", "int", "score", "percent", "mean", "date", "month", "flag", "money", "amount"]
Cell = str | int | float | date | bool | None


@dataclass(frozen=True)
class Column:
    label: str
    kind: Kind = "text"
    #: How the column is counted (from docs/metrics.md), shown with the table; the page links its header to it.
    help: str = ""


@dataclass
class DataTable:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    #: Rows (by index) and cells (row, column) of a period still under way: the page marks them "to date".
    partial_rows: set[int] = field(default_factory=set)
    partial_cells: set[tuple[int, int]] = field(default_factory=set)
    #: Where a row's first cell links to (by row index), on the page only: the exports keep the plain value.
    links: dict[int, str] = field(default_factory=dict)


def _plain(value: Cell, kind: Kind) -> str | int | float | date | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return round(value, 4 if kind == "mean" else 2)
    return value


def to_csv(table: DataTable) -> bytes:
    """UTF-8 with a byte-order mark, so Excel on Windows opens Chinese text without garbling it."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow([column.label for column in table.columns])
    for row in table.rows:
        writer.writerow(
            ["" if (plain := _plain(cell, column.kind)) is None else plain
             for cell, column in zip(row, table.columns, strict=True)]
        )  # fmt: skip
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


EXCEL_FORMATS: dict[Kind, str] = {"percent": "0.0", "score": "0.0", "mean": "0.00", "date": "yyyy-mm-dd", "month": "yyyy-mm",
                                  "int": "#,##0", "money": "#,##0.00", "amount": "#,##0.00"}  # fmt: skip


def to_xlsx(table: DataTable) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = table.key[:31]
    header: list[str | int | float | date | None] = [column.label for column in table.columns]
    body = (
        [_plain(cell, column.kind) for cell, column in zip(row, table.columns, strict=True)]
        for row in table.rows
    )
    for row_number, values in enumerate(itertools.chain([header], body), start=1):
        for column_number, value in enumerate(values, start=1):
            set_xlsx_value(sheet.cell(row=row_number, column=column_number), value)
    for index, column in enumerate(table.columns, start=1):
        number_format = EXCEL_FORMATS.get(column.kind)
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
