"""Feedback: storing items from every channel with their analysis copy, survey comments as items, analysis
(sentiment per item, themes per clause with that clause's sentiment), the workspace's taxonomy, and the figures
the CLI, the API and the Feedback page show. Definitions: docs/feedback.md."""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeAlias, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, and_, bindparam, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patron.core import groupcommit
from patron.core.clock import as_utc, today_in, utcnow
from patron.core.db import (
    get_read_engine,
    keep_statistics,
    pipeline_insert,
    pipelined,
    session_factory,
    transaction,
)
from patron.core.documents import read_document
from patron.core.errors import PatronError
from patron.core.parsing import FieldProblem
from patron.core.parsing import email as parse_email
from patron.core.parsing import phone as parse_phone
from patron.customers.models import Customer
from patron.feedback.models import Channel, FeedbackItem, FeedbackMention, FeedbackTaxonomy
from patron.feedback.schemas import (
    AnalyzeReport,
    ChannelFigures,
    FeedbackCreate,
    FeedbackPage,
    FeedbackRead,
    MentionRead,
    StoredItem,
    ThemeFigures,
)
from patron.feedback.taxonomy import Taxonomy, parse_taxonomy, shipped_taxonomy, shipped_yaml
from patron.social.matching import match_items, match_new_items
from patron.surveys.models import Survey, SurveyAnswer, SurveyResponse
from patron.text.normalise import detect_language, normalise
from patron.text.pii import mask
from patron.text.sentiment import label_of, shipped_model, split_clauses

ANALYZE_BATCH = 2000
LANGUAGE_SAMPLE = 2000
SENTIMENTS = ("positive", "neutral", "negative")


# ------------------------------------------------------------------------------------------ the analysis copy
@dataclass(frozen=True)
class Copies:
    masked: str
    analysis: str
    language: str


def copies(text: str) -> Copies:
    """The masked copy (original script, personal data replaced) and the analysis copy (masked, NFC,
    width-folded, Simplified, white space collapsed), and the detected language."""
    masked = mask(text)
    return Copies(masked, normalise(masked), detect_language(masked[:LANGUAGE_SAMPLE]))


def fingerprint(*parts: Any) -> str:
    joined = "|".join("" if part is None else str(part) for part in parts)
    return "fp:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()[:40]


def source_key(item: FeedbackCreate) -> str:
    """What makes a retry store nothing new: the client's key, else the source's own id, else the row itself."""
    if item.client_key:
        return f"key:{item.client_key}"
    if item.source_id:
        return f"src:{item.channel.value}:{item.source}:{item.source_id}"
    return fingerprint(item.channel.value, item.source, item.occurred_at.isoformat(), item.author, item.text)


# ------------------------------------------------------------------------------------------------- storing
def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(FeedbackItem)


def _customer_ids(session: Session, workspace_id: int, items: Sequence[FeedbackCreate]) -> list[int | None]:
    """Each item's customer: by your customer id, else by e-mail, else by phone (as the customers import stores
    them). An id that names no customer is a 404; an e-mail or phone that matches none leaves the item unlinked."""
    refs = {item.customer_id for item in items if item.customer_id}
    emails: dict[int, str] = {}
    phones: dict[int, str] = {}
    for index, item in enumerate(items):
        try:
            if item.email:
                emails[index] = parse_email(item.email)
            if item.phone:
                phones[index] = parse_phone(item.phone)
        except FieldProblem as problem:
            raise PatronError(problem.code, status=422, **problem.params) from None
    found: dict[tuple[str, str], int] = {}
    conditions = []
    if refs:
        conditions.append(Customer.external_id.in_(refs))
    if emails:
        conditions.append(Customer.email.in_(set(emails.values())))
    if phones:
        conditions.append(Customer.phone.in_(set(phones.values())))
    if conditions:
        rows = session.execute(
            select(Customer.id, Customer.external_id, Customer.email, Customer.phone).where(
                Customer.workspace_id == workspace_id, or_(*conditions)
            )
        )
        for customer_id, external_id, mail, phone in rows:
            found[("id", external_id)] = customer_id
            if mail:
                found.setdefault(("email", mail), customer_id)
            if phone:
                found.setdefault(("phone", phone), customer_id)
    result: list[int | None] = []
    for index, item in enumerate(items):
        if item.customer_id:
            if ("id", item.customer_id) not in found:
                raise PatronError("customer.not_found", status=404, external_id=item.customer_id)
            result.append(found[("id", item.customer_id)])
        elif index in emails and ("email", emails[index]) in found:
            result.append(found[("email", emails[index])])
        elif index in phones and ("phone", phones[index]) in found:
            result.append(found[("phone", phones[index])])
        else:
            result.append(None)
    return result


def check_text(text: str) -> None:
    if not text.strip():
        raise PatronError("feedback.empty_text", status=422)
    if "\x00" in text:
        raise PatronError("feedback.bad_text", status=422)


