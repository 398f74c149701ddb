"""The bulk import engine shared by every domain's importer.

Why this shape: rows are validated in Python (types, ranges, formats), a batch at a time and column by column
— a column repeats its values (statuses, products, prices), so each distinct cell of a batch is parsed once —
written to a temporary
staging table, checked set-wise in SQL (duplicates inside the file, references to customers and products,
consistency inside a group such as the lines of one order), then merged into the real tables with one
``INSERT … SELECT … ON CONFLICT DO UPDATE`` per table, all in a single transaction. So an import either
lands whole or not at all (a crash mid-way leaves nothing half-written and a re-run simply starts again),
upserts on ``external_id`` make re-running a file change nothing, and PostgreSQL gets ``COPY`` speed.
"""

from __future__ import annotations

import csv
import functools
import gc
import heapq
import json
import os
import secrets
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, ClassVar, TextIO

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    and_,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine

from patron.core.clock import utcnow
from patron.core.db import UTCDateTime, keep_statistics
from patron.core.errors import PatronError
from patron.core.i18n import join_statements, translate
from patron.core.models import Workspace
from patron.core.parsing import FieldProblem, Parser
from patron.core.safecells import SafeCsvWriter
from patron.core.settings import get_settings
from patron.core.tabular import (
    REPLACEMENT,
    ArrowReaderGaveUp,
    RawBatch,
    TabularSource,
    normalize_header,
    open_source,
)

BATCH_ROWS = 20_000
BULK_CACHE_KIB = -262_144
MAX_KEPT_ERRORS = 1_000
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Field:
    """One importable column: how to parse it, how it is stored while staged, and what else it may be called.
    ``staged=False`` for a column only derived columns are made from (an amount kept as minor units)."""

    name: str
    parse: Parser
    sql_type: TypeEngine[Any]
    required: bool = False
    aliases: tuple[str, ...] = ()
    doc: str = ""
    staged: bool = True


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, locale: str | None = None) -> str:
        return translate(self.code, locale, **self.params)


@dataclass
class ImportReport:
    kind: str
    file: str
    format: str
    encoding: str | None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_counts: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    rejects_file: str | None = None

    def add_error(self, error: RowError) -> None:
        self.error_counts[error.code] += 1
        self.errors.append(error)
        if len(self.errors) >= 2 * MAX_KEPT_ERRORS:
            self.sort_errors()

    def sort_errors(self) -> None:
        """Keeps the first ``MAX_KEPT_ERRORS`` errors by line: the set-wise checks find theirs after every row
        was read, and a list in file order is what a person fixing the file works down."""
        self.errors.sort(key=attrgetter("line"))  # stable: a line's errors keep the order they were found in
        del self.errors[MAX_KEPT_ERRORS:]


@dataclass(frozen=True)
class MergeCounts:
    inserted: int
    updated: int
    unchanged: int
    removed: int = 0


@dataclass
class ImportContext:
    connection: Connection
    workspace_id: int
    workspace: Workspace
    staging: Table
    present: frozenset[str]

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name


RowProblems = list[tuple[str | None, str, dict[str, Any]]]


@dataclass
class ParsedBatch:
    """A batch of rows parsed column by column: ``columns`` maps each field (and derived column) to its values,
    None where a cell was empty or did not parse; ``problems`` holds what rejects each row, by row index."""

    lines: list[int]
    columns: dict[str, list[Any]] = field(default_factory=dict)
    problems: dict[int, RowProblems] = field(default_factory=dict)

    def reject(self, index: int, column: str | None, code: str, params: dict[str, Any]) -> None:
        self.problems.setdefault(index, []).append((column, code, params))

    def accepted(self) -> list[int]:
        """Indices of the rows nothing has rejected yet, in file order."""
        if not self.problems:
            return list(range(len(self.lines)))
        return [index for index in range(len(self.lines)) if index not in self.problems]


