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
import re
import unicodedata
import zipfile
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from charset_normalizer import from_bytes

from patron.core.errors import PatronError
from patron.core.settings import get_settings

SAMPLE_BYTES = 256 * 1024
ARROW_BLOCK_BYTES = 1024 * 1024  # 8 MB blocks held 270 MB at once (pyarrow reads ahead); 1 MB held 160 MB
REPLACEMENT = "\ufffd"
#: JSON nesting deeper than this rejects the line (a record is a flat object; Python's parser recursed to a
#: RecursionError at 100,000 ``[``).
MAX_JSON_DEPTH = 32
#: A part of a workbook other than its sheets and shared strings (styles, relationships) is parsed whole.
MAX_XLSX_OTHER_PART_BYTES = 32 * 1024 * 1024
XLSX_SCAN_BYTES = 1024 * 1024
#: Bytes of sheet XML one cell's text may take per character (``&#x10FFFF;``) before the file is refused.
XML_BYTES_PER_CHAR = 10
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


Problem = tuple[str, dict[str, Any]]


@dataclass
class RawBatch:
    """Rows of a file as columns of cells: row i starts on line ``lines[i]``; ``columns[j][i]`` is its j-th cell,
    rows shorter than the header padded with "". ``rows`` keeps the cells as read where a reader has them, since
    a row may be longer than the header (or a JSON line that did not parse). ``problems``: rows the reader itself
    refused (an unclosed quote, a line past the limit, JSON nested too deep), by row index, with why."""

    lines: list[int]
    columns: list[Sequence[str]]
    rows: list[list[str]] | None = None
    problems: dict[int, Problem] | None = None

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
    #: Rows the reader refused, by line, until ``batches`` hands them over.
    _problems: dict[int, Problem] = field(default_factory=dict, repr=False)

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
            problems = None
            if self._problems:
                found = self._problems
                problems = {i: found.pop(row.line) for i, row in enumerate(chunk) if row.line in found}
            if any(len(cells) < width for cells in rows):
                padded = [cells + [""] * (width - len(cells)) for cells in rows]
                yield RawBatch([row.line for row in chunk], list(zip(*padded, strict=False)), rows, problems)
            else:
                yield RawBatch([row.line for row in chunk], list(zip(*rows, strict=False)), rows, problems)

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


class _RecordRefused(Exception):
    """Raised by a line feed inside ``csv.reader``: the record being read is refused for ``problem``."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.problem: Problem = (code, params)


class _LineFeed:
    """The physical lines of a text stream for ``csv.reader``, each bounded in length, and the lines of the record
    being read, bounded in number.

    Why: a quote opened and never closed made the next lines — up to the rest of the file — one cell, and the
    rows in them vanished without a report (issue 18). A record that runs past ``max_lines`` lines or to the end
    of the file inside a quote is refused on its first line, and the lines after it are read again as rows of
    their own, so the rows counted are the rows a person sees. A line longer than ``max_chars`` is skipped in
    pieces, never held whole."""

    def __init__(self, text: IO[str], max_chars: int, max_lines: int) -> None:
        self.text = text
        self.max_chars = max_chars
        self.max_lines = max_lines
        self.number = 0  # the last line handed out
        self.start = 1  # where the record being read starts
        self.record: list[str | None] = []  # its lines so far; None for a line past the limit
        self.pending: deque[str | None] = deque()  # lines given back, to be read again
        self.ended = False  # the stream ended while a record was being read

    def begin(self) -> None:
        self.record = []
        self.start = self.number + 1
        self.ended = False

    def give_back(self) -> str | None:
        """Ends a refused record: its lines after the first will be read again. Returns its first line."""
        first, rest = (self.record[0] if self.record else ""), self.record[1:]
        self.pending.extendleft(reversed(rest))
        self.number = self.start
        self.record = []
        return first

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self.pending.popleft() if self.pending else self._read()
        self.number += 1
        self.record.append(line)
        if line is None:
            raise _RecordRefused("import.line_too_long", limit=self.max_chars)
        if len(self.record) > self.max_lines:
            raise _RecordRefused("import.record_too_long", lines=self.max_lines)
        return line

    def _read(self) -> str | None:
        line = self.text.readline(self.max_chars)
        if not line:
            self.ended = True
            raise StopIteration
        if len(line) < self.max_chars or line.endswith(("\n", "\r")):
            return line
        while (more := self.text.readline(self.max_chars)) and not more.endswith(("\n", "\r")):
            pass
        return None


def _cells_of(line: str | None, delimiter: str, limit: int) -> list[str]:
    """The cells of a refused record's first line, as far as they can be read, for the rejects file."""
    if not line:
        return []
    try:
        cells = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        cells = [line]
    return [cell[:limit] for cell in cells]