def add_items(session: Session, *, workspace_id: int, items: Sequence[FeedbackCreate]) -> list[StoredItem]:
    """Store items (with their masked and analysis copies) analysed as they arrive: their sentiment and themes
    with the taxonomy in force, set-wise (the model scores every text of the call at once; one insert of the
    items, one of their mentions). An item already stored under its key is left as it was and answered with
    ``created`` false."""
    for item in items:
        check_text(item.text)
    customers = _customer_ids(session, workspace_id, items)
    keys = [source_key(item) for item in items]
    existing = set(
        session.scalars(
            select(FeedbackItem.source_key).where(
                FeedbackItem.workspace_id == workspace_id, FeedbackItem.source_key.in_(set(keys))
            )
        )
    )
    rows: dict[str, dict[str, Any]] = {}
    now = utcnow()
    for item, key, customer in zip(items, keys, customers, strict=True):
        if key in existing or key in rows:
            continue
        made = copies(item.text)
        rows[key] = {
            "workspace_id": workspace_id, "source_key": key, "channel": item.channel.value, "source": item.source,
            "source_id": item.source_id, "occurred_at": item.occurred_at, "author": item.author,
            "customer_id": customer, "rating": item.rating, "reply_to": item.reply_to, "survey_answer_id": None,
            "text": item.text, "masked_text": made.masked, "analysis_text": made.analysis, "language": made.language,
            "created_at": now, "updated_at": now,
        }  # fmt: skip
    inserted: dict[str, int] = {}
    analyses: dict[str, Analysis] = {}
    if rows:
        taxonomy = current_taxonomy(session, workspace_id)
        for (key, row), analysis in zip(
            rows.items(),
            analyse_texts(taxonomy, [row["analysis_text"] for row in rows.values()]),
            strict=True,
        ):
            row.update(
                sentiment=analysis.sentiment, sentiment_score=analysis.score, analyzed_with=taxonomy.tag
            )
            analyses[key] = analysis
        # RETURNING names the rows this call wrote: a concurrent writer's row under the same key gets no
        # mentions from here (it has its own).
        inserted = dict(
            session.execute(
                _insert(session)
                .values(list(rows.values()))
                .on_conflict_do_nothing(index_elements=["workspace_id", "source_key"])
                .returning(FeedbackItem.source_key, FeedbackItem.id)
            ).all()
        )
        mentions = [
            mention
            for key, item_id in inserted.items()
            for mention in mention_rows(workspace_id, item_id, rows[key], analyses[key])
        ]
        if mentions:
            session.execute(insert(FeedbackMention), mentions)
    found = session.execute(
        select(FeedbackItem.source_key, FeedbackItem.id).where(
            FeedbackItem.workspace_id == workspace_id, FeedbackItem.source_key.in_(set(keys))
        )
    )
    ids: dict[str, int] = dict(found.all())
    seen: set[str] = set()
    stored = []
    for key in keys:
        stored.append(StoredItem(id=ids[key], source_key=key, created=key in inserted and key not in seen))
        seen.add(key)
    # Tracked social terms are matched as items arrive (docs/social.md).
    match_items(session, workspace_id=workspace_id, item_ids=list(inserted.values()))
    return stored


def sync_survey_comments(
    session: Session,
    *,
    workspace_id: int,
    response_ids: Sequence[int] | None = None,
    batch: int = ANALYZE_BATCH,
) -> int:
    """Survey comments (answers to text questions) not yet items become items: channel ``survey``, source the
    survey's key, the response's customer and completion time. Only those of ``response_ids`` when given (a
    response as it completes). Safe to run twice or at once (keyed by answer)."""
    added = 0
    last_id = 0
    only = [SurveyAnswer.response_id.in_(response_ids)] if response_ids is not None else []
    while True:
        rows = session.execute(
            select(SurveyAnswer.id, SurveyAnswer.text, SurveyResponse.id, SurveyResponse.customer_id,
                   func.coalesce(SurveyResponse.completed_at, SurveyResponse.started_at), Survey.key)
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .join(Survey, Survey.id == SurveyAnswer.survey_id)
            .outerjoin(FeedbackItem, and_(FeedbackItem.workspace_id == workspace_id,
                                          FeedbackItem.survey_answer_id == SurveyAnswer.id))
            .where(SurveyAnswer.workspace_id == workspace_id, SurveyAnswer.question_type == "text",
                   SurveyAnswer.text.is_not(None), SurveyAnswer.id > last_id, FeedbackItem.id.is_(None), *only)
            .order_by(SurveyAnswer.id)
            .limit(batch)
        ).all()  # fmt: skip
        if not rows:
            return added
        now = utcnow()
        values = []
        for answer_id, text, response_id, customer_id, occurred_at, survey_key in rows:
            last_id = answer_id
            if not (text or "").strip():
                continue
            made = copies(str(text))
            values.append({
                "workspace_id": workspace_id, "source_key": f"answer:{answer_id}", "channel": Channel.SURVEY.value,
                "source": survey_key, "source_id": str(response_id), "occurred_at": occurred_at, "author": None,
                "customer_id": customer_id, "rating": None, "reply_to": None, "survey_answer_id": answer_id,
                "text": text, "masked_text": made.masked, "analysis_text": made.analysis,
                "language": made.language, "created_at": now, "updated_at": now,
            })  # fmt: skip
        if values:
            result = cast(
                CursorResult[Any],
                session.execute(
                    _insert(session)
                    .values(values)
                    .on_conflict_do_nothing(index_elements=["workspace_id", "source_key"])
                    .execution_options(preserve_rowcount=True)
                ),
            )
            added += max(int(result.rowcount), 0)


