"""``patron import products|orders|interactions``.

An orders file has one row per order line; the header columns (customer, time, status, channel, store,
currency) repeat on each line and must agree. The lines in the file are the order's complete set: lines of
an already-known order that the file no longer lists are removed, and the order total is recomputed.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    Numeric,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql import Select, Subquery

from patron.commerce.models import Channel, Interaction, Order, OrderLine, OrderStatus, Product
from patron.core import parsing as p
from patron.core.db import MinorUnits, UTCDateTime
from patron.core.importing import (
    Field,
    ImportContext,
    ImportSpec,
    MergeCounts,
    ParsedBatch,
    RowError,
    count,
    existing_count,
    import_timestamp,
    live_count,
    live_rows,
    merge_upsert,
    reference_check,
)
from patron.core.models import Workspace
from patron.core.money import from_minor, to_minor
from patron.customers.models import Customer

_CUSTOMER_ALIASES = ("customer_external_id", "customer", "顧客編號", "客户编号", "會員編號", "会员编号")
_PRODUCT_ALIASES = ("product_external_id", "sku", "product", "商品編號", "商品编号")
_STATUS_ALIASES = {"完成": "completed", "已完成": "completed", "取消": "cancelled", "已取消": "cancelled",
                   "canceled": "cancelled", "退貨": "returned", "退货": "returned", "已付款": "paid"}  # fmt: skip
_CHANNEL_ALIASES = {"門市": "store", "门店": "store", "門店": "store", "官網": "web", "官网": "web",
                    "電話": "phone", "电话": "phone", "shop": "store", "online": "web", "line": "chat"}  # fmt: skip
#: The largest amount of a line, in minor units: an order of up to 10,000 such lines (10^18) still fits 64 bits.
MAX_AMOUNT_MINOR = 10**14


def _minor_units(batch: ParsedBatch, name: str, rows: list[int]) -> list[int | None]:
    """Column ``name`` (Decimals) in minor units of each row's currency; rows whose amount the currency cannot
    hold are rejected. Each distinct amount and currency is converted once."""
    amounts, currencies = batch.columns[name], batch.columns["currency"]
    minors: list[int | None] = [None] * len(amounts)
    known: dict[tuple[Decimal, str], int] = {}
    for row in rows:
        amount = amounts[row]
        if amount is None:
            continue
        key = (amount, currencies[row])
        minor = known.get(key)
        if minor is None:
            try:
                minor = to_minor(amount, key[1])
            except ValueError:
                batch.reject(
                    row, name, "import.too_many_decimals", {"value": str(amount), "currency": key[1]}
                )
                continue
            if abs(minor) > MAX_AMOUNT_MINOR:
                maximum = str(from_minor(MAX_AMOUNT_MINOR, key[1]))
                batch.reject(row, name, "import.too_large", {"value": str(amount), "maximum": maximum})
                continue
            known[key] = minor  # only successes: equal Decimals may print differently in a message
        minors[row] = minor
    return minors


def _default(batch: ParsedBatch, name: str, value: Any) -> None:
    batch.columns[name] = [cell if cell is not None else value for cell in batch.columns[name]]


class ProductImport(ImportSpec):
    kind = "products"
    unique_key = ("external_id",)

    def build_fields(self, workspace: Workspace) -> tuple[Field, ...]:
        return (
            Field("external_id", p.code(128), String(128), required=True, aliases=("product_id", "sku", "id", "商品編號", "商品编号")),
            Field("name", p.text(300), String(300), required=True, aliases=("product_name", "品名", "商品名稱", "商品名称")),
            Field("category", p.text(100), String(100), aliases=("類別", "类别", "分類", "分类")),
            Field("price", p.decimal(Decimal(0)), Numeric(24, 6), aliases=("unit_price", "價格", "价格", "售價", "售价"), staged=False),
            Field("currency", p.currency, String(3), aliases=("幣別", "币种")),
            Field("active", p.boolean, Boolean(), aliases=("上架",)),
        )  # fmt: skip

    def derived_columns(self) -> tuple[Column[Any], ...]:
        return (Column("price_minor", MinorUnits),)

    def finish_rows(self, batch: ParsedBatch) -> None:
        _default(batch, "currency", self.workspace.currency)
        _default(batch, "active", True)
        batch.columns["price_minor"] = _minor_units(batch, "price", batch.accepted())

    def merge(self, ctx: ImportContext) -> MergeCounts:
        s = ctx.staging
        target = Product.__table__
        columns = ["external_id", "name", "category", "price_minor", "currency", "active"]
        present = {"price_minor" if n == "price" else n for n in ctx.present}
        now = import_timestamp()
        return merge_upsert(
            ctx,
            target,  # type: ignore[arg-type]
            select(literal(ctx.workspace_id), *(s.c[n] for n in columns), now, now).where(live_rows(ctx)),
            insert_columns=["workspace_id", *columns, "created_at", "updated_at"],
            conflict_columns=["workspace_id", "external_id"],
            update_columns=[n for n in columns[1:] if n in present],
            existing=existing_count(ctx, target),  # type: ignore[arg-type]
            staged=live_count(ctx),
        )


class OrderImport(ImportSpec):
    kind = "orders"
    unique_key = ("order_id", "line_no")
    group_column = "order_id"
    HEADER_COLUMNS = ("customer_id", "ordered_at", "status", "channel", "store", "currency")
    #: Orders whose highest line number is remembered while reading (about 170 bytes each). Unnumbered lines
    #: of orders first seen after that many are numbered in SQL once the file is staged, so memory stops
    #: growing there (the dict held 280 MB more at 5M lines than at 1M).
    REMEMBERED_ORDERS = 500_000

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self._highest_line: dict[str, int] = {}
        #: what a blank cell of these columns means
        self.defaults: dict[str, Any] = {
            "currency": workspace.currency,
            "status": OrderStatus.COMPLETED.value,
            "channel": Channel.WEB.value,
            "quantity": 1,
        }
        #: header columns no line leaves blank once read: required, or given a default
        self.never_blank_headers = frozenset(
            f.name
            for f in self.fields
            if f.name in self.HEADER_COLUMNS and (f.required or f.name in self.defaults)
        )

    def build_fields(self, workspace: Workspace) -> tuple[Field, ...]:
        zone = ZoneInfo(workspace.timezone)
        return (
            Field("order_id", p.code(128), String(128), required=True, aliases=("order_external_id", "訂單編號", "订单编号", "order")),
            Field("customer_id", p.code(128), String(128), required=True, aliases=_CUSTOMER_ALIASES),
            Field("ordered_at", p.datetime_field(zone), UTCDateTime(), required=True, aliases=("order_date", "date", "訂購時間", "下单时间", "訂單日期")),
            Field("status", p.choice([s.value for s in OrderStatus], _STATUS_ALIASES), String(16), aliases=("狀態", "状态")),
            Field("channel", p.choice([c.value for c in Channel], _CHANNEL_ALIASES), String(16), aliases=("通路", "渠道")),
            Field("store", p.text(100), String(100), aliases=("門市", "门店", "store_name")),
            Field("currency", p.currency, String(3), aliases=("幣別", "币种")),
            Field("line_no", p.integer(1, 10_000), Integer(), aliases=("line", "line_number", "項次", "项次")),
            Field("product_id", p.code(128), String(128), aliases=_PRODUCT_ALIASES),
            Field("quantity", p.integer(1, 1_000_000), Integer(), aliases=("qty", "數量", "数量")),
            Field("unit_price", p.decimal(Decimal(0)), Numeric(24, 6), required=True, aliases=("price", "單價", "单价"), staged=False),
            Field("discount", p.decimal(Decimal(0)), Numeric(24, 6), aliases=("折扣",), staged=False),
        )  # fmt: skip

    def derived_columns(self) -> tuple[Column[Any], ...]:
        return tuple(
            Column(name, MinorUnits) for name in ("unit_price_minor", "discount_minor", "amount_minor")
        )

    def finish_rows(self, batch: ParsedBatch) -> None:
        columns = batch.columns
        for name, value in self.defaults.items():
            _default(batch, name, value)
        rows = batch.accepted()
        self._number_lines(columns["order_id"], columns["line_no"], rows)
        units = _minor_units(batch, "unit_price", rows)
        discounts = _minor_units(batch, "discount", rows)
        quantities = columns["quantity"]
        amounts: list[int | None] = [None] * len(units)
        for row in batch.accepted():
            unit, discount = units[row], discounts[row] or 0
            if unit is None:
                continue
            gross = unit * quantities[row]
            if gross > MAX_AMOUNT_MINOR:
                amount = columns["unit_price"][row] * quantities[row]
                maximum = from_minor(MAX_AMOUNT_MINOR, columns["currency"][row])
                batch.reject(
                    row, "quantity", "import.line_too_large", {"amount": str(amount), "maximum": str(maximum)}
                )
                continue
            if discount > gross:
                given, price = columns["discount"][row], columns["unit_price"][row]
                batch.reject(row, "discount", "import.discount_exceeds",
                             {"discount": str(given), "gross": str(price * quantities[row])})  # fmt: skip
                continue
            discounts[row], amounts[row] = discount, gross - discount
        columns.update(unit_price_minor=units, discount_minor=discounts, amount_minor=amounts)

    def _number_lines(self, orders: list[Any], line_numbers: list[Any], rows: list[int]) -> None:
        """A line without a number gets the next one of its order, counting every earlier line of the file;
        here for the orders remembered, the rest in ``finish_staged``."""
        highest = self._highest_line
        for row in rows:
            order: str = orders[row]  # required, so set on every accepted row
            known = highest.get(order)
            if known is None:
                if len(highest) >= self.REMEMBERED_ORDERS:
                    continue
                known = 0
            line_no: int | None = line_numbers[row]
            if line_no is None:
                line_no = line_numbers[row] = known + 1
            if line_no > known:
                highest[order] = line_no

    def finish_staged(self, ctx: ImportContext) -> None:
        """Numbers the lines still without one, in SQL: those of orders beyond ``REMEMBERED_ORDERS``. The
        numbers given while reading count as the file's own, so both ways give one numbering."""
        if len(self._highest_line) < self.REMEMBERED_ORDERS:
            return  # every order was remembered, so every line has its number (no scan of the staging table)
        s = ctx.staging
        gaps = select(s.c.order_id).where(s.c.line_no.is_(None))
        if not ctx.connection.execute(select(exists(gaps))).scalar_one():
            return
        numbers = self._numbers_in_file_order(s, gaps)
        ctx.connection.execute(s.update().where(s.c._line == numbers.c._line).values(line_no=numbers.c.n))

    @staticmethod
    def _numbers_in_file_order(s: Table, gaps: Select[Any]) -> Subquery:
        """The numbers of the unnumbered lines of the orders in ``gaps``. Going through an order's lines in file
        order, h = h + 1 for a line without a number and h = max(h, n) for a line numbered n, which unrolls to:
        the unnumbered lines so far (u) plus max(0, the largest n − u over the numbered lines so far)."""
        unnumbered = func.sum(case((s.c.line_no.is_(None), 1), else_=0)).over(
            partition_by=s.c.order_id, order_by=s.c._line
        )
        counted = (
            select(s.c._line, s.c.order_id, s.c.line_no, unnumbered.label("unnumbered"))
            .where(s.c.order_id.in_(gaps))
            .subquery()
        )
        ahead = func.max(counted.c.line_no - counted.c.unnumbered).over(
            partition_by=counted.c.order_id, order_by=counted.c._line
        )
        # filtered one level out: a WHERE beside the window would hide the numbered lines from it
        both = select(
            counted.c._line, counted.c.line_no, counted.c.unnumbered, ahead.label("ahead")
        ).subquery()
        return (
            select(
                both.c._line, (both.c.unnumbered + case((both.c.ahead > 0, both.c.ahead), else_=0)).label("n")
            )
            .where(both.c.line_no.is_(None))
            .subquery()
        )

    def checks(self, ctx: ImportContext) -> list[Any]:
        return [
            reference_check("customer_id", Customer.__table__, "import.unknown_customer"),  # type: ignore[arg-type]
            reference_check("product_id", Product.__table__, "import.unknown_product", optional=True),  # type: ignore[arg-type]
            self._inconsistent_headers,
        ]

    def _remove_unlisted_lines(self, ctx: ImportContext) -> int:
        """The file lists an order's complete set of lines: lines of a staged order that it no longer lists go.

        Written as an anti-join on the staged (order, line) pairs; the earlier correlated NOT EXISTS got a
        nested-loop plan on PostgreSQL once the tables had statistics and ran for many minutes at 1M lines."""
        s, orders, lines = ctx.staging, Order.__table__, OrderLine.__table__
        listed = s.alias("listed")
        unlisted = (
            select(lines.c.order_id, lines.c.line_no)
            .join(orders, orders.c.id == lines.c.order_id)
            .outerjoin(
                listed,
                and_(
                    listed.c.order_id == orders.c.external_id,
                    listed.c.line_no == lines.c.line_no,
                    listed.c._rejected.is_(False),
                ),
            )
            .where(
                orders.c.workspace_id == ctx.workspace_id,
                orders.c.external_id.in_(select(s.c.order_id).where(live_rows(ctx))),
                listed.c._line.is_(None),
            )
        )
        key = tuple_(lines.c.order_id, lines.c.line_no)
        return int(ctx.connection.execute(delete(OrderLine).where(key.in_(unlisted))).rowcount)

    def _inconsistent_headers(self, ctx: ImportContext) -> list[RowError]:
        """All lines of one order must agree on its header; otherwise which line is right is a guess.

        Two ways of saying "more than one distinct value that is not null", each the faster on its database at
        1M lines: min <> max on PostgreSQL (0.46 s against 1.14 s), count(DISTINCT) on SQLite (0.91 s against
        1.25 s)."""
        s = ctx.staging
        if ctx.dialect == "postgresql":
            disagreements = [func.min(s.c[n]) != func.max(s.c[n]) for n in self.HEADER_COLUMNS]
        else:
            disagreements = [func.count(func.distinct(s.c[n])) > 1 for n in self.HEADER_COLUMNS]
        # Which columns disagree is selected beside the HAVING: the database computes each aggregate once.
        flags = [
            case((d, 1), else_=0).label(f"_{n}")
            for d, n in zip(disagreements, self.HEADER_COLUMNS, strict=True)
        ]
        bad = (
            select(s.c.order_id, *flags)
            .where(live_rows(ctx))
            .group_by(s.c.order_id)
            .having(or_(*disagreements))
            .subquery()
        )
        query = (
            select(s.c._line, s.c.order_id, *(bad.c[f"_{n}"] for n in self.HEADER_COLUMNS))
            .join(bad, bad.c.order_id == s.c.order_id)
            .where(live_rows(ctx))
        )
        return [
            RowError(
                line,
                "order_id",
                "import.inconsistent_order",
                {
                    "order": order,
                    "columns": [n for n, d in zip(self.HEADER_COLUMNS, differ, strict=True) if d],
                },
            )
            for line, order, *differ in ctx.connection.execute(query)
        ]

    def _header_value(self, ctx: ImportContext, name: str) -> Any:
        """An order's value of a header column, from its live lines. By now they agree on it (or the order was
        rejected); where no line leaves it blank, on SQLite any line's value will do: a bare column in a grouped
        query, which SQLite takes from one row of the group. Taking min() of each instead cost 0.45 s more at
        1M lines. min() stays for a column some lines may leave blank (``store``: it skips the blanks), and on
        PostgreSQL 15, which has no bare columns (``any_value`` is 16)."""
        column = ctx.staging.c[name]
        if ctx.dialect == "sqlite" and name in self.never_blank_headers:
            return column
        return func.min(column).label(name)

    def merge(self, ctx: ImportContext) -> MergeCounts:
        s = ctx.staging
        orders, lines, customers, products = (
            Order.__table__,
            OrderLine.__table__,
            Customer.__table__,
            Product.__table__,
        )
        ws = ctx.workspace_id
        now = import_timestamp()
        existing_lines = count(
            ctx,
            select(s.c._line)
            .join(orders, and_(orders.c.workspace_id == ws, orders.c.external_id == s.c.order_id))
            .join(lines, and_(lines.c.order_id == orders.c.id, lines.c.line_no == s.c.line_no))
            .where(live_rows(ctx)),
        )
        staged_lines = live_count(ctx)
        known_before = ctx.connection.execute(
            select(
                exists(
                    select(literal(1))
                    .select_from(s)
                    .join(orders, and_(orders.c.workspace_id == ws, orders.c.external_id == s.c.order_id))
                    .where(live_rows(ctx))
                )
            )
        ).scalar_one()
        # Grouped first, then joined: one customer look-up per order rather than per line.
        heads = (
            select(
                s.c.order_id,
                *(self._header_value(ctx, name) for name in self.HEADER_COLUMNS),
                func.sum(s.c.amount_minor).label("total"),
            )
            .where(live_rows(ctx))
            .group_by(s.c.order_id)
            .subquery()
        )
        header_source = select(
            literal(ws), heads.c.order_id, customers.c.id, heads.c.ordered_at, heads.c.status, heads.c.channel,
            heads.c.store, heads.c.currency, heads.c.total, now, now,
        ).join(customers, and_(customers.c.workspace_id == ws, customers.c.external_id == heads.c.customer_id))  # fmt: skip
        header_columns = [
            "customer_id",
            "ordered_at",
            "status",
            "channel",
            "store",
            "currency",
            "total_minor",
        ]
        merge_upsert(
            ctx,
            orders,  # type: ignore[arg-type]
            header_source,
            insert_columns=["workspace_id", "external_id", *header_columns, "created_at", "updated_at"],
            conflict_columns=["workspace_id", "external_id"],
            update_columns=[
                c
                for c in header_columns
                if c in ctx.present or c in {"customer_id", "ordered_at", "total_minor"}
            ],
            existing=0,
            staged=0,
            fresh=not known_before,
        )
        line_source = (
            select(
                literal(ws), orders.c.id, s.c.line_no, products.c.id, s.c.quantity,
                s.c.unit_price_minor, s.c.discount_minor, s.c.amount_minor,
            )
            .join(orders, and_(orders.c.workspace_id == ws, orders.c.external_id == s.c.order_id))
            .outerjoin(products, and_(products.c.workspace_id == ws, products.c.external_id == s.c.product_id))
            .where(live_rows(ctx))
        )  # fmt: skip
        line_columns = ["product_id", "quantity", "unit_price_minor", "discount_minor", "amount_minor"]
        counts = merge_upsert(
            ctx,
            lines,  # type: ignore[arg-type]
            line_source,
            insert_columns=["workspace_id", "order_id", "line_no", *line_columns],
            conflict_columns=["order_id", "line_no"],
            update_columns=line_columns,
            existing=existing_lines,
            staged=staged_lines,
        )
        removed = self._remove_unlisted_lines(ctx) if known_before else 0
        return MergeCounts(counts.inserted, counts.updated, counts.unchanged, removed=removed)