def _open_csv(path: Path, size: int, encoding: str, sample: bytes, *, fast: bool) -> TabularSource:
    sample_text = sample.decode(encoding, errors="replace")
    first_line = sample_text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",\t;|", key=first_line.count) if first_line else ","
    text, raw = _text_stream(path, encoding)
    settings = get_settings()
    feed = _LineFeed(text, settings.import_max_line_chars, settings.import_max_record_lines)
    reader = csv.reader(feed, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration as exc:
        text.close()
        raise PatronError("import.empty_file", file=str(path)) from exc
    except (csv.Error, _RecordRefused) as exc:
        text.close()
        raise PatronError("import.unreadable", file=str(path), reason=str(exc)) from exc
    if not any(cell.strip() for cell in header):
        text.close()
        raise PatronError("import.no_header", file=str(path))
    if len(header) > settings.import_max_columns:
        text.close()
        raise PatronError("import.too_many_columns", file=str(path), limit=settings.import_max_columns)
    problems: dict[int, Problem] = {}
    cell_limit = settings.import_max_cell_chars

    def rows() -> Iterator[SourceRow]:
        nonlocal reader
        while True:
            feed.begin()
            problem: Problem | None = None
            try:
                values = next(reader)
            except StopIteration:
                return
            except _RecordRefused as exc:
                problem = exc.problem
            except csv.Error as exc:
                problem = ("import.unreadable_row", {"reason": str(exc)})
            else:
                if feed.ended:  # the file ended inside a quoted cell
                    problem = ("import.unclosed_quote", {})
            if problem is None:
                if values and any(values):
                    yield SourceRow(feed.start, values)
                continue
            start = feed.start
            first = feed.give_back()
            reader = csv.reader(feed, delimiter=delimiter)  # a fresh parser state after the refused record
            problems[start] = problem
            yield SourceRow(start, _cells_of(first, delimiter, cell_limit))

    source = TabularSource(
        path, "csv", encoding, header, size, rows(), raw.tell, [text.close], _problems=problems
    )
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


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON ``text`` nests arrays and objects deeper than ``limit``, without parsing it (the parser
    recurses once per level). Only texts with more than ``limit`` brackets are scanned, brackets inside strings
    skipped."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > limit:
                return True
        elif mark in "]}":
            depth -= 1
    return False


def _bounded_lines(text: IO[str], max_chars: int) -> Iterator[str | None]:
    """The lines of ``text``; None in place of one longer than ``max_chars``, which is skipped in pieces."""
    while line := text.readline(max_chars):
        if len(line) < max_chars or line.endswith(("\n", "\r")):
            yield line
            continue
        while (more := text.readline(max_chars)) and not more.endswith(("\n", "\r")):
            pass
        yield None


def _open_jsonl(path: Path, size: int, encoding: str, sample: bytes) -> TabularSource:
    if sample.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        raise PatronError("import.json_array", file=str(path))
    text, raw = _text_stream(path, encoding)
    settings = get_settings()
    max_chars = settings.import_max_line_chars
    lines = _bounded_lines(text, max_chars)
    header: list[str] = []
    positions: dict[str, int] = {}
    pending: list[tuple[int, str | None]] = []
    problems: dict[int, Problem] = {}
    # JSON Lines has no header row: the union of keys of the first records stands in for one.
    line_no = 0
    for line_no, line in enumerate(lines, start=1):
        if line is not None and not line.strip():
            continue
        pending.append((line_no, line))
        try:
            record = None if line is None or json_too_deep(line) else json.loads(line)
        except (json.JSONDecodeError, RecursionError):
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
    if len(header) > settings.import_max_columns:
        text.close()
        raise PatronError("import.too_many_columns", file=str(path), limit=settings.import_max_columns)

    def decode(row: SourceRow) -> SourceRow:
        if json_too_deep(row.values[0]):
            problems[row.line] = ("import.json_too_deep", {"limit": MAX_JSON_DEPTH})
            return SourceRow(row.line, [])
        try:
            record = json.loads(row.values[0])
        except RecursionError:
            problems[row.line] = ("import.json_too_deep", {"limit": MAX_JSON_DEPTH})
            return SourceRow(row.line, [])
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

    def read(number: int, line: str | None) -> SourceRow:
        if line is None:
            problems[number] = ("import.line_too_long", {"limit": max_chars})
            return SourceRow(number, [])
        return decode(SourceRow(number, [line]))

    def rows() -> Iterator[SourceRow]:
        yield from (read(number, line) for number, line in pending)
        for number, line in enumerate(lines, start=line_no + 1):
            if line is None or line.strip():
                yield read(number, line)

    return TabularSource(
        path, "jsonl", encoding, header, size, rows(), raw.tell, [text.close], _problems=problems
    )


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


@dataclass
class SheetExtent:
    """What a scan of a worksheet's XML found: its last row and column (0 when its cells carry no references)."""

    rows: int = 0
    columns: int = 0


# Tags may carry a namespace prefix (``<x:c>``), taken from the root; a cell may carry no reference (``r``).
_ROOT = re.compile(rb"<(\w+:)?worksheet\b")
_ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\b[^>]*?\sr="(\d+)"')
_CELL_COLUMN = re.compile(rb'\sr="([A-Z]{1,3})\d')  # rows' references are digits only


def _count_tags(body: bytes, tag: bytes, end: int | None = None) -> int:
    """Occurrences of ``tag`` (``b"<row"``) in ``body[:end]``: one pass, so names it begins (``<rowBreaks>``,
    ``<cols>``, a handful per sheet) count too, which a bound can afford (a regex took ten times as long)."""
    return body.count(tag, 0, end)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def check_workbook(path: Path) -> dict[str, SheetExtent]:
    """Refuses a workbook that would take unbounded memory or CPU to open, before openpyxl opens it; returns the
    extent of each worksheet part, read from its cells rather than from its ``<dimension>``, which can lie.

    Why: a 412 KB file holding one 400 MB inline string took 3.2 GB, and a 2,000 × 16,384 sheet 351 s of CPU
    (issue 18). openpyxl builds each cell's text whole and pads each row to the sheet's width, so the parts are
    streamed here first: the unzipped total, each other part's size, each run of text (bytes between tags) and
    rows × columns are bounded by the settings. Stops at the first thing past a bound."""
    settings = get_settings()
    text_limit = settings.import_max_cell_chars * XML_BYTES_PER_CHAR
    extents: dict[str, SheetExtent] = {}
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PatronError("import.bad_xlsx", file=str(path), reason=type(exc).__name__) from exc
    with archive:
        parts = archive.infolist()
        unzipped = sum(part.file_size for part in parts)
        if unzipped > settings.import_max_unzipped_bytes:
            raise PatronError(
                "import.xlsx_too_large", file=str(path), size_mb=_megabytes(unzipped),
                limit_mb=_megabytes(settings.import_max_unzipped_bytes),
            )  # fmt: skip
        for part in parts:
            name = part.filename
            sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
            if not sheet and name != "xl/sharedStrings.xml":
                if part.file_size > MAX_XLSX_OTHER_PART_BYTES:
                    raise PatronError(
                        "import.xlsx_too_large", file=str(path), size_mb=_megabytes(part.file_size),
                        limit_mb=_megabytes(MAX_XLSX_OTHER_PART_BYTES),
                    )  # fmt: skip
                continue
            try:
                with archive.open(part) as stream:
                    extent = _scan_part(path, stream, text_limit, sheet)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise PatronError("import.bad_xlsx", file=str(path), reason=type(exc).__name__) from exc
            if sheet:
                extents[name] = extent
    return extents


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}"