class ImportSpec(ABC):
    """What one kind of file (customers, orders, …) means. Subclasses live in their own domain."""

    kind: ClassVar[str]
    #: Columns that identify a row; two rows of one file with the same key are both rejected.
    unique_key: ClassVar[tuple[str, ...]]
    #: Rows sharing this column stand or fall together (the lines of one order).
    group_column: ClassVar[str | None] = None

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.fields = self.build_fields(workspace)

    @abstractmethod
    def build_fields(self, workspace: Workspace) -> tuple[Field, ...]: ...

    def derived_columns(self) -> tuple[Column[Any], ...]:
        """Staging columns computed from other cells (e.g. amounts in minor units)."""
        return ()

    @abstractmethod
    def finish_rows(self, batch: ParsedBatch) -> None:
        """Cross-field rules and derived values, column by column; rejects rows with ``batch.reject``. Judges only
        the rows parsing accepted (``batch.accepted()`` when called), in file order."""

    def finish_staged(self, ctx: ImportContext) -> None:
        """Values that depend on rows of other batches, set in SQL once every accepted row is staged (before the
        checks): the engine's memory must not grow with the file."""
        return None

    def checks(self, ctx: ImportContext) -> Iterable[Callable[[ImportContext], list[RowError]]]:
        """Set-wise checks run in SQL after staging, in order; each sees only rows not yet rejected."""
        return ()

    @abstractmethod
    def merge(self, ctx: ImportContext) -> MergeCounts: ...


# --------------------------------------------------------------------------------------------- helpers
def upsert(ctx: ImportContext, table: Table) -> Any:
    """The dialect's INSERT that supports ``on_conflict_do_update``."""
    return postgresql.insert(table) if ctx.dialect == "postgresql" else sqlite.insert(table)


def live_rows(ctx: ImportContext) -> Any:
    return ctx.staging.c._rejected.is_(False)


def merge_upsert(
    ctx: ImportContext,
    target: Table,
    source: Select[Any],
    *,
    insert_columns: Sequence[str],
    conflict_columns: Sequence[str],
    update_columns: Sequence[str],
    existing: int,
    staged: int,
    fresh: bool | None = None,
) -> MergeCounts:
    """Upsert ``source`` into ``target``, touching only rows whose values actually change.

    ``fresh`` (by default ``existing == 0``): none of the staged keys was in ``target`` when counted, so a plain
    INSERT does, without ON CONFLICT's speculative insertion (PostgreSQL, 1M order lines: 26.6 s -> 24.5 s). If
    another import has added one of the keys since, its savepoint is undone and the upsert runs instead."""
    insert: Insert = upsert(ctx, target).from_select(list(insert_columns), source)
    if (existing == 0) if fresh is None else fresh:
        try:
            with ctx.connection.begin_nested():
                written = _write(ctx, target, insert)
            return MergeCounts(inserted=written, updated=0, unchanged=0)
        except IntegrityError:
            pass
    statement = insert
    excluded = statement.excluded  # type: ignore[attr-defined]
    if update_columns:
        changed = [target.c[name].is_distinct_from(excluded[name]) for name in update_columns]
        values: dict[str, Any] = {name: excluded[name] for name in update_columns}
        if "updated_at" in target.c:
            values["updated_at"] = excluded["updated_at"]
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=list(conflict_columns), set_=values, where=or_(*changed)
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))  # type: ignore[attr-defined]
    if ctx.dialect == "postgresql":
        # Which rows were inserted rather than updated comes from the statement itself (a row just inserted has
        # xmax 0), so keys another import committed between the count and now are still counted right.
        rows = statement.returning(literal_column("xmax = 0").label("inserted")).cte("written")
        inserted, written = ctx.connection.execute(
            select(func.count().filter(rows.c.inserted), func.count()).select_from(rows)
        ).one()
        if written:
            keep_statistics(ctx.connection, [target.name], written=written)
        return MergeCounts(inserted=inserted, updated=written - inserted, unchanged=max(staged - written, 0))
    # SQLite: the count and this statement ran under one write lock (BEGIN IMMEDIATE), so the count holds
    written = _write(ctx, target, statement)
    inserted = staged - existing
    updated = max(written - inserted, 0)
    return MergeCounts(inserted=inserted, updated=updated, unchanged=existing - updated)


def _write(ctx: ImportContext, target: Table, statement: Insert) -> int:
    """Runs a merge statement and returns how many rows it wrote."""
    # preserve_rowcount: SQLAlchemy 2.1 otherwise reports -1 for INSERT … SELECT on psycopg.
    written = int(ctx.connection.execute(statement.execution_options(preserve_rowcount=True)).rowcount)
    if written and ctx.dialect == "postgresql":
        keep_statistics(ctx.connection, [target.name], written=written)
    return written


