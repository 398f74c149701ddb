"""``patron import feedback`` / ``patron feedback import``: comments from any channel, upserted on their key.

A row's key is its source's own id (``src:<channel>:<source>:<source_id>``) or, without one, a fingerprint of
the row, so re-importing a file stores nothing twice. The masked and analysis copies and the language are made
while the rows are read (personal data never reaches the staging table's analysis columns unmasked); the
customer is linked by ``customer_id`` (which must exist), else by e-mail, else by phone. New rows and rows
whose values changed are analysed in the import's own transaction, after the merge (in batches, by
``service.analyze``), so however a file is imported (CLI, API, demo) its items arrive analysed.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Double, String, Text, and_, func, literal, null, select, update
from sqlalchemy.orm import Session

from patron.core import parsing as p
from patron.core.db import UTCDateTime
from patron.core.importing import (
    Field,
    ImportContext,
    ImportSpec,
    MergeCounts,
    ParsedBatch,
    count,
    duplicates_check,
    import_timestamp,
    live_count,
    live_rows,
    merge_upsert,
    reference_check,
)
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.feedback import service
from patron.feedback.models import CHANNELS, FeedbackItem
from patron.feedback.schemas import MAX_TEXT_CHARS
from patron.feedback.service import copies, fingerprint

_CHANNEL_ALIASES = {
    "問卷": "survey", "问卷": "survey", "電子郵件": "email", "电子邮件": "email", "e-mail": "email", "mail": "email",
    "電話": "phone", "电话": "phone", "call": "phone", "客服對話": "chat", "客服对话": "chat", "line": "chat",
    "評論": "review", "评论": "review", "社群": "social", "社交": "social", "社交媒体": "social", "社群媒體": "social",
}  # fmt: skip


class FeedbackImport(ImportSpec):
    kind = "feedback"
    unique_key = ("source_key",)

    def build_fields(self, workspace: Workspace) -> tuple[Field, ...]:
        zone = ZoneInfo(workspace.timezone)
        return (
            Field("source_id", p.code(128), String(128), aliases=("external_id", "id", "review_id", "post_id", "message_id", "編號", "编号"),
                  doc="The source's own id; re-importing it updates the item. Without it a fingerprint of the row is used."),
            Field("channel", p.choice(CHANNELS, _CHANNEL_ALIASES), String(16), required=True, aliases=("通路", "渠道")),
            Field("source", p.text(64), String(64), aliases=("platform", "來源", "来源", "平台")),
            Field("occurred_at", p.datetime_field(zone), UTCDateTime(), required=True,
                  aliases=("time", "date", "created_at", "posted_at", "時間", "时间", "日期")),
            Field("author", p.text(200), String(200), aliases=("author_handle", "handle", "user", "作者", "暱稱", "昵称")),
            Field("customer_id", p.code(128), String(128), aliases=("customer", "customer_external_id", "顧客編號", "客户编号", "會員編號", "会员编号")),
            Field("email", p.email, String(320), aliases=("電子郵件", "电子邮件", "信箱", "邮箱")),
            Field("phone", p.phone, String(32), aliases=("電話", "电话", "手機", "手机")),
            Field("rating", p.decimal(), Double(), aliases=("stars", "score", "評分", "评分", "星等", "星级")),
            Field("reply_to", p.text(500), String(500), aliases=("url", "link", "reply_url", "連結", "链接")),
            Field("text", p.text(MAX_TEXT_CHARS), Text(), required=True,
                  aliases=("comment", "content", "body", "message", "review", "內容", "内容", "留言", "評論", "评论")),
        )  # fmt: skip

    def derived_columns(self) -> tuple[Column[Any], ...]:
        return (
            Column("source_key", String(200)),
            Column("masked_text", Text()),
            Column("analysis_text", Text()),
            Column("language", String(8)),
        )

    def finish_rows(self, batch: ParsedBatch) -> None:
        columns = batch.columns
        size = len(batch.lines)
        for name in ("source_key", "masked_text", "analysis_text", "language"):
            columns[name] = [None] * size
        if columns["source"] is not None:
            columns["source"] = ["" if value is None else value for value in columns["source"]]
        for row in batch.accepted():
            text = columns["text"][row]
            if not text or not text.strip():
                batch.reject(row, "text", "feedback.empty_text", {})
                continue
            if "\x00" in text:
                batch.reject(row, "text", "feedback.bad_text", {})
                continue
            rating = columns["rating"][row]
            if rating is not None:
                columns["rating"][row] = float(rating)
            source_id = columns["source_id"][row]
            if source_id is not None:
                key = f"src:{columns['channel'][row]}:{columns['source'][row]}:{source_id}"
            else:
                occurred = columns["occurred_at"][row]
                key = fingerprint(columns["channel"][row], columns["source"][row],
                                  occurred.isoformat() if occurred else None, columns["author"][row], text)  # fmt: skip
            made = copies(text)
            columns["source_key"][row] = key
            columns["masked_text"][row] = made.masked
            columns["analysis_text"][row] = made.analysis
            columns["language"][row] = made.language

    def checks(self, ctx: ImportContext) -> list[Any]:
        return [
            duplicates_check(["source_key"]),
            reference_check("customer_id", Customer.__table__, "import.unknown_customer", optional=True),  # type: ignore[arg-type]
        ]

    def merge(self, ctx: ImportContext) -> MergeCounts:
        s = ctx.staging
        ws = ctx.workspace_id
        target = FeedbackItem.__table__
        customers = Customer.__table__

        def customer_by(column: str, value: Any) -> Any:
            return (
                select(func.min(customers.c.id))
                .where(customers.c.workspace_id == ws, customers.c[column] == value)
                .scalar_subquery()
            )

        customer = func.coalesce(
            customer_by("external_id", s.c.customer_id),
            customer_by("email", s.c.email),
            customer_by("phone", s.c.phone),
        )
        now = import_timestamp()
        columns = ["channel", "source", "source_id", "occurred_at", "author", "customer_id", "rating", "reply_to",
                   "text", "masked_text", "analysis_text", "language"]  # fmt: skip
        source = select(
            literal(ws), s.c.source_key, s.c.channel, s.c.source, s.c.source_id, s.c.occurred_at, s.c.author,
            customer, s.c.rating, s.c.reply_to, s.c.text, s.c.masked_text, s.c.analysis_text, s.c.language, now, now,
        ).where(live_rows(ctx))  # fmt: skip
        present = set(ctx.present) | {"masked_text", "analysis_text", "language"}
        if present & {"email", "phone"}:
            present.add("customer_id")
        existing = count(
            ctx,
            select(s.c._line)
            .join(target, and_(target.c.workspace_id == ws, target.c.source_key == s.c.source_key))
            .where(live_rows(ctx)),
        )
        counts = merge_upsert(
            ctx,
            target,  # type: ignore[arg-type]
            source,
            insert_columns=["workspace_id", "source_key", *columns, "created_at", "updated_at"],
            conflict_columns=["workspace_id", "source_key"],
            update_columns=[c for c in columns if c in present],
            existing=existing,
            staged=live_count(ctx),
        )
        if counts.updated:
            # Changed items are analysed again: their text, time or channel may have changed.
            ctx.connection.execute(
                update(target)  # type: ignore[arg-type]
                .where(target.c.workspace_id == ws, target.c.updated_at == now,
                       target.c.source_key.in_(select(s.c.source_key).where(live_rows(ctx))))
                .values(analyzed_with=null())
            )  # fmt: skip
        if counts.inserted or counts.updated:
            # The stored and changed items (``analyzed_with`` empty) get their sentiment and themes now, in this
            # transaction: a session joined to the import's connection, which it neither commits nor closes.
            with Session(bind=ctx.connection) as session:
                service.analyze(session, workspace_id=ws, survey_comments=False, unanalysed_only=True)
        return counts
