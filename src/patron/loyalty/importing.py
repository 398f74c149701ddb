"""``patron import loyalty_members``: enrolling existing customers with the consent each gave.

One row per customer: who (``customer``), when they consented (``consented_at``; the import's time when
empty), where it was collected (``source``, default ``import``) and who recorded it (``recorded_by``). A row
whose ``consent`` column says no is rejected with its reason — a file is never a way round a refusal — as is a
consent dated in the future or a customer Patron does not know. Members already in the program keep their
record (re-importing the file changes nothing); a member who joined automatically gets the consent recorded;
one who left comes back, earning from the import on (``service.enrol`` does the same one at a time).
"""

from __future__ import annotations

from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, String, Table, and_, bindparam, select, update

from patron.core import parsing as p
from patron.core.clock import utcnow
from patron.core.db import UTCDateTime
from patron.core.errors import NotFound
from patron.core.importing import (
    Field,
    ImportContext,
    ImportSpec,
    MergeCounts,
    ParsedBatch,
    live_rows,
    reference_check,
)
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.loyalty.models import Enrolment, Member, Program

_CUSTOMER_ALIASES = ("customer_id", "customer_external_id", "external_id", "顧客編號", "客户编号", "會員編號",
                     "会员编号")  # fmt: skip
_CHUNK = 5_000


class EnrolmentImport(ImportSpec):
    kind = "loyalty_members"
    unique_key = ("customer",)

    def build_fields(self, workspace: Workspace) -> tuple[Field, ...]:
        zone = ZoneInfo(workspace.timezone)
        return (
            Field("customer", p.code(128), String(128), required=True, aliases=_CUSTOMER_ALIASES,
                  doc="The customer's external_id (imported before)."),
            Field("consented_at", p.datetime_field(zone), UTCDateTime(),
                  aliases=("consent_at", "consent_date", "同意時間", "同意时间", "同意日期"),
                  doc="When the customer agreed to join; empty: the time of the import."),
            Field("consent", p.boolean, Boolean(), aliases=("consented", "同意"),
                  doc="Optional; a row that says no is rejected."),
            Field("source", p.code(32), String(32), aliases=("consent_source", "來源", "来源"),
                  doc="Where the consent was collected (pos, web_form, paper…); default import."),
            Field("recorded_by", p.text(320), String(320), aliases=("by", "記錄者", "记录者"),
                  doc="Who recorded the consent."),
        )  # fmt: skip

    def finish_rows(self, batch: ParsedBatch) -> None:
        now = utcnow()
        consents, times = batch.columns["consent"], batch.columns["consented_at"]
        for index in batch.accepted():
            if consents[index] is False:
                batch.reject(index, "consent", "loyalty.import_no_consent", {})
            elif times[index] is not None and times[index] > now:
                batch.reject(
                    index, "consented_at", "loyalty.consent_in_future", {"at": times[index].isoformat()}
                )
            if times[index] is None:
                times[index] = now
            if not batch.columns["source"][index]:
                batch.columns["source"][index] = "import"

    def checks(self, ctx: ImportContext) -> list[Any]:
        return [reference_check("customer", Customer.__table__, "import.unknown_customer")]  # type: ignore[arg-type]

    def merge(self, ctx: ImportContext) -> MergeCounts:
        connection, ws, s = ctx.connection, ctx.workspace_id, ctx.staging
        mode = connection.scalar(select(Program.enrolment).where(Program.workspace_id == ws))
        if mode is None:
            raise NotFound("loyalty.no_program")
        members, customers = cast(Table, Member.__table__), cast(Table, Customer.__table__)
        now = utcnow()
        rows = connection.execute(
            select(s.c.consented_at, s.c.source, s.c.recorded_by, customers.c.id, members.c.id,
                   members.c.left_at, members.c.consent_at)
            .join(customers, and_(customers.c.workspace_id == ws, customers.c.external_id == s.c.customer))
            .outerjoin(members, and_(members.c.workspace_id == ws, members.c.customer_id == customers.c.id))
            .where(live_rows(ctx))
            .order_by(s.c._line)
        ).all()  # fmt: skip
        inserts: list[dict[str, Any]] = []
        back: list[dict[str, Any]] = []
        recorded: list[dict[str, Any]] = []
        unchanged = 0
        for at, source, by, customer_id, member_id, left_at, consent_at in rows:
            consent = {"c_at": at, "c_source": source, "c_by": by}
            if member_id is None:
                inserts.append({
                    "workspace_id": ws, "customer_id": customer_id, "enrolled_at": at, "points": 0, "debt": 0,
                    "created_at": now, "updated_at": now, "consent_at": at, "consent_source": source,
                    "consent_by": by, "earns_from": at if mode == Enrolment.CONSENT.value else None, "left_at": None,
                })  # fmt: skip
            elif left_at is not None:
                back.append({"m_id": member_id, **consent})
            elif consent_at is None:
                recorded.append({"m_id": member_id, **consent})
            else:
                unchanged += 1
        for start in range(0, len(inserts), _CHUNK):
            connection.execute(members.insert(), inserts[start : start + _CHUNK])
        by_id = members.c.id == bindparam("m_id")
        values = {"consent_at": bindparam("c_at"), "consent_source": bindparam("c_source"),
                  "consent_by": bindparam("c_by"), "updated_at": now}  # fmt: skip
        if back:
            # Coming back: from zero (what they held was forfeited on leaving), earning from now on.
            connection.execute(
                update(members).where(by_id).values(**values, enrolled_at=now, left_at=None, earns_from=now),
                back,
            )
        if recorded:
            connection.execute(update(members).where(by_id).values(**values), recorded)
        return MergeCounts(inserted=len(inserts), updated=len(back) + len(recorded), unchanged=unchanged)