_RESPONSE_COMMENTS = (
    select(SurveyAnswer.id, SurveyAnswer.response_id, SurveyAnswer.text, SurveyResponse.customer_id)
    .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
    .where(
        SurveyAnswer.response_id.in_(bindparam("response_ids", expanding=True)),
        SurveyAnswer.question_type == "text",
        SurveyAnswer.text.is_not(None),
    )
    .order_by(SurveyAnswer.id)
)
#: SQLite's insert of comment items; PostgreSQL's is ``_PG_COMMENT_ITEM_INSERT``.
_SQLITE_ITEM_INSERT = (
    sqlite.insert(FeedbackItem)
    .on_conflict_do_nothing(index_elements=["workspace_id", "source_key"])
    .returning(FeedbackItem.source_key, FeedbackItem.id)
)
#: The columns ``_comment_items`` gives, for PostgreSQL's one-row statement run for many (``core.db.pipelined``).
_COMMENT_ITEM_COLUMNS = ("workspace_id", "source_key", "channel", "source", "source_id", "occurred_at", "author",
                         "customer_id", "rating", "reply_to", "survey_answer_id", "text", "masked_text",
                         "analysis_text", "language", "sentiment", "sentiment_score", "analyzed_with", "created_at",
                         "updated_at")  # fmt: skip
_PG_COMMENT_ITEM_INSERT = (
    pipeline_insert("feedback_items", _COMMENT_ITEM_COLUMNS)
    + " ON CONFLICT (workspace_id, source_key) DO NOTHING RETURNING source_key, id"
)


@dataclass(frozen=True)
class CompletedResponse:
    """A response that just completed, whose comments become items."""

    workspace_id: int
    response_id: int
    survey_key: str
    occurred_at: datetime


def add_response_comments(session: Session, responses: Sequence[CompletedResponse]) -> int:
    """The comments of responses that just completed, as analysed items (what ``sync_survey_comments`` and
    ``analyze`` do, on the ingest path), set-wise for many responses: one query for all their comments, the
    model once for all the texts of a workspace, one insert of the items (RETURNING their ids), one of their
    theme mentions. Answers the items written."""
    return _store_comment_items(session, *_comment_items(session, responses))


def comments_arrived(session: Session, responses: Sequence[CompletedResponse]) -> None:
    """Responses that just completed, from the survey ingest path: their comments become analysed items after
    the group commit that holds them (``analyse_arrived_comments``), off the reply's path; anywhere else (a form,
    the CLI) at once, in the same transaction."""
    groupcommit.after_commit(session, analyse_arrived_comments, responses, inline=add_response_comments)


def analyse_arrived_comments(responses: list[CompletedResponse]) -> int:
    """``add_response_comments`` in transactions of its own: reading and analysing outside the write, so that on
    SQLite the writer lock is held for the inserts only. Items already written (a retry, a catch-up) are skipped
    by their key."""
    with session_factory(get_read_engine())() as reader, reader.begin():
        made = _comment_items(reader, responses)
    with transaction() as session:
        return _store_comment_items(session, *made)


def warm_up() -> None:
    """Load the sentiment model, the shipped taxonomy and OpenCC's tables now (a server's start), so the first
    comment after a start does not wait for them."""
    analyse_texts(shipped_taxonomy(), [copies("預熱，预热 warm").analysis])


def catch_up() -> int:
    """Survey comments stored but never itemised (a crash between a group's commit and its after-commit
    analysis) and items never analysed, in every workspace, brought up to date; run when the server starts.
    Looked for outside the writer (on SQLite), then one transaction per workspace that has any. Answers the
    items added."""
    with session_factory(get_read_engine())() as reader, reader.begin():
        missing = reader.scalars(
            select(SurveyAnswer.workspace_id)
            .outerjoin(FeedbackItem, FeedbackItem.survey_answer_id == SurveyAnswer.id)
            .where(
                SurveyAnswer.question_type == "text",
                SurveyAnswer.text.is_not(None),
                FeedbackItem.id.is_(None),
            )
            .distinct()
        ).all()
        unanalysed = reader.scalars(
            select(FeedbackItem.workspace_id).where(FeedbackItem.analyzed_with.is_(None)).distinct()
        ).all()
    added = 0
    for workspace_id in sorted({*missing, *unanalysed}):
        with transaction() as session:
            added += analyze(session, workspace_id=workspace_id, unanalysed_only=True).survey_comments_added
    return added


_Made: TypeAlias = "tuple[list[dict[str, Any]], dict[str, Analysis]]"


