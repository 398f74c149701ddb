"""Cells that cannot attack the person who opens a file Patron wrote (OWASP "CSV injection").

A respondent, an imported file or a customer name may hold ``=HYPERLINK(...)``; a spreadsheet that opens
an export would run it. Every CSV and Excel file Patron writes goes through here: a text cell starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe (spreadsheets show the text,
never evaluate it), Excel strings are stored as strings, and numbers stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import Cell as XlsxCell
from openpyxl.cell.cell import MergedCell

#: First characters a spreadsheet reads as the start of a formula or a DDE payload.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A signed number written as text ("-16.7", "+3"): a spreadsheet reads it as that number, nothing more.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """Text that could start a formula, prefixed with an apostrophe; every other value (a signed number
    written as text included) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` whose text cells are neutralised; numbers are written as they are."""

    def __init__(self, handle: Any, **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def set_xlsx_value(cell: XlsxCell | MergedCell, value: Any) -> None:
    """Write ``value`` into an openpyxl cell; text is stored as a string (openpyxl would otherwise store
    ``=...`` as a formula), numbers and dates keep their type."""
    if isinstance(value, str):
        cell.value = neutralise(value)
        cell.data_type = "s"
    else:
        cell.value = value