def _long_run(body: bytes, limit: int) -> int:
    """Where the first run of more than ``limit`` bytes without a ``<`` starts in ``body`` (which ends just
    before one), or -1; vectorised, as sheets hold tens of millions of tags."""
    tags = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 60)  # "<"
    starts = np.concatenate(([0], tags))
    lengths = np.diff(np.concatenate((starts, [len(body)])))
    long = np.flatnonzero(lengths > limit)
    return int(starts[long[0]]) if len(long) else -1


def _scan_part(path: Path, stream: IO[bytes], text_limit: int, sheet: bool) -> SheetExtent:
    settings = get_settings()
    extent = SheetExtent()
    carry = b""
    rows_seen = 0  # <row> tags passed: the row being read, counting from 1
    cells_seen = 0
    row_tag = cell_tag = b""

    def too_long(row: int) -> PatronError:
        limit = settings.import_max_cell_chars
        if sheet:
            return PatronError("import.xlsx_cell_too_long", file=str(path), row=row, limit=limit)
        return PatronError("import.xlsx_string_too_long", file=str(path), limit=limit)

    while True:
        chunk = stream.read(XLSX_SCAN_BYTES)
        data = carry + chunk
        cut = data.rfind(b"<") if chunk else len(data)
        if cut <= 0:  # no tag starts here: all text
            if len(data) > text_limit:
                raise too_long(rows_seen)
            if not chunk:
                return extent
            carry = data
            continue
        body, carry = data[:cut], data[cut:]
        if not row_tag:
            root = _ROOT.search(body)
            prefix = (root.group(1) or b"") if root else b""
            row_tag, cell_tag = b"<" + prefix + b"row", b"<" + prefix + b"c"
        offset = _long_run(body, text_limit)
        if offset >= 0:
            raise too_long(rows_seen + _count_tags(body, row_tag, offset))
        if sheet:
            rows_seen += _count_tags(body, row_tag)
            cells_seen += _count_tags(body, cell_tag)
            last_row = _ROW_NUMBER.match(body, max(body.rfind(row_tag + b" "), 0))
            extent.rows = max(extent.rows, rows_seen, int(last_row.group(1)) if last_row else 0)
            letters = set(_CELL_COLUMN.findall(body))
            if letters:
                extent.columns = max(extent.columns, *map(_column_number, letters))
            # cells without references: as wide as their count says, on average
            width = max(extent.columns, cells_seen // max(rows_seen, 1))
            if width > settings.import_max_columns or (
                max(extent.rows * max(width, 1), cells_seen) > settings.import_max_sheet_cells
            ):
                raise PatronError(
                    "import.sheet_too_large", file=str(path), rows=extent.rows, columns=width,
                    limit=settings.import_max_sheet_cells, max_columns=settings.import_max_columns,
                )  # fmt: skip
        if not chunk:
            return extent


def _open_xlsx(path: Path, size: int) -> TabularSource:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    extents = check_workbook(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise PatronError("import.bad_xlsx", file=str(path), reason=str(exc)) from exc
    except Exception as exc:  # zipfile.BadZipFile and friends: the file is not a workbook
        raise PatronError("import.bad_xlsx", file=str(path), reason=type(exc).__name__) from exc
    sheet = workbook.worksheets[0]
    extent = extents.get(getattr(sheet, "_worksheet_path", ""), SheetExtent())
    # Rows and width as the cells say: the <dimension> can claim 16,384 columns (each row padded to them) or
    # fewer rows than there are (openpyxl stops there, and the rest would be lost without a word).
    total_rows = extent.rows or sheet.max_row or 1
    iterator = sheet.iter_rows(
        values_only=True, max_row=extent.rows or None, max_col=extent.columns or sheet.max_column or None
    )
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