def _comment_items(session: Session, responses: Sequence[CompletedResponse]) -> _Made:
    """The items ``responses``' comments become, with their analyses (nothing written)."""
    if not responses:
        return [], {}
    by_id = {response.response_id: response for response in responses}
    rows = session.connection().execute(_RESPONSE_COMMENTS, {"response_ids": list(by_id)}).all()
    values: list[dict[str, Any]] = []
    now = utcnow()
    for answer_id, response_id, text, customer_id in rows:
        if not (text or "").strip():
            continue
        response = by_id[response_id]
        made = copies(str(text))
        values.append({
            "workspace_id": response.workspace_id, "source_key": f"answer:{answer_id}",
            "channel": Channel.SURVEY.value, "source": response.survey_key, "source_id": str(response_id),
            "occurred_at": response.occurred_at, "author": None, "customer_id": customer_id, "rating": None,
            "reply_to": None, "survey_answer_id": answer_id, "text": text, "masked_text": made.masked,
            "analysis_text": made.analysis, "language": made.language, "sentiment": None, "sentiment_score": None,
            "analyzed_with": None, "created_at": now, "updated_at": now,
        })  # fmt: skip
    analyses: dict[str, Analysis] = {}
    for workspace_id in {row["workspace_id"] for row in values}:
        taxonomy = current_taxonomy(session, workspace_id)
        mine = [row for row in values if row["workspace_id"] == workspace_id]
        for row, analysis in zip(
            mine, analyse_texts(taxonomy, [r["analysis_text"] for r in mine]), strict=True
        ):
            row.update(
                sentiment=analysis.sentiment, sentiment_score=analysis.score, analyzed_with=taxonomy.tag
            )
            analyses[row["source_key"]] = analysis
    return values, analyses


def _store_comment_items(
    session: Session, values: list[dict[str, Any]], analyses: dict[str, Analysis]
) -> int:
    if not values:
        return 0
    connection = session.connection()
    # Answer ids are unique across workspaces, so the key names the row.
    if connection.dialect.name == "postgresql":
        (rows,) = pipelined(connection, [(_PG_COMMENT_ITEM_INSERT, values)], many=True, returning=True)
        inserted: dict[str, int] = dict(rows)
    else:
        inserted = dict(connection.execute(_SQLITE_ITEM_INSERT, values).all())
    keep_statistics(connection, ("feedback_items",))  # before the mentions' foreign key checks read it
    by_key = {row["source_key"]: row for row in values}
    mentions = [
        mention
        for key, item_id in inserted.items()
        for mention in mention_rows(by_key[key]["workspace_id"], item_id, by_key[key], analyses[key])
    ]
    if mentions:
        connection.execute(_MENTION_INSERT, mentions)
    for workspace_id in {row["workspace_id"] for row in values}:
        match_new_items(session, workspace_id=workspace_id, items=[
            (item_id, by_key[key]["analysis_text"], by_key[key]["occurred_at"], Channel.SURVEY.value)
            for key, item_id in inserted.items() if by_key[key]["workspace_id"] == workspace_id
        ])  # fmt: skip
    return len(inserted)


# ------------------------------------------------------------------------------------------------ taxonomy
@lru_cache(maxsize=64)
def _parsed(raw: str, version: int) -> Taxonomy:
    parsed = parse_taxonomy(raw, source=f"workspace taxonomy {version}", origin="workspace")
    return Taxonomy(version, "workspace", parsed.themes, parsed.document)


