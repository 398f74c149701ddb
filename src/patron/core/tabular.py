"""Reading user files (CSV, Excel .xlsx, JSON Lines) as rows of strings with their line numbers.

Encodings are detected, not assumed: a UTF-8/UTF-16 BOM wins, then strict UTF-8, then a statistical guess
limited to the encodings our users actually send (Big5/CP950 from Taiwan, GBK/GB18030 from China). Bytes
that do not decode are replaced by U+FFFD and the row carrying them is rejected, never silently garbled.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from typing import IO, Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from charset_normalizer import from_bytes

from patron.core.errors import PatronError

SAMPLE_BYTES = 256 * 1024
ARROW_BLOCK_BYTES = 1024 * 1024  # 8 MB blocks held 270 MB at once (pyarrow reads ahead); 1 MB held 160 MB
REPLACEMENT = "\ufffd"
FORMATS = ("csv", "xlsx", "jsonl")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}  # fmt: skip
# Decoders that are supersets of what users' tools label Big5 or GBK, so rare characters still decode.
_FAMILIES = {
    "big5": "cp950", "cp950": "cp950", "big5hkscs": "big5hkscs",
    "gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "cp936": "gb18030",
    "utf_8": "utf-8", "utf-8": "utf-8", "ascii": "utf-8",
}  # fmt: skip
_GUESS_CANDIDATES = ["utf_8", "big5", "cp950", "big5hkscs", "gb18030", "gbk", "gb2312"]


def _count_and_replace(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return REPLACEMENT, error.end


codecs.register_error("patron-replace", _count_and_replace)


class SourceRow(NamedTuple):
    """One row of the file and the line it starts on (a tuple: millions are made per import)."""

    line: int
    values: list[str]


@dataclass
class RawBatch:
    """Rows of a file as columns of cells: row i starts on line ``lines[i]``; ``columns[j][i]`` is its j-th cell,
    rows shorter than the header padded with "". ``rows`` keeps the cells as read where a reader has them, since
    a row may be longer than the header (or a JSON line that did not parse)."""

    lines: list[int]
    columns: list[Sequence[str]]
    rows: list[list[str]] | None = None

    def cells(self, index: int) -> list[str]:
        """Row ``index`` as it was read, for the rejects file."""
        if self.rows is not None:
            return self.rows[index]
        return [column[index] for column in self.columns]


@dataclass
class TabularSource:
    """An opened file: its header, the detected format and encoding, and an iterator of rows."""

    path: Path
    format: str
    encoding: str | None
    header: list[str]
    size: int
    _rows: Iterator[SourceRow]
    _position: Any = field(default=None, repr=False)
    _closers: list[Any] = field(default_factory=list, repr=False)
    _arrow: Any = field(default=None, repr=False)
    parsed_by_arrow: bool = False

    def rows(self) -> Iterator[SourceRow]:
        return self._rows

    def batches(self, size: int) -> Iterator[RawBatch]:
        """The rows, ``size`` at a time, as columns; rows whose cells are all empty are skipped."""
        if self._arrow is not None:
            yield from self._arrow_batches(size)
            return
        width = len(self.header)
        while chunk := list(islice(self._rows, size)):
            rows = [row.values for row in chunk]
            if any(len(cells) < width for cells in rows):
                padded = [cells + [""] * (width - len(cells)) for cells in rows]
                yield RawBatch([row.line for row in chunk], list(zip(*padded, strict=False)), rows)
            else:
                yield RawBatch([row.line for row in chunk], list(zip(*rows, strict=False)), rows)

    def _arrow_batches(self, size: int) -> Iterator[RawBatch]:
        reader, total_lines = self._arrow
        self._arrow = None  # read once
        line = 2  # line 1 is the header
        pending: list[Any] = []
        pending_rows = 0
        while True:
            try:
                block = reader.read_next_batch()
            except StopIteration:
                block = None
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise ArrowReaderGaveUp(str(exc)) from exc
            if block is not None:
                pending.append(block)
                pending_rows += block.num_rows
            while pending_rows >= size or (block is None and pending_rows):
                rows = pa.Table.from_batches(pending)
                part, rest = rows.slice(0, size), rows.slice(size)
                pending, pending_rows = rest.to_batches(), rest.num_rows
                yield self._arrow_batch(part, line, total_lines)
                line += part.num_rows
            if block is None:
                return

    def _arrow_batch(self, part: Any, line: int, total_lines: int) -> RawBatch:
        end = line + part.num_rows
        lines = pa.array(range(line, end), pa.int64())
        blank = functools.reduce(pc.and_, [pc.equal(column, "") for column in part.columns])
        if pc.any(blank).as_py():  # an empty line, or cells all empty: skipped, as the row reader does
            keep = pc.invert(blank)
            part, lines = part.filter(keep), lines.filter(keep)
        self._position = functools.partial(int, self.size * min(1.0, end / total_lines))
        return RawBatch(lines.to_pylist(), [column.to_pylist() for column in part.columns])

    def bytes_read(self) -> int:
        return int(self._position()) if self._position else 0

    def close(self) -> None:
        for closer in self._closers:
            closer()

    def __enter__(self) -> TabularSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def detect_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise PatronError("import.bad_format", format=explicit, choices=list(FORMATS))
        return explicit
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise PatronError("import.unknown_extension", file=str(path), choices=sorted(_EXTENSIONS))
    return fmt


def detect_encoding(sample: bytes, path: Path) -> str:
    """The codec name to decode the file with, or a PatronError telling the user to pass ``--encoding``."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        raise PatronError("import.binary_file", file=str(path))
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample, cp_isolation=_GUESS_CANDIDATES).best()
    if best is None:
        raise PatronError("import.unknown_encoding", file=str(path))
    return _FAMILIES.get(best.encoding, best.encoding)


