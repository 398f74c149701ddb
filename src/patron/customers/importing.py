"""``patron import customers``: profiles upserted on ``external_id``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Date, String, literal, select

from patron.core import parsing as p
from patron.core.db import UTCDateTime
from patron.core.importing import (
    Field,
    ImportContext,
    ImportSpec,
    MergeCounts,
    ParsedBatch,
    existing_count,
    import_timestamp,
    live_count,
    live_rows,
    merge_upsert,
)
from patron.core.models import Workspace
from patron.customers.models import Customer

GENDERS = ("female", "male", "other")
_GENDER_ALIASES = {
    "f": "female",
    "m": "male",
    "女": "female",
    "男": "male",
    "其他": "other",
    "woman": "female",
    "man": "male",
}
CONSENT_FIELDS = ("consent_email", "consent_sms", "consent_surveys")


class CustomerImport(ImportSpec):
    kind = "customers"
    unique_key = ("external_id",)

    def build_fields(self, workspace: Workspace) -> tuple[Field, ...]:
        zone = ZoneInfo(workspace.timezone)
        return (
            Field("external_id", p.code(128), String(128), required=True,
                  aliases=("customer_id", "id", "顧客編號", "客户编号", "會員編號", "会员编号"),
                  doc="Your id for the customer; re-importing the same id updates the profile."),
            Field("name", p.text(200), String(200), aliases=("姓名", "名稱", "名称", "full_name")),
            Field("email", p.email, String(320), aliases=("電子郵件", "电子邮件", "e_mail", "信箱", "邮箱")),
            Field("phone", p.phone, String(32), aliases=("電話", "电话", "手機", "手机", "mobile")),
            Field("birthday", p.date_field(), Date(), aliases=("生日", "birth_date", "date_of_birth")),
            Field("gender", p.choice(GENDERS, _GENDER_ALIASES), String(16), aliases=("性別", "性别")),
            Field("locale", p.locale, String(16), aliases=("language", "語言", "语言", "lang")),
            Field("city", p.text(100), String(100), aliases=("城市", "縣市", "县市")),
            Field("segment", p.text(64), String(64), aliases=("分群", "客群")),
            Field("signup_at", p.datetime_field(zone), UTCDateTime(),
                  aliases=("signup_date", "signed_up_at", "joined_at", "註冊日期", "注册日期")),
            *(Field(name, p.boolean, Boolean()) for name in CONSENT_FIELDS),
        )  # fmt: skip

    def finish_rows(self, batch: ParsedBatch) -> None:
        for name in CONSENT_FIELDS:  # consent is opt-in: an empty cell is not a yes
            batch.columns[name] = [value is True for value in batch.columns[name]]

    def merge(self, ctx: ImportContext) -> MergeCounts:
        s = ctx.staging
        target = Customer.__table__
        updates = [f.name for f in self.fields if f.name in ctx.present and f.name != "external_id"]
        now = import_timestamp()
        names = [f.name for f in self.fields]
        source = select(literal(ctx.workspace_id), *(s.c[n] for n in names), now, now).where(live_rows(ctx))
        return merge_upsert(
            ctx,
            target,  # type: ignore[arg-type]
            source,
            insert_columns=["workspace_id", *names, "created_at", "updated_at"],
            conflict_columns=["workspace_id", "external_id"],
            update_columns=updates,
            existing=existing_count(ctx, target),  # type: ignore[arg-type]
            staged=live_count(ctx),
        )