def current_taxonomy(session: Session, workspace_id: int) -> Taxonomy:
    """The workspace's newest own version, or the shipped taxonomy."""
    row = session.execute(
        select(FeedbackTaxonomy.source, FeedbackTaxonomy.version)
        .where(FeedbackTaxonomy.workspace_id == workspace_id)
        .order_by(FeedbackTaxonomy.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return shipped_taxonomy()
    return _parsed(row[0], row[1])


def taxonomy_source(session: Session, workspace_id: int) -> str:
    """The YAML of the taxonomy in force, as written."""
    source = session.scalar(
        select(FeedbackTaxonomy.source)
        .where(FeedbackTaxonomy.workspace_id == workspace_id)
        .order_by(FeedbackTaxonomy.version.desc())
        .limit(1)
    )
    return shipped_yaml() if source is None else str(source)


def set_taxonomy(session: Session, *, workspace_id: int, raw: str, source: str, actor: str) -> Taxonomy:
    """A new version of the workspace's taxonomy (refused whole, with the line, if anything is wrong). Items are
    re-analysed with it by the next ``analyze``."""
    parsed = parse_taxonomy(raw, source=source)
    latest = session.scalar(
        select(func.max(FeedbackTaxonomy.version)).where(FeedbackTaxonomy.workspace_id == workspace_id)
    )
    version = int(latest or 0) + 1
    session.add(FeedbackTaxonomy(workspace_id=workspace_id, version=version, source=raw,
                                 document=parsed.document, created_at=utcnow(), created_by=actor[:200]))  # fmt: skip
    session.flush()
    return _parsed(raw, version)


def read_taxonomy_file(path: Path) -> str:
    """A taxonomy file's text; a missing or non-UTF-8 file is a named refusal."""
    try:
        return read_document(path)
    except FileNotFoundError:
        raise PatronError("feedback.taxonomy_file_missing", path=str(path)) from None
    except UnicodeDecodeError:
        raise PatronError("feedback.taxonomy_syntax", source=path.name, line=1) from None


# ------------------------------------------------------------------------------------------------ analysis
@dataclass(frozen=True)
class Mention:
    theme: str
    clause: int
    sentiment: str
    score: float


def clause_mentions(taxonomy: Taxonomy, clauses: Sequence[str], scores: Sequence[float]) -> list[Mention]:
    """The themes of one item, each with the sentiment of the clauses that mention it.

    A clause's sentiment for a theme is the theme's own opinion word when the clause has one (``cold`` for food),
    else the model's label for the clause. A theme mentioned in several clauses takes their common label, or
    neutral when they disagree; its score is the mean of the clauses' model scores."""
    by_theme: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    themes = taxonomy.by_key()
    for index, (clause, score) in enumerate(zip(clauses, scores, strict=True)):
        lowered = clause.lower()
        for key in taxonomy.themes_of(lowered):
            label = themes[key].cue(lowered) or label_of(score)
            by_theme[key].append((index, label, score))
    mentions = []
    for key, found in by_theme.items():
        labels = {label for _, label, _ in found}
        label = labels.pop() if len(labels) == 1 else "neutral"
        mentions.append(Mention(key, found[0][0], label, sum(s for _, _, s in found) / len(found)))
    return mentions


@dataclass(frozen=True)
class Analysis:
    """An item's overall sentiment (label and the model's score) and its themes with their own sentiment."""

    sentiment: str
    score: float
    mentions: list[Mention]


def analyse_texts(taxonomy: Taxonomy, texts: Sequence[str]) -> list[Analysis]:
    """Each analysis copy's sentiment and themes, set-wise: the model scores all the texts in one call and all
    their clauses in another (tens of thousands of short texts a second, docs/text.md)."""
    if not texts:
        return []
    model = shipped_model()
    probabilities, silent = model.assess(texts)
    overall = probabilities.tolist()
    clause_lists = [split_clauses(text) for text in texts]
    clause_scores = model.clause_probabilities(clause_lists, silent.tolist())
    analyses = []
    for clauses, scores, probability in zip(clause_lists, clause_scores, overall, strict=True):
        analyses.append(
            Analysis(label_of(probability), probability, clause_mentions(taxonomy, clauses, scores))
        )
    return analyses


def mention_rows(
    workspace_id: int, item_id: int, item: dict[str, Any], analysis: Analysis
) -> list[dict[str, Any]]:
    """The ``feedback_mentions`` rows of one item (``item`` has its ``occurred_at`` and ``channel``)."""
    return [
        {"workspace_id": workspace_id, "item_id": item_id, "theme": mention.theme, "clause": mention.clause,
         "sentiment": mention.sentiment, "score": mention.score, "occurred_at": item["occurred_at"],
         "channel": item["channel"]}
        for mention in analysis.mentions
    ]  # fmt: skip


_MENTION_INSERT = insert(FeedbackMention)


def analyze(
    session: Session,
    *,
    workspace_id: int,
    batch: int = ANALYZE_BATCH,
    survey_comments: bool = True,
    unanalysed_only: bool = False,
) -> AnalyzeReport:
    """Bring every item up to date: survey comments not yet items become items; items never analysed, or analysed
    with another taxonomy version, get their sentiment and themes. Safe to run twice; work goes in batches so
    memory stays bounded. An import runs it with neither the survey comments nor items of an older taxonomy:
    only what it stored or changed (``analyzed_with`` empty)."""
    added = sync_survey_comments(session, workspace_id=workspace_id) if survey_comments else 0
    taxonomy = current_taxonomy(session, workspace_id)
    analysed = mentions_written = 0
    last_id = 0
    stale = (
        FeedbackItem.analyzed_with.is_(None)
        if unanalysed_only
        else or_(FeedbackItem.analyzed_with.is_(None), FeedbackItem.analyzed_with != taxonomy.tag)
    )
    while True:
        rows = session.execute(
            select(
                FeedbackItem.id, FeedbackItem.analysis_text, FeedbackItem.occurred_at, FeedbackItem.channel
            )
            .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.id > last_id, stale)
            .order_by(FeedbackItem.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        last_id = rows[-1][0]
        ids = [row[0] for row in rows]
        # By item id alone (the ids were read in this workspace; a mention's item is its workspace's): with the
        # workspace in the condition too, PostgreSQL planned a bitmap AND over the (workspace, theme, time) index,
        # reading every mention written so far in each batch — quadratic on a first bulk analysis (bench/text.py).
        session.execute(delete(FeedbackMention).where(FeedbackMention.item_id.in_(ids)))
        new_mentions: list[dict[str, Any]] = []
        analysed_rows: list[dict[str, Any]] = []
        for (item_id, _, occurred_at, channel), analysis in zip(
            rows, analyse_texts(taxonomy, [row[1] for row in rows]), strict=True
        ):
            new_mentions.extend(
                mention_rows(
                    workspace_id, item_id, {"occurred_at": occurred_at, "channel": channel}, analysis
                )
            )
            analysed_rows.append({"id": item_id, "sentiment": analysis.sentiment,
                                  "sentiment_score": analysis.score, "analyzed_with": taxonomy.tag})  # fmt: skip
        # One executemany by primary key per batch (a statement per item took most of a re-analysis).
        session.execute(update(FeedbackItem), analysed_rows)
        if new_mentions:
            session.execute(_MENTION_INSERT, new_mentions)
        match_items(session, workspace_id=workspace_id, item_ids=ids)
        analysed += len(rows)
        mentions_written += len(new_mentions)
    return AnalyzeReport(
        taxonomy=taxonomy.tag, survey_comments_added=added, analysed=analysed, mentions=mentions_written
    )


# ----------------------------------------------------------------------------------------------- figures
def _shares(positive: int, neutral: int, negative: int) -> tuple[int, float | None, float | None]:
    total = positive + neutral + negative
    if not total:
        return 0, None, None
    return total, positive / total, negative / total


def theme_figures(
    session: Session,
    *,
    workspace_id: int,
    since: datetime,
    until: datetime,
    locale: str,
    channel: str | None = None,
    segment: str | None = None,
) -> list[ThemeFigures]:
    """Per theme of the current taxonomy, over items from ``since`` (inclusive) to ``until`` (exclusive): items
    mentioning it, and how many of those mentions are positive, neutral and negative. Themes no item mentions
    are listed with zeros; the list runs from most mentioned down (then by the taxonomy's order)."""
    taxonomy = current_taxonomy(session, workspace_id)
    query = (
        select(FeedbackMention.theme, FeedbackMention.sentiment, func.count())
        .where(FeedbackMention.workspace_id == workspace_id, FeedbackMention.occurred_at >= since,
               FeedbackMention.occurred_at < until)
        .group_by(FeedbackMention.theme, FeedbackMention.sentiment)
    )  # fmt: skip
    if channel:
        query = query.where(FeedbackMention.channel == channel)
    if segment:
        query = query.where(FeedbackMention.item_id.in_(_segment_items(workspace_id, segment)))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SENTIMENTS, 0))
    for key, sentiment, number in session.execute(query):
        counts[key][sentiment] = int(number)
    figures = []
    for order, theme in enumerate(taxonomy.themes):
        c = counts.get(theme.key, dict.fromkeys(SENTIMENTS, 0))
        total, positive_share, negative_share = _shares(c["positive"], c["neutral"], c["negative"])
        figures.append((-total, order, ThemeFigures(
            theme=theme.key, name=theme.name(locale), group=theme.group, items=total, positive=c["positive"],
            neutral=c["neutral"], negative=c["negative"], positive_share=positive_share,
            negative_share=negative_share,
        )))  # fmt: skip
    return [figure for _, _, figure in sorted(figures, key=lambda entry: (entry[0], entry[1]))]


def _segment_items(workspace_id: int, segment: str) -> Any:
    return (
        select(FeedbackItem.id)
        .join(Customer, and_(Customer.workspace_id == FeedbackItem.workspace_id, Customer.id == FeedbackItem.customer_id))
        .where(FeedbackItem.workspace_id == workspace_id, Customer.segment == segment)
    )  # fmt: skip


def channel_figures(
    session: Session, *, workspace_id: int, since: datetime, until: datetime, segment: str | None = None
) -> list[ChannelFigures]:
    """Per channel, over analysed items from ``since`` to ``until`` (exclusive): items and their overall
    sentiment. Every channel is listed, in the channels' order."""
    query = (
        select(FeedbackItem.channel, FeedbackItem.sentiment, func.count())
        .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.occurred_at >= since,
               FeedbackItem.occurred_at < until, FeedbackItem.sentiment.is_not(None))
        .group_by(FeedbackItem.channel, FeedbackItem.sentiment)
    )  # fmt: skip
    if segment:
        query = query.where(FeedbackItem.id.in_(_segment_items(workspace_id, segment)))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SENTIMENTS, 0))
    for name, sentiment, number in session.execute(query):
        counts[name][str(sentiment)] = int(number)
    result = []
    for channel in Channel:
        c = counts.get(channel.value, dict.fromkeys(SENTIMENTS, 0))
        total, positive_share, negative_share = _shares(c["positive"], c["neutral"], c["negative"])
        result.append(ChannelFigures(channel=channel.value, items=total, positive=c["positive"],
                                     neutral=c["neutral"], negative=c["negative"], positive_share=positive_share,
                                     negative_share=negative_share))  # fmt: skip
    return result