def normalize_header(name: str) -> str:
    """Headers are matched loosely: full-width forms, case, spaces and dashes do not matter."""
    folded = unicodedata.normalize("NFKC", name).strip().lstrip("\ufeff").lower()
    return "_".join(folded.replace("-", " ").split())


def open_source(
    path: Path, *, fmt: str | None = None, encoding: str | None = None, fast: bool = True
) -> TabularSource:
    """Open a user's file. ``fast=False`` never uses the pyarrow CSV parser (tests compare the two readers)."""
    if not path.exists():
        raise PatronError("import.file_not_found", file=str(path))
    if not path.is_file():
        raise PatronError("import.not_a_file", file=str(path))
    size = path.stat().st_size
    if size == 0:
        raise PatronError("import.empty_file", file=str(path))
    chosen = detect_format(path, fmt)
    if chosen == "xlsx":
        return _open_xlsx(path, size)
    with path.open("rb") as probe:
        sample = probe.read(SAMPLE_BYTES)
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise PatronError("import.bad_encoding_name", encoding=encoding) from exc
    else:
        encoding = detect_encoding(sample, path)
    if chosen == "csv":
        return _open_csv(path, size, encoding, sample, fast=fast)
    return _open_jsonl(path, size, encoding, sample)


def _text_stream(path: Path, encoding: str) -> tuple[IO[str], IO[bytes]]:
    raw = path.open("rb")
    return io.TextIOWrapper(raw, encoding=encoding, errors="patron-replace", newline=""), raw


def _open_csv(path: Path, size: int, encoding: str, sample: bytes, *, fast: bool) -> TabularSource:
    sample_text = sample.decode(encoding, errors="replace")
    first_line = sample_text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",\t;|", key=first_line.count) if first_line else ","
    text, raw = _text_stream(path, encoding)
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration as exc:
        text.close()
        raise PatronError("import.empty_file", file=str(path)) from exc
    except csv.Error as exc:
        text.close()
        raise PatronError("import.unreadable", file=str(path), reason=str(exc)) from exc
    if not any(cell.strip() for cell in header):
        text.close()
        raise PatronError("import.no_header", file=str(path))

    def rows() -> Iterator[SourceRow]:
        previous_end = reader.line_num
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise PatronError("import.unreadable", file=str(path), reason=str(exc)) from exc
            start = previous_end + 1
            previous_end = reader.line_num
            if values and any(values):
                yield SourceRow(start, values)

    source = TabularSource(path, "csv", encoding, header, size, rows(), raw.tell, [text.close])
    if fast and encoding in ("utf-8", "utf-8-sig"):
        source._arrow = _arrow_reader(path, delimiter, len(header))
        source.parsed_by_arrow = source._arrow is not None
    return source


class ArrowReaderGaveUp(Exception):
    """pyarrow met what it cannot read like the row reader (a row wider or narrower than the header, bytes that
    are not UTF-8) after rows were already handed out; the import starts again with the row reader."""