class InteractionImport(ImportSpec):
    kind = "interactions"
    unique_key = ("external_id",)

    def build_fields(self, workspace: Workspace) -> tuple[Field, ...]:
        zone = ZoneInfo(workspace.timezone)
        return (
            Field("external_id", p.code(128), String(128), aliases=("event_id", "interaction_id", "id"),
                  doc="Optional. Without it a fingerprint of the row is used, so re-imports still do not duplicate."),
            Field("customer_id", p.code(128), String(128), required=True, aliases=_CUSTOMER_ALIASES),
            Field("occurred_at", p.datetime_field(zone), UTCDateTime(), required=True, aliases=("timestamp", "time", "date", "時間", "时间")),
            Field("type", p.slug(48), String(48), required=True, aliases=("event", "event_type", "類型", "类型")),
            Field("channel", p.choice([c.value for c in Channel], _CHANNEL_ALIASES), String(16), required=True, aliases=("通路", "渠道")),
            Field("product_id", p.code(128), String(128), aliases=_PRODUCT_ALIASES),
            Field("order_id", p.code(128), String(128), aliases=("order_external_id", "訂單編號", "订单编号")),
            Field("detail", p.text(2000), String(2000), aliases=("details", "note", "備註", "备注", "url")),
        )  # fmt: skip

    def finish_rows(self, batch: ParsedBatch) -> None:
        columns = batch.columns
        fingerprinted = ("customer_id", "occurred_at", "type", "channel", "product_id", "order_id", "detail")
        ids = columns["external_id"]
        for row in batch.accepted():
            if ids[row] is None:
                fingerprint = "|".join(str(columns[name][row]) for name in fingerprinted)
                ids[row] = "fp:" + hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:40]

    def checks(self, ctx: ImportContext) -> list[Any]:
        return [
            reference_check("customer_id", Customer.__table__, "import.unknown_customer"),  # type: ignore[arg-type]
            reference_check("product_id", Product.__table__, "import.unknown_product", optional=True),  # type: ignore[arg-type]
        ]

    def merge(self, ctx: ImportContext) -> MergeCounts:
        s = ctx.staging
        target, customers, products = Interaction.__table__, Customer.__table__, Product.__table__
        ws = ctx.workspace_id
        now = import_timestamp()
        source = (
            select(
                literal(ws), s.c.external_id, customers.c.id, s.c.occurred_at, s.c.type, s.c.channel,
                products.c.id, s.c.order_id, s.c.detail, now, now,
            )
            .join(customers, and_(customers.c.workspace_id == ws, customers.c.external_id == s.c.customer_id))
            .outerjoin(products, and_(products.c.workspace_id == ws, products.c.external_id == s.c.product_id))
            .where(live_rows(ctx))
        )  # fmt: skip
        columns = [
            "customer_id",
            "occurred_at",
            "type",
            "channel",
            "product_id",
            "order_external_id",
            "detail",
        ]
        present = {"order_external_id" if n == "order_id" else n for n in ctx.present} | {"customer_id"}
        return merge_upsert(
            ctx,
            target,  # type: ignore[arg-type]
            source,
            insert_columns=["workspace_id", "external_id", *columns, "created_at", "updated_at"],
            conflict_columns=["workspace_id", "external_id"],
            update_columns=[c for c in columns if c in present],
            existing=existing_count(ctx, target),  # type: ignore[arg-type]
            staged=live_count(ctx),
        )