def list_items(
    session: Session,
    *,
    workspace_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    theme: str | None = None,
    sentiment: str | None = None,
    channel: str | None = None,
    segment: str | None = None,
    customer: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> FeedbackPage:
    """Items newest first with their themes, the masked text only; ``customer`` (the customer's row id) keeps
    one customer's. With a theme, the items mentioning it; with a sentiment too, those whose mention of the
    theme has it (else the items' overall sentiment)."""
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise PatronError("feedback.unknown_sentiment", value=sentiment[:20], choices=list(SENTIMENTS))
    conditions: list[Any] = [FeedbackItem.workspace_id == workspace_id]
    if since is not None:
        conditions.append(FeedbackItem.occurred_at >= since)
    if until is not None:
        conditions.append(FeedbackItem.occurred_at < until)
    if channel:
        conditions.append(FeedbackItem.channel == channel)
    if segment:
        conditions.append(FeedbackItem.id.in_(_segment_items(workspace_id, segment)))
    if customer is not None:
        conditions.append(FeedbackItem.customer_id == customer)
    if theme:
        mentioned = select(FeedbackMention.item_id).where(
            FeedbackMention.workspace_id == workspace_id, FeedbackMention.theme == theme
        )
        if sentiment:
            mentioned = mentioned.where(FeedbackMention.sentiment == sentiment)
        conditions.append(FeedbackItem.id.in_(mentioned))
    elif sentiment:
        conditions.append(FeedbackItem.sentiment == sentiment)
    total = int(session.scalar(select(func.count()).select_from(FeedbackItem).where(*conditions)) or 0)
    rows = session.execute(
        select(FeedbackItem, Customer.external_id)
        .outerjoin(Customer, Customer.id == FeedbackItem.customer_id)
        .where(*conditions)
        .order_by(FeedbackItem.occurred_at.desc(), FeedbackItem.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    ids = [item.id for item, _ in rows]
    mentions: dict[int, list[MentionRead]] = defaultdict(list)
    if ids:
        for item_id, key, label, score in session.execute(
            select(
                FeedbackMention.item_id,
                FeedbackMention.theme,
                FeedbackMention.sentiment,
                FeedbackMention.score,
            )
            .where(FeedbackMention.workspace_id == workspace_id, FeedbackMention.item_id.in_(ids))
            .order_by(FeedbackMention.item_id, FeedbackMention.clause, FeedbackMention.theme)
        ):
            mentions[item_id].append(MentionRead(theme=key, sentiment=label, score=round(score, 4)))
    items = [
        FeedbackRead(
            id=item.id,
            channel=item.channel,
            source=item.source,
            source_id=item.source_id,
            occurred_at=item.occurred_at,
            author=item.author,
            customer_id=external_id,
            rating=item.rating,
            reply_to=item.reply_to,
            text=item.masked_text,
            language=item.language,
            sentiment=item.sentiment,
            sentiment_score=None if item.sentiment_score is None else round(item.sentiment_score, 4),
            themes=mentions[item.id],
        )
        for item, external_id in rows
    ]
    return FeedbackPage(items=items, total=total, offset=offset, limit=limit)


def theme_trend(
    session: Session, *, workspace_id: int, starts: Sequence[datetime], segment: str | None = None
) -> dict[str, list[tuple[int, int]]]:
    """Per theme, for each period between consecutive ``starts`` (UTC instants of local period starts): items
    mentioning it and how many of those mentions are negative."""
    if len(starts) < 2:
        return {}
    bucket = case(
        *((FeedbackMention.occurred_at < start, literal(i - 1)) for i, start in enumerate(starts) if i > 0),
        else_=literal(-1),
    )
    query = (
        select(bucket.label("period"), FeedbackMention.theme, FeedbackMention.sentiment, func.count())
        .where(FeedbackMention.workspace_id == workspace_id, FeedbackMention.occurred_at >= starts[0],
               FeedbackMention.occurred_at < starts[-1])
        .group_by(bucket, FeedbackMention.theme, FeedbackMention.sentiment)
    )  # fmt: skip
    if segment:
        query = query.where(FeedbackMention.item_id.in_(_segment_items(workspace_id, segment)))
    periods = len(starts) - 1
    trend: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(periods)])
    for period, theme, sentiment, number in session.execute(query):
        cell = trend[theme][int(period)]
        cell[0] += int(number)
        if sentiment == "negative":
            cell[1] += int(number)
    return {theme: [(volume, negative) for volume, negative in cells] for theme, cells in trend.items()}


def items_for_customer(
    session: Session, *, workspace_id: int, customer_id: int, limit: int = 100
) -> FeedbackPage:
    """A customer's items from every channel, newest first, with their themes (the customer page)."""
    return list_items(session, workspace_id=workspace_id, customer=customer_id, limit=limit)


def theme_names(session: Session, workspace_id: int, locale: str) -> dict[str, str]:
    """Each theme of the taxonomy in force by its name in ``locale``."""
    return {theme.key: theme.name(locale) for theme in current_taxonomy(session, workspace_id).themes}


@dataclass(frozen=True)
class ShownTheme:
    """A theme an item mentions, named in the page's language, with the sentiment of the mention."""

    key: str
    name: str
    sentiment: str


@dataclass(frozen=True)
class ShownAnalysis:
    """An item's analysis as a page shows it beside the comment; ``sentiment`` None until analysed."""

    sentiment: str | None
    themes: list[ShownTheme]


def analyses_of_answers(
    session: Session, *, workspace_id: int, answer_ids: Sequence[int], locale: str
) -> dict[int, ShownAnalysis]:
    """The analysis of each survey comment (by answer id) that is a feedback item: two queries for a page."""
    if not answer_ids:
        return {}
    items = {
        item_id: (answer_id, sentiment)
        for item_id, answer_id, sentiment in session.execute(
            select(FeedbackItem.id, FeedbackItem.survey_answer_id, FeedbackItem.sentiment).where(
                FeedbackItem.workspace_id == workspace_id, FeedbackItem.survey_answer_id.in_(set(answer_ids))
            )
        )
    }
    themes: dict[int, list[ShownTheme]] = defaultdict(list)
    if items:
        names = theme_names(session, workspace_id, locale)
        for item_id, key, label in session.execute(
            select(FeedbackMention.item_id, FeedbackMention.theme, FeedbackMention.sentiment)
            .where(FeedbackMention.workspace_id == workspace_id, FeedbackMention.item_id.in_(list(items)))
            .order_by(FeedbackMention.item_id, FeedbackMention.clause, FeedbackMention.theme)
        ):
            themes[item_id].append(ShownTheme(key, names.get(key, key), label))
    return {
        answer: ShownAnalysis(sentiment, themes[item_id])
        for item_id, (answer, sentiment) in items.items()
        if answer is not None
    }


# ------------------------------------------------------------------------------------------------- periods
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9999, 12, 30)