def _arrow_reader(path: Path, delimiter: str, width: int) -> tuple[Any, int] | None:
    """A pyarrow streaming reader of the file's rows as strings and the file's line count — or None when the
    file holds what only the row reader reads right.

    Why: the row reader (csv module, one Python list per row) costs 1.8 s per 1M order lines against 0.6 s
    here (docs/benchmarks.md). Without a quote character there are no quoting rules and no record spans
    lines, and with every CR part of a CRLF and empty lines kept, row i is on line i + 2; no NUL either (the
    csv module refuses it). What pyarrow then still refuses mid-file — a row of the wrong width, bytes that
    are not UTF-8 — raises ArrowReaderGaveUp. Blocks are parsed as they are read: memory does not grow."""
    newlines, ends_with_newline, carried_cr = 0, False, False
    with path.open("rb") as handle:
        while block := handle.read(ARROW_BLOCK_BYTES):
            if b'"' in block or b"\x00" in block or (carried_cr and not block.startswith(b"\n")):
                return None
            carried_cr = block.endswith(b"\r")  # a CRLF cut in two by the block boundary
            if block.count(b"\r") != block.count(b"\r\n") + carried_cr:
                return None
            newlines += block.count(b"\n")
            ends_with_newline = block.endswith(b"\n")
    if carried_cr:
        return None
    names = [f"c{index}" for index in range(width)]
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names, block_size=ARROW_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, quote_char=False, newlines_in_values=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    return reader, newlines + (0 if ends_with_newline else 1)


def _json_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise ValueError("nested value")
    return str(value)


def _open_jsonl(path: Path, size: int, encoding: str, sample: bytes) -> TabularSource:
    if sample.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        raise PatronError("import.json_array", file=str(path))
    text, raw = _text_stream(path, encoding)
    header: list[str] = []
    positions: dict[str, int] = {}
    pending: list[SourceRow] = []
    # JSON Lines has no header row: the union of keys of the first records stands in for one.
    line_no = 0
    for line_no, line in enumerate(text, start=1):
        if not line.strip():
            continue
        pending.append(SourceRow(line_no, [line]))
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict):
            for key in record:
                if key not in positions:
                    positions[key] = len(header)
                    header.append(key)
        if len(pending) >= 1000:
            break
    if not pending:
        text.close()
        raise PatronError("import.empty_file", file=str(path))

    def decode(row: SourceRow) -> SourceRow:
        try:
            record = json.loads(row.values[0])
        except json.JSONDecodeError as exc:
            return SourceRow(row.line, [f"\x00json:{exc.msg} (column {exc.colno})"])
        if not isinstance(record, dict):
            return SourceRow(row.line, ["\x00json:not an object"])
        values = [""] * len(header)
        for key, value in record.items():
            index = positions.get(key)
            if index is None:
                continue
            try:
                values[index] = _json_cell(value)
            except ValueError:
                return SourceRow(row.line, [f"\x00json:nested value in {key}"])
        return SourceRow(row.line, values)

    def rows() -> Iterator[SourceRow]:
        yield from (decode(row) for row in pending)
        for number, line in enumerate(text, start=line_no + 1):
            if line.strip():
                yield decode(SourceRow(number, [line]))

    return TabularSource(path, "jsonl", encoding, header, size, rows(), raw.tell, [text.close])


def _xlsx_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_xlsx(path: Path, size: int) -> TabularSource:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise PatronError("import.bad_xlsx", file=str(path), reason=str(exc)) from exc
    except Exception as exc:  # zipfile.BadZipFile and friends: the file is not a workbook
        raise PatronError("import.bad_xlsx", file=str(path), reason=type(exc).__name__) from exc
    sheet = workbook.worksheets[0]
    total_rows = sheet.max_row or 1
    iterator = sheet.iter_rows(values_only=True)
    header: list[str] = []
    header_line = 0
    for header_line, cells in enumerate(iterator, start=1):  # noqa: B007
        if any(cell is not None and str(cell).strip() for cell in cells):
            header = [_xlsx_cell(cell) for cell in cells]
            break
    if not header:
        workbook.close()
        raise PatronError("import.empty_file", file=str(path))
    progress = {"line": header_line}

    def rows() -> Iterator[SourceRow]:
        for number, cells in enumerate(iterator, start=header_line + 1):
            progress["line"] = number
            values = [_xlsx_cell(cell) for cell in cells]
            if any(value.strip() for value in values):
                yield SourceRow(number, values)

    def position() -> int:
        return int(size * min(1.0, progress["line"] / total_rows))

    return TabularSource(path, "xlsx", None, header, size, rows(), position, [workbook.close])