def count(ctx: ImportContext, query: Select[Any]) -> int:
    return int(ctx.connection.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def duplicates_check(
    columns: Sequence[str], code: str = "import.duplicate_key"
) -> Callable[[ImportContext], list[RowError]]:
    """Rows whose key occurs more than once in the file: all are rejected, naming the first occurrence."""

    def check(ctx: ImportContext) -> list[RowError]:
        s = ctx.staging
        keys = [s.c[name] for name in columns]
        dupes = (
            select(*keys, func.min(s.c._line).label("first_line"))
            .where(live_rows(ctx))
            .group_by(*keys)
            .having(func.count() > 1)
            .subquery()
        )
        query = (
            select(s.c._line, dupes.c.first_line, *keys)
            .join(dupes, and_(*[s.c[name] == dupes.c[name] for name in columns]))
            .where(live_rows(ctx))
        )
        errors = []
        for row in ctx.connection.execute(query):
            key = " / ".join(str(row[2 + i]) for i in range(len(columns)))
            errors.append(RowError(row[0], columns[-1], code, {"key": key, "first_line": row[1]}))
        return errors

    return check


def reference_check(
    column: str, target: Table, code: str, *, optional: bool = False
) -> Callable[[ImportContext], list[RowError]]:
    """Rows whose ``column`` names an ``external_id`` that ``target`` does not hold in this workspace."""

    def check(ctx: ImportContext) -> list[RowError]:
        s = ctx.staging
        known = select(target.c.external_id).where(
            target.c.workspace_id == ctx.workspace_id, target.c.external_id == s.c[column]
        )
        query = select(s.c._line, s.c[column]).where(live_rows(ctx), ~known.exists())
        if optional:
            query = query.where(s.c[column].is_not(None))
        return [
            RowError(line, column, code, {"value": value}) for line, value in ctx.connection.execute(query)
        ]

    return check


def live_count(ctx: ImportContext) -> int:
    return count(ctx, select(ctx.staging.c._line).where(live_rows(ctx)))


def existing_count(ctx: ImportContext, target: Table, column: str = "external_id") -> int:
    """How many live staged rows already exist in ``target``: the basis for inserted/updated counts."""
    s = ctx.staging
    return count(
        ctx,
        select(s.c._line)
        .join(target, and_(target.c.workspace_id == ctx.workspace_id, target.c.external_id == s.c[column]))
        .where(live_rows(ctx)),
    )


# --------------------------------------------------------------------------------------------- engine
class _Rejects:
    """Rejected rows written next to the input, in a shape that can be fixed and imported again, in line order.

    Rows rejected while reading go to a ``.partial`` file beside it as they come; rows the set-wise checks reject
    later are merged in by line when the import finishes (``finish``), so memory does not grow with the rejects."""

    def __init__(self, path: Path | None, source: TabularSource, locale: str | None) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial") if path is not None else None
        self.source = source
        self.locale = locale
        self._handle: TextIO | None = None
        self._writer: Any = None
        self.count = 0

    @property
    def _is_csv(self) -> bool:
        return self.source.format != "jsonl"

    def _record(self, line: int, values: list[str], errors: list[RowError]) -> list[Any] | str:
        """One rejected row as the rejects file holds it: CSV cells, or a JSON line."""
        reason = join_statements(
            [
                translate("message.at", self.locale, place=e.column, message=e.message(self.locale))
                if e.column
                else e.message(self.locale)
                for e in errors
            ],
            self.locale,
        )
        if self._is_csv:
            limit = get_settings().import_max_cell_chars
            return [line, reason, *(value[:limit] for value in values)]
        raw = values[0] if len(values) == 1 and values[0].lstrip().startswith("{") else None
        record = json.loads(raw) if raw else {}
        if not isinstance(record, dict):
            record = {}
        return json.dumps({"_line": line, "_errors": reason, **record}, ensure_ascii=False) + "\n"

    def _open(self, path: Path) -> tuple[TextIO, Any]:
        handle = path.open("w", encoding="utf-8-sig" if self._is_csv else "utf-8", newline="")
        writer = None
        if self._is_csv:
            writer = SafeCsvWriter(handle)
            writer.writerow(["_line", "_errors", *self.source.header])
        return handle, writer

    def _put(self, handle: TextIO, writer: Any, record: list[Any] | str) -> None:
        if writer is not None:
            writer.writerow(record)
        else:
            handle.write(str(record))

    def write(self, line: int, values: list[str], errors: list[RowError]) -> None:
        """A row rejected while reading (rows come in line order)."""
        self.count += 1
        if self.partial is None:
            return
        if self._handle is None:
            self._handle, self._writer = self._open(self.partial)
        self._put(self._handle, self._writer, self._record(line, values, errors))

    def _written(self) -> Iterator[tuple[int, list[Any] | str]]:
        """The rows of the ``.partial`` file back, with their lines."""
        assert self.partial is not None
        with self.partial.open(encoding="utf-8-sig" if self._is_csv else "utf-8", newline="") as handle:
            if self._is_csv:
                rows = csv.reader(handle)
                next(rows)  # the header
                for row in rows:
                    yield int(row[0]), row
            else:
                for text in handle:
                    yield int(json.loads(text)["_line"]), text

    def finish(self, late: dict[int, list[RowError]]) -> None:
        """Merges the rows the set-wise checks rejected (``late``, by line) into the file, in line order; the rows
        themselves are copied from a second read of the input, only when there are any."""
        self.close()
        self.count += len(late)
        if self.path is None or self.partial is None:
            return
        if not late:
            if self.partial.exists():
                self.partial.replace(self.path)
            return
        source = self.source
        reopened = open_source(source.path, fmt=source.format, encoding=source.encoding, fast=False)
        with reopened:
            checked = (
                (row.line, self._record(row.line, row.values, late[row.line]))
                for row in reopened.rows()
                if row.line in late
            )
            earlier = self._written() if self.partial.exists() else iter(())
            handle, writer = self._open(self.path)
            with handle:
                for _, record in heapq.merge(earlier, checked, key=itemgetter(0)):
                    self._put(handle, writer, record)
        self.partial.unlink(missing_ok=True)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def discard(self) -> None:
        """The import failed: no rejects file, not even a partial one."""
        self.close()
        for path in (self.partial, self.path):
            if path is not None:
                path.unlink(missing_ok=True)


def default_rejects_path(path: Path, fmt: str) -> Path:
    suffix = ".rejects.jsonl" if fmt == "jsonl" else ".rejects.csv"
    return path.with_name(path.name.split(".")[0] + suffix)


def _sqlite_datetime(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")[:26]  # UTC, without its "+00:00"


def _sqlite_converter(column_type: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """How a staged column's values are written for sqlite3, or None when they go as they are.

    sqlite3's own datetime adapters are deprecated and differ from SQLAlchemy's storage format, which the
    merge compares against to detect unchanged rows; so write exactly SQLAlchemy's format."""
    if isinstance(column_type, UTCDateTime):
        return _sqlite_datetime
    if isinstance(column_type, Date):
        return date.isoformat
    return None


def _postgresql_type(column_type: TypeEngine[Any], dialect: Dialect) -> str:
    """The PostgreSQL type name a binary COPY needs for a column: ``VARCHAR(128)`` -> ``varchar``."""
    return column_type.compile(dialect=dialect).split("(")[0].strip().lower()


def _bulk_stage(
    connection: Connection, table: Table, names: list[str], lines: list[int], columns: list[list[Any]]
) -> None:
    """Write staged rows given column by column (``names`` after ``_line``)."""
    if not lines:
        return
    column_list = ", ".join(f'"{n}"' for n in ["_line", *names])
    raw: Any = connection.connection.driver_connection  # the transaction's own connection, below SQLAlchemy
    if connection.dialect.name == "postgresql":
        # Binary: no value is formatted as text and parsed back (1M order lines: 1.95 s -> 0.97 s)
        copying = f'COPY "{table.name}" ({column_list}) FROM STDIN (FORMAT BINARY)'
        with raw.cursor() as cursor, cursor.copy(copying) as copy:
            copy.set_types([_postgresql_type(table.c[n].type, connection.dialect) for n in ["_line", *names]])
            for row in zip(lines, *columns, strict=True):
                copy.write_row(row)
        return
    converted = []
    for name, values in zip(names, columns, strict=True):
        convert = _sqlite_converter(table.c[name].type)
        if convert is None:
            converted.append(values)
            continue
        # Each distinct value once: the lines of an order share its time (1.1 s -> 0.4 s per 1M lines).
        written = {value: convert(value) for value in set(values) if value is not None}
        converted.append(list(map(written.get, values)))
    placeholders = ", ".join("?" for _ in range(len(names) + 1))
    # rows streamed from the columns, never a list of a batch's tuples
    raw.executemany(
        f'INSERT INTO "{table.name}" ({column_list}) VALUES ({placeholders})',
        zip(lines, *converted, strict=True),
    )


def _map_header(spec: ImportSpec, header: list[str], path: Path) -> tuple[list[tuple[int, Field]], list[str]]:
    lookup: dict[str, Field] = {}
    for f in spec.fields:
        for alias in (f.name, *f.aliases):
            lookup[normalize_header(alias)] = f
    plan: list[tuple[int, Field]] = []
    seen: dict[str, int] = {}
    ignored: list[str] = []
    for index, raw_name in enumerate(header):
        name = normalize_header(raw_name)
        if not name or name.startswith("_"):
            continue
        matched = lookup.get(name)
        if matched is None:
            ignored.append(raw_name)
            continue
        if matched.name in seen:
            raise PatronError(
                "import.duplicate_column", file=str(path), column=matched.name, first=seen[matched.name] + 1,
                second=index + 1,
            )  # fmt: skip
        seen[matched.name] = index
        plan.append((index, matched))
    missing = [f.name for f in spec.fields if f.required and f.name not in seen]
    if missing:
        raise PatronError("import.missing_columns", file=str(path), columns=list(missing))
    return plan, ignored


def _staging_table(spec: ImportSpec) -> Table:
    metadata = MetaData()
    columns: list[Column[Any]] = [
        Column("_line", Integer, primary_key=True, autoincrement=False),
        Column("_rejected", Boolean, nullable=False, server_default=false()),  # not sent with each row
    ]
    # Every staged field gets a column, present in the file or not, so defaults have somewhere to go.
    columns += [Column(f.name, f.sql_type) for f in spec.fields if f.staged]
    columns += [column._copy() for column in spec.derived_columns()]
    # A name of its own per run, so two imports on one PostgreSQL connection pool never meet.
    return Table(f"_staging_{spec.kind}_{secrets.token_hex(4)}", metadata, *columns, prefixes=["TEMPORARY"])


class _CollectorPause:
    """Pauses Python's cyclic garbage collector while imports run, counting holders so that concurrent imports
    share one pause and the collector resumes after the last (and only if it was running before).

    Why: an import allocates millions of short-lived lists, tuples and strings, none in reference cycles,
    and the collector's generation passes over them cost 1.8 s of 5.5 s reading and parsing 1M order lines
    (a whole import on SQLite 17.3 s -> 14.6 s, docs/benchmarks.md). Plain reference counting still frees
    everything as it goes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._resume:
                    gc.enable()


collector_paused = _CollectorPause()


@contextmanager
def bulk_cache(connection: Connection) -> Iterator[None]:
    """A larger SQLite page cache while one import writes (256 MB, allocated only as used): the default 2 MB
    made inserting 1M order lines re-read index pages (merge 5.5 s -> 4.5 s, docs/benchmarks.md)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql(f"PRAGMA cache_size = {BULK_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


def run_import(
    engine: Engine,
    spec: ImportSpec,
    path: Path,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    rejects_path: Path | bool | None = True,
    locale: str | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import ``path`` into ``spec.workspace``. Raises PatronError for whole-file problems; row problems are
    reported and written to the rejects file (``rejects_path=True`` puts it next to the input)."""
    attempt = functools.partial(
        _import_once, engine, path=path, fmt=fmt, encoding=encoding, rejects_path=rejects_path, locale=locale,
        progress=progress,
    )  # fmt: skip
    try:
        return attempt(spec, fast=True)
    except ArrowReaderGaveUp:
        # pyarrow stopped part-way (a row of another width, bytes that are not UTF-8). Nothing was kept — the
        # import is one transaction — so it runs again, reading rows, with a spec that has seen nothing.
        return attempt(type(spec)(spec.workspace), fast=False)


def _import_once(
    engine: Engine,
    spec: ImportSpec,
    *,
    path: Path,
    fmt: str | None,
    encoding: str | None,
    rejects_path: Path | bool | None,
    locale: str | None,
    progress: ProgressCallback | None,
    fast: bool,
) -> ImportReport:
    with open_source(path, fmt=fmt, encoding=encoding, fast=fast) as source:
        plan, ignored = _map_header(spec, source.header, path)
        target: Path | None
        if rejects_path is True:
            target = default_rejects_path(path, source.format)
            if not os.access(target.parent, os.W_OK):
                raise PatronError("import.rejects_not_writable", file=str(target))
        else:
            target = rejects_path or None
        report = ImportReport(spec.kind, str(path), source.format, source.encoding, ignored_columns=ignored)
        rejects = _Rejects(target, source, locale)
        try:
            with (
                collector_paused(),
                engine.connect() as connection,
                connection.begin(),
                bulk_cache(connection),
            ):
                _stage_and_merge(connection, spec, source, plan, report, rejects, progress)
        except BaseException:
            rejects.discard()
            raise
        if rejects.count == 0 and target is not None and target.exists():
            target.unlink()  # a stale rejects file from an earlier run would mislead
        report.rejected = rejects.count
        report.rejects_file = str(target) if rejects.count and target is not None else None
        return report


def _parse_column(
    f: Field, cells: Sequence[str], encoding: str | None, max_chars: int
) -> tuple[list[Any], dict[str, Any]]:
    """Parsed values of one column and the problem of each cell value that failed, parsing each distinct
    value once (parsers are pure functions of the cell). A NUL character is refused here, wherever it is in
    the file: SQLite stored it and PostgreSQL's COPY failed on it (issue 18)."""
    parsed: dict[str, Any] = {}
    failed: dict[str, tuple[str, dict[str, Any]]] = {}
    for cell in dict.fromkeys(cells):
        parsed[cell] = None
        if REPLACEMENT in cell:
            failed[cell] = ("import.bad_bytes", {"encoding": encoding})
        elif "\x00" in cell:
            failed[cell] = ("import.nul_character", {"position": cell.index("\x00") + 1})
        elif len(cell) > max_chars:
            failed[cell] = ("import.cell_too_long", {"length": len(cell), "limit": max_chars})
        elif not cell.strip():
            if f.required:
                failed[cell] = ("import.required", {})
        else:
            try:
                parsed[cell] = f.parse(cell)
            except FieldProblem as problem:
                failed[cell] = (problem.code, problem.params)
    return list(map(parsed.__getitem__, cells)), failed


def _parse_batch(
    spec: ImportSpec, plan: list[tuple[int, Field]], raw: RawBatch, width: int, encoding: str | None
) -> ParsedBatch:
    batch = ParsedBatch(raw.lines)
    for index, (code, params) in (raw.problems or {}).items():  # rows the reader itself refused
        batch.reject(index, None, code, params)
    for index, row_cells in enumerate(raw.rows or ()):  # only a row reader can meet these
        if index in batch.problems:
            continue
        if row_cells and row_cells[0].startswith("\x00json:"):
            batch.reject(index, None, "import.bad_json", {"reason": row_cells[0][6:]})
        elif len(row_cells) > width and any(v.strip() for v in row_cells[width:]):
            batch.reject(index, None, "import.too_many_cells", {"expected": width, "found": len(row_cells)})
    unreadable = set(batch.problems)  # rows whose cells are not judged one by one
    max_chars = get_settings().import_max_cell_chars
    for index, f in plan:
        cells = raw.columns[index]
        values, failed = _parse_column(f, cells, encoding, max_chars)
        if failed:
            for row, cell in enumerate(cells):
                if cell in failed and row not in unreadable:
                    batch.reject(row, f.name, *failed[cell])
        batch.columns[f.name] = values
    for f in spec.fields:
        batch.columns.setdefault(f.name, [None] * len(raw.lines))
    for row in unreadable:
        for name, values in batch.columns.items():
            if name != spec.group_column:  # its group falls with it, as far as that cell can be read
                values[row] = None
    spec.finish_rows(batch)
    return batch


def _stage_and_merge(
    connection: Connection,
    spec: ImportSpec,
    source: TabularSource,
    plan: list[tuple[int, Field]],
    report: ImportReport,
    rejects: _Rejects,
    progress: ProgressCallback | None,
) -> None:
    staging = _staging_table(spec)
    staging.create(connection)
    ctx = ImportContext(
        connection, spec.workspace.id, spec.workspace, staging, frozenset(f.name for _, f in plan)
    )
    names = [*(f.name for f in spec.fields if f.staged), *(c.name for c in spec.derived_columns())]
    bad_groups: dict[Any, int] = {}
    for raw in source.batches(BATCH_ROWS):
        report.rows_read += len(raw.lines)
        batch = _parse_batch(spec, plan, raw, len(source.header), source.encoding)
        for index, problems in sorted(batch.problems.items()):
            line = batch.lines[index]
            errors = [RowError(line, column, code, params) for column, code, params in problems]
            for error in errors:
                report.add_error(error)
            rejects.write(line, raw.cells(index), errors)
            group = batch.columns[spec.group_column][index] if spec.group_column else None
            if group is not None:
                bad_groups.setdefault(group, line)
        kept = batch.accepted()
        if len(kept) == len(batch.lines):
            _bulk_stage(connection, staging, names, batch.lines, [batch.columns[n] for n in names])
        else:
            _bulk_stage(
                connection, staging, names, [batch.lines[i] for i in kept],
                [[batch.columns[n][i] for i in kept] for n in names],
            )  # fmt: skip
        if progress:
            progress(source.bytes_read(), source.size)
    if progress:
        progress(source.size, source.size)

    spec.finish_staged(ctx)
    indexed = [spec.unique_key] if spec.unique_key else []
    if spec.group_column and spec.unique_key[:1] != (spec.group_column,):  # orders: the key starts with it
        indexed.append((spec.group_column,))
    for columns in indexed:
        Index(f"ix{staging.name}_{'_'.join(columns)}", *(staging.c[c] for c in columns)).create(connection)
    # autovacuum never analyses temporary tables; the planner needs their size
    if ctx.dialect == "postgresql":
        connection.exec_driver_sql(f'ANALYZE "{staging.name}"')
    late: dict[int, list[RowError]] = {}
    checks = [*([duplicates_check(spec.unique_key)] if spec.unique_key else []), *spec.checks(ctx)]
    for check in checks:
        _mark_rejected(ctx, check(ctx), late, report)
    if spec.group_column is not None:
        _mark_rejected(ctx, _group_cascade(ctx, spec.group_column, bad_groups, late), late, report)
    counts = spec.merge(ctx)
    report.inserted, report.updated, report.unchanged, report.removed = (
        counts.inserted,
        counts.updated,
        counts.unchanged,
        counts.removed,
    )
    rejects.finish(late)  # in the transaction: if it fails, nothing lands
    report.sort_errors()
    staging.drop(connection)


def _mark_rejected(
    ctx: ImportContext, errors: list[RowError], late: dict[int, list[RowError]], report: ImportReport
) -> None:
    if not errors:
        return
    lines = sorted({e.line for e in errors})
    for error in errors:
        report.add_error(error)
        late.setdefault(error.line, []).append(error)
    s = ctx.staging
    for start in range(0, len(lines), 5_000):
        chunk = lines[start : start + 5_000]
        ctx.connection.execute(s.update().where(s.c._line.in_(chunk)).values(_rejected=True))


def _group_cascade(
    ctx: ImportContext, column: str, bad_groups: dict[str, int], late: dict[int, list[RowError]]
) -> list[RowError]:
    """Every still-live row of a group that lost a row is rejected too, so no order lands half-imported."""
    s = ctx.staging
    failed: dict[Any, int] = dict(bad_groups)
    rejected_lines = sorted(late)
    for start in range(0, len(rejected_lines), 5_000):
        chunk = rejected_lines[start : start + 5_000]
        for group, line in ctx.connection.execute(select(s.c[column], s.c._line).where(s.c._line.in_(chunk))):
            failed[group] = min(failed.get(group, line), line)  # the message names the group's first bad line
    if not failed:
        return []
    errors: list[RowError] = []
    keys = list(failed)
    for start in range(0, len(keys), 5_000):
        chunk = keys[start : start + 5_000]
        query = select(s.c._line, s.c[column]).where(s.c[column].in_(chunk), live_rows(ctx))
        for line, group in ctx.connection.execute(query):
            errors.append(
                RowError(line, column, "import.group_rejected", {"group": group, "line": failed[group]})
            )
    return errors


def import_timestamp() -> Any:
    """The import's timestamp as a bound value typed for the target column."""
    return literal(utcnow(), UTCDateTime())