def day_bounds(
    timezone: str, since: date | None, until: date | None, *, default_days: int = 30
) -> tuple[datetime, datetime]:
    """The UTC instants from the start of ``since`` to the end of ``until`` (inclusive), in the workspace's
    calendar; by default the last ``default_days`` complete days."""
    zone = ZoneInfo(timezone)
    today = today_in(timezone)
    until = until or today - timedelta(days=1)
    since = since or until - timedelta(days=default_days - 1)
    until, since = min(until, LATEST_DAY), max(min(since, LATEST_DAY), EARLIEST_DAY)
    if since > until:
        raise PatronError("metrics.empty_period", since=since.isoformat(), until=until.isoformat())
    start = as_utc(datetime.combine(since, time(), zone))
    end = as_utc(datetime.combine(until + timedelta(days=1), time(), zone))
    return start, end


# -------------------------------------------------------------------------------------------------- spikes
#: A theme's negative share must rise by this many percentage points, on at least SPIKE_MIN_MENTIONS mentions
#: in each period, and pass a one-sided two-proportion z-test at SPIKE_ALPHA (docs/feedback.md).
SPIKE_RISE_POINTS = 15.0
SPIKE_MIN_MENTIONS = 10
SPIKE_ALPHA = 0.05


@dataclass(frozen=True)
class Spike:
    theme: str
    name: str
    mentions: int
    negative: int
    before_mentions: int
    before_negative: int
    p_value: float

    @property
    def share(self) -> float:
        return self.negative / self.mentions * 100

    @property
    def before_share(self) -> float:
        return self.before_negative / self.before_mentions * 100


def rise_p_value(negative: int, mentions: int, before_negative: int, before_mentions: int) -> float:
    """One-sided p-value of a two-proportion z-test that the negative share rose (pooled variance); 1.0 when the
    shares cannot differ (every mention negative, or none, in both periods)."""
    pooled = (negative + before_negative) / (mentions + before_mentions)
    variance = pooled * (1 - pooled) * (1 / mentions + 1 / before_mentions)
    if variance <= 0:
        return 1.0
    z = (negative / mentions - before_negative / before_mentions) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def theme_spikes(
    session: Session,
    *,
    workspace_id: int,
    since: datetime,
    until: datetime,
    previous_since: datetime,
    locale: str,
) -> list[Spike]:
    """Themes whose negative share rose from [previous_since, since) to [since, until) by the rule above."""
    now = {f.theme: f for f in theme_figures(session, workspace_id=workspace_id, since=since, until=until,
                                             locale=locale)}  # fmt: skip
    before = {f.theme: f for f in theme_figures(session, workspace_id=workspace_id, since=previous_since,
                                                until=since, locale=locale)}  # fmt: skip
    spikes = []
    for key, current in now.items():
        earlier = before[key]
        if current.items < SPIKE_MIN_MENTIONS or earlier.items < SPIKE_MIN_MENTIONS:
            continue
        rise = (current.negative / current.items - earlier.negative / earlier.items) * 100
        p_value = rise_p_value(current.negative, current.items, earlier.negative, earlier.items)
        if rise >= SPIKE_RISE_POINTS and p_value < SPIKE_ALPHA:
            spikes.append(Spike(key, current.name, current.items, current.negative, earlier.items, earlier.negative,
                                p_value))  # fmt: skip
    return sorted(spikes, key=lambda spike: spike.p_value)
