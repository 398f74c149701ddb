"""The import engine end to end, on SQLite and PostgreSQL: validation, upserts, rejects, atomicity."""

from __future__ import annotations

import csv
import gc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest.mock import patch

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from patron.commerce.importing import OrderImport
from patron.commerce.models import Interaction, Order, OrderLine, Product
from patron.core import importing as importing_engine
from patron.core.db import keep_statistics, transaction
from patron.core.errors import PatronError
from patron.core.importing import (
    BULK_CACHE_KIB,
    ImportContext,
    MergeCounts,
    bulk_cache,
    collector_paused,
)
from patron.core.models import Workspace
from patron.customers import importing as customers_importing
from patron.customers.importing import CustomerImport
from patron.customers.models import Customer
from patron.importers import import_file
from tests.factories import (
    ORDER_HEADER,
    customers_file,
    make_workspace,
    products_file,
    write_csv,
    write_jsonl,
)


def _import(engine: Engine, ws: Workspace, kind: str, path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return import_file(engine, workspace_slug=ws.slug, kind=kind, path=path, **kwargs)  # type: ignore[arg-type]


def _import_orders(
    engine: Engine, ws: Workspace, folder: Path, rows: list[tuple[object, ...]], **kwargs: object
):  # type: ignore[no-untyped-def]
    return _import(engine, ws, "orders", write_csv(folder / "orders.csv", ORDER_HEADER, rows), **kwargs)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def ws(engine: Engine) -> Workspace:
    return make_workspace(engine)


@pytest.fixture
def seeded(engine: Engine, ws: Workspace, tmp_path: Path) -> Workspace:
    _import(engine, ws, "customers", customers_file(tmp_path / "customers.csv"))
    _import(engine, ws, "products", products_file(tmp_path / "products.csv"))
    return ws


def test_customers_upsert_is_idempotent_and_updates_changed_rows(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    path = customers_file(tmp_path / "c.csv", count=3)
    first = _import(engine, ws, "customers", path)
    assert (first.rows_read, first.inserted, first.updated, first.unchanged, first.rejected) == (
        3,
        3,
        0,
        0,
        0,
    )
    again = _import(engine, ws, "customers", path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    write_csv(path, ("external_id", "city"), [("C001", "高雄市"), ("C004", "臺中市")])
    changed = _import(engine, ws, "customers", path)
    assert (changed.inserted, changed.updated, changed.unchanged) == (1, 1, 0)
    with transaction(engine) as session:
        rows = {
            c.external_id: c for c in session.scalars(select(Customer).where(Customer.workspace_id == ws.id))
        }
        assert len(rows) == 4
        assert rows["C001"].city == "高雄市"
        assert rows["C001"].name == "顧客1", "a column absent from the file must not be blanked"
        assert rows["C001"].locale == "zh-Hant", "zh-TW is normalised to zh-Hant"
        assert rows["C001"].consent_email is True
        assert rows["C004"].consent_email is False, "consent is opt-in"
        assert rows["C001"].signup_at is not None and rows["C001"].signup_at.hour == 2, (
            "10:00 Taipei is 02:00 UTC"
        )


def test_bad_rows_are_reported_with_line_column_reason_and_good_rows_land(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "people.csv",
        ("external_id", "email", "birthday", "locale"),
        [
            ("A1", "a1@example.com", "1990-02-03", "en"),
            ("A2", "not-an-email", "1990-02-03", "en"),
            ("A3", "a3@example.com", "民國79年2月30日", "en"),
            ("", "a4@example.com", "1990-02-03", "en"),
            ("A5", "a5@example.com", "１９９０／０２／０３", "klingon"),
            ("A6", "a6@example.com", "民國79年2月3日", "zh_CN"),
        ],
    )
    report = _import(engine, ws, "customers", path, locale="en")
    assert (report.inserted, report.rejected) == (2, 4)
    found = {(e.line, e.column, e.code) for e in report.errors}
    assert found == {
        (3, "email", "import.not_email"),
        (4, "birthday", "import.not_date"),
        (5, "external_id", "import.required"),
        (6, "locale", "import.not_locale"),
    }
    rejects = _rows(Path(str(report.rejects_file)))
    assert [r["_line"] for r in rejects] == ["3", "4", "5", "6"]
    assert rejects[0]["email"] == "not-an-email", "the rejected row is kept as written so it can be fixed"
    assert "email: 'not-an-email' is not an email address." in rejects[0]["_errors"]
    with transaction(engine) as session:
        a6 = session.scalars(
            select(Customer).where(Customer.workspace_id == ws.id, Customer.external_id == "A6")
        ).one()
        assert str(a6.birthday) == "1990-02-03" and a6.locale == "zh-Hans"


def test_rejects_are_written_in_the_users_language(engine: Engine, ws: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ("external_id", "email", "birthday"), [("A1", "bad", "明天")])
    report = _import(engine, ws, "customers", path, locale="zh-Hant")
    assert report.errors[0].message("zh-Hant") == "「bad」不是電子郵件地址。"
    assert _rows(Path(str(report.rejects_file)))[0]["_errors"] == (
        "email：「bad」不是電子郵件地址。；birthday：「明天」不是日期（請用 2025-03-01、2025/03/01、2025年3月1日 或 民國114年3月1日）。"
    ), "full-width colon and semicolon between the problems of a row"


def test_duplicate_external_ids_in_one_file_reject_every_copy(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "d.csv", ("external_id", "name"), [("X", "a"), ("Y", "b"), ("X", "c")])
    report = _import(engine, ws, "customers", path)
    assert (report.inserted, report.rejected) == (1, 2)
    assert {(e.line, e.code, e.params["first_line"]) for e in report.errors} == {
        (2, "import.duplicate_key", 2),
        (4, "import.duplicate_key", 2),
    }


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "import.empty_file"),
        (b"name,email\nx,y@example.com\n", "import.missing_columns"),
        (b"\x00\x01\x02binary", "import.binary_file"),
        (b",,,\n1,2,3\n", "import.no_header"),
    ],
)
def test_whole_file_problems_raise_a_clear_error(
    engine: Engine, ws: Workspace, tmp_path: Path, content: bytes, code: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(PatronError) as caught:
        _import(engine, ws, "customers", path)
    assert caught.value.code == code
    assert str(path) in caught.value.message("en") or code == "import.missing_columns"


def test_missing_columns_are_named(engine: Engine, ws: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", ("order_id", "unit_price"), [("O1", "1")])
    with pytest.raises(PatronError) as caught:
        _import(engine, ws, "orders", path)
    assert caught.value.params["columns"] == ["customer_id", "ordered_at"]


def test_orders_compute_totals_from_lines_in_minor_units(
    engine: Engine, seeded: Workspace, tmp_path: Path
) -> None:
    rows: list[tuple[object, ...]] = [
        ("O1", 1, "C001", "2025-03-01T10:00:00+08:00", "completed", "web", "P1", 2, "680", "60"),
        ("O1", 2, "C001", "2025-03-01T10:00:00+08:00", "completed", "web", "P2", 1, "250.50", ""),
        ("O2", 1, "C002", "2025/03/02 12:30", "已完成", "門市", "", 3, "NT$1,000", "0"),
    ]
    report = _import_orders(engine, seeded, tmp_path, rows)
    assert (report.inserted, report.rejected) == (3, 0)
    with transaction(engine) as session:
        orders = {
            o.external_id: o for o in session.scalars(select(Order).where(Order.workspace_id == seeded.id))
        }
        # 680 × 2 − 60 = 1300.00; + 250.50 = 1550.50 TWD = 155050 minor units
        assert orders["O1"].total_minor == 155_050
        assert orders["O2"].total_minor == 300_000
        assert (orders["O2"].status, orders["O2"].channel) == ("completed", "store")
        assert orders["O1"].ordered_at.hour == 2, "10:00+08:00 is 02:00 UTC"
        assert orders["O2"].ordered_at.hour == 4, "12:30 in the workspace zone (Taipei) is 04:30 UTC"


def test_large_amounts_fit_in_minor_units_on_every_backend(
    engine: Engine, seeded: Workspace, tmp_path: Path
) -> None:
    """30,000,000.00 TWD is 3,000,000,000 minor units, past a 32-bit integer; a line of 4 is 12e9."""
    row = ("BIG1", 1, "C001", "2025-03-01", "completed", "store", "P1", 4, "30,000,000", "")
    report = _import_orders(engine, seeded, tmp_path, [row])
    assert (report.inserted, report.rejected) == (1, 0)
    with transaction(engine) as session:
        order = session.scalars(select(Order).where(Order.workspace_id == seeded.id)).one()
        line = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).one()
    assert (line.unit_price_minor, line.amount_minor, order.total_minor) == (
        3_000_000_000,
        12_000_000_000,
        12_000_000_000,
    )


def test_amounts_past_the_maximum_are_rejected_with_the_maximum_in_the_currency(
    engine: Engine, seeded: Workspace, tmp_path: Path
) -> None:
    rows: list[tuple[object, ...]] = [
        ("HUGE1", 1, "C001", "2025-03-01", "", "web", "P1", 1, "2000000000000", ""),  # 2e14 minor units
        ("HUGE2", 1, "C001", "2025-03-01", "", "web", "P1", 200_000, "6000000", ""),  # 1.2e12 TWD a line
        ("FINE", 1, "C001", "2025-03-01", "", "web", "P1", 100_000, "6000000", ""),  # 6e11 TWD
    ]
    report = _import_orders(engine, seeded, tmp_path, rows, locale="en")
    assert (report.inserted, report.rejected) == (1, 2)
    assert [(e.line, e.column, e.code) for e in report.errors] == [
        (2, "unit_price", "import.too_large"),
        (3, "quantity", "import.line_too_large"),
    ]
    assert report.errors[0].message("en") == "2000000000000 is larger than the maximum 1000000000000.00."
    assert report.errors[1].message("en") == (
        "The line's amount 1200000000000 (unit price × quantity) is larger than the maximum 1000000000000.00."
    )


def test_order_reimport_changes_nothing_and_dropped_lines_are_removed(
    engine: Engine, seeded: Workspace, tmp_path: Path
) -> None:
    rows = [
        ("O9", 1, "C001", "2025-03-01T10:00:00+08:00", "completed", "web", "P1", 1, "680", ""),
        ("O9", 2, "C001", "2025-03-01T10:00:00+08:00", "completed", "web", "P2", 2, "250.50", ""),
    ]
    path = write_csv(tmp_path / "o.csv", ORDER_HEADER, rows)
    _import(engine, seeded, "orders", path)
    again = _import(engine, seeded, "orders", path)
    assert (again.inserted, again.updated, again.unchanged, again.removed) == (0, 0, 2, 0)
    write_csv(path, ORDER_HEADER, rows[:1])
    shrunk = _import(engine, seeded, "orders", path)
    assert (shrunk.unchanged, shrunk.removed) == (1, 1)
    with transaction(engine) as session:
        order = session.scalars(
            select(Order).where(Order.workspace_id == seeded.id, Order.external_id == "O9")
        ).one()
        assert order.total_minor == 68_000
        assert session.scalar(select(func.count()).where(OrderLine.order_id == order.id)) == 1


def test_an_order_lands_whole_or_not_at_all(engine: Engine, seeded: Workspace, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "o.csv",
        ORDER_HEADER,
        [
            ("OA", 1, "C001", "2025-03-01", "completed", "web", "P1", 1, "680", ""),
            ("OA", 2, "C001", "2025-03-01", "completed", "web", "P2", "two", "250", ""),
            ("OB", 1, "NOBODY", "2025-03-01", "completed", "web", "P1", 1, "680", ""),
            ("OC", 1, "C002", "2025-03-01", "completed", "web", "P404", 1, "680", ""),
            ("OD", 1, "C002", "2025-03-01", "completed", "web", "P1", 1, "680", ""),
            ("OD", 2, "C002", "2025-03-02", "completed", "web", "P1", 1, "680", ""),
            ("OE", 1, "C003", "2025-03-01", "completed", "web", "P1", 1, "10", "11"),
            ("OK", 1, "C003", "2025-03-01", "completed", "web", "P1", 1, "680", ""),
        ],
    )
    report = _import(engine, seeded, "orders", path)
    codes = {(e.line, e.code) for e in report.errors}
    assert codes == {
        (3, "import.not_integer"),
        (2, "import.group_rejected"),
        (4, "import.unknown_customer"),
        (5, "import.unknown_product"),
        (6, "import.inconsistent_order"),
        (7, "import.inconsistent_order"),
        (8, "import.discount_exceeds"),
    }
    assert (report.inserted, report.rejected) == (1, 7)
    with transaction(engine) as session:
        assert list(session.scalars(select(Order.external_id).where(Order.workspace_id == seeded.id))) == [
            "OK"
        ]
    assert sorted(int(r["_line"]) for r in _rows(Path(str(report.rejects_file)))) == [2, 3, 4, 5, 6, 7, 8]


HEADED = ("order_id", "line_no", "customer_id", "ordered_at", "status", "channel", "store", "currency", "product_id",
          "unit_price")  # fmt: skip
AGREEING = ("C001", "2025-03-01 10:00", "completed", "store", "信義店", "TWD")


@pytest.mark.parametrize("column", OrderImport.HEADER_COLUMNS)
def test_lines_that_disagree_on_any_header_column_reject_their_order(
    engine: Engine, seeded: Workspace, tmp_path: Path, column: str
) -> None:
    """Each header column on its own, since PostgreSQL and SQLite word the disagreement differently."""
    other = {"customer_id": "C002", "ordered_at": "2025-03-02 10:00", "status": "paid", "channel": "web",
             "store": "忠孝店", "currency": "USD"}  # fmt: skip
    second = [
        other[name] if name == column else value
        for name, value in zip(OrderImport.HEADER_COLUMNS, AGREEING, strict=True)
    ]
    rows = [
        ("OX", 1, *AGREEING, "P1", "680"),
        ("OX", 2, *second, "P2", "250"),
        ("OY", 1, *AGREEING, "P1", "680"),
    ]
    report = _import(engine, seeded, "orders", write_csv(tmp_path / "o.csv", HEADED, rows))
    assert {(e.line, e.code) for e in report.errors} == {
        (2, "import.inconsistent_order"),
        (3, "import.inconsistent_order"),
    }
    assert (report.inserted, report.rejected) == (1, 2)
    assert report.errors[0].message("en") == f"The lines of order OX disagree on {column}.", (
        "that column alone"
    )


def test_the_disagreement_message_names_each_column_that_differs_in_the_users_language(
    engine: Engine, seeded: Workspace, tmp_path: Path
) -> None:
    rows = [
        ("OX", 1, *AGREEING, "P1", "680"),
        ("OX", 2, "C001", "2025-03-01 10:00", "paid", "web", "信義店", "TWD", "P2", "250"),
    ]
    report = _import(engine, seeded, "orders", write_csv(tmp_path / "o.csv", HEADED, rows))
    assert [e.message("en") for e in report.errors] == [
        "The lines of order OX disagree on status, channel."
    ] * 2
    assert report.errors[0].message("zh-Hant") == "訂單 OX 的各行在 status、channel 上不一致。"


@pytest.mark.parametrize("blank_line", [1, 2])
def test_a_header_value_left_blank_on_some_lines_is_taken_from_the_others(
    engine: Engine, seeded: Workspace, tmp_path: Path, blank_line: int
) -> None:
    """Blank on the first line, then on the last: a grouped query that took one line's value instead of the
    value no line leaves blank would get one of them wrong."""
    blank = (*AGREEING[:4], "", "TWD")
    rows = [
        ("OX", 1, *(blank if blank_line == 1 else AGREEING), "P1", "680"),
        ("OX", 2, *(blank if blank_line == 2 else AGREEING), "P2", "250"),
    ]
    report = _import(engine, seeded, "orders", write_csv(tmp_path / "o.csv", HEADED, rows))
    assert (report.inserted, report.rejected) == (2, 0)
    with transaction(engine) as session:
        order = session.scalars(select(Order).where(Order.workspace_id == seeded.id)).one()
        assert (order.store, order.total_minor) == ("信義店", 93_000)


def test_a_crash_during_merge_leaves_nothing_half_written_and_a_rerun_succeeds(
    engine: Engine, seeded: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(
        tmp_path / "o.csv",
        ORDER_HEADER,
        [("OX", 1, "C001", "2025-03-01", "completed", "web", "P1", 1, "680", "")],
    )
    original = OrderImport.merge

    def merge_then_die(self: OrderImport, ctx: ImportContext) -> MergeCounts:
        original(self, ctx)  # the orders and lines are written inside the transaction…
        raise KeyboardInterrupt  # …and the process is interrupted before commit

    monkeypatch.setattr(OrderImport, "merge", merge_then_die)
    with pytest.raises(KeyboardInterrupt):
        _import(engine, seeded, "orders", path)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).where(Order.workspace_id == seeded.id)) == 0
        assert session.scalar(select(func.count()).where(OrderLine.workspace_id == seeded.id)) == 0
    monkeypatch.setattr(OrderImport, "merge", original)
    assert _import(engine, seeded, "orders", path).inserted == 1


def test_interactions_without_ids_are_fingerprinted_so_reimports_do_not_duplicate(
    engine: Engine, seeded: Workspace, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {
                "customer_id": "C001",
                "occurred_at": "2025-03-01T10:00:00Z",
                "type": "Product View",
                "channel": "web",
                "product_id": "P1",
            },
            {
                "customer_id": "C001",
                "occurred_at": "2025-03-02T10:00:00Z",
                "type": "support_contact",
                "channel": "電話",
                "detail": "退款",
            },
            {
                "customer_id": "C001",
                "occurred_at": "2025-03-02T10:00:00Z",
                "type": "x",
                "channel": "web",
                "detail": {"nested": 1},
            },
        ],
    )
    first = _import(engine, seeded, "interactions", path)
    assert (first.inserted, first.rejected) == (2, 1)
    assert first.errors[0].code == "import.bad_json"
    assert Path(str(first.rejects_file)).suffix == ".jsonl"
    second = _import(engine, seeded, "interactions", path)
    assert (second.inserted, second.unchanged) == (0, 2)
    with transaction(engine) as session:
        kinds = set(session.scalars(select(Interaction.type).where(Interaction.workspace_id == seeded.id)))
        channels = set(
            session.scalars(select(Interaction.channel).where(Interaction.workspace_id == seeded.id))
        )
    assert kinds == {"product_view", "support_contact"} and channels == {"web", "phone"}


def test_excel_workbooks_import(engine: Engine, ws: Workspace, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["商品編號", "品名", "價格", "分類"])
    sheet.append(["X1", "東方美人茶", 880, "茶葉"])
    sheet.append(["X2", "手沖壺", "abc", "器具"])
    book.save(tmp_path / "products.xlsx")
    report = _import(engine, ws, "products", tmp_path / "products.xlsx")
    assert (report.format, report.inserted, report.rejected) == ("xlsx", 1, 1)
    assert (report.errors[0].line, report.errors[0].column, report.errors[0].code) == (
        3,
        "price",
        "import.not_number",
    )
    with transaction(engine) as session:
        product = session.scalars(select(Product).where(Product.workspace_id == ws.id)).one()
        assert (product.name, product.price_minor, product.category) == ("東方美人茶", 88_000, "茶葉")


@pytest.mark.parametrize("encoding", ["big5", "gbk", "utf-8-sig"])
def test_chinese_encodings_are_detected(engine: Engine, ws: Workspace, tmp_path: Path, encoding: str) -> None:
    names = (
        ["陳怡君", "林家豪", "黃雅婷", "張志明", "李淑芬"]
        if encoding != "gbk"
        else ["陈伟", "张芳", "刘娜", "杨敏", "赵静"]
    )
    rows = [(f"E{i}", name, "臺北市" if encoding != "gbk" else "北京市") for i, name in enumerate(names)]
    path = write_csv(tmp_path / f"{encoding}.csv", ("顧客編號", "姓名", "城市"), rows, encoding=encoding)
    report = _import(engine, ws, "customers", path)
    assert report.rejected == 0 and report.inserted == 5
    with transaction(engine) as session:
        stored = sorted(session.scalars(select(Customer.name).where(Customer.workspace_id == ws.id)))
    assert stored == sorted(names)


def test_undecodable_bytes_reject_the_row_instead_of_garbling_it(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("external_id,name\nOK1,王小明\n".encode() + b"BAD1,\xff\xfe\xfd\n")
    with pytest.raises(PatronError) as caught:
        _import(engine, ws, "customers", path)
    assert caught.value.code == "import.unknown_encoding", "neither UTF-8 nor Big5 nor GBK: ask, do not guess"
    report = _import(engine, ws, "customers", path, encoding="utf-8")
    assert (report.inserted, report.rejected) == (1, 1)
    assert (report.errors[0].line, report.errors[0].column, report.errors[0].code) == (
        3,
        "name",
        "import.bad_bytes",
    )


def test_a_huge_sparse_file_is_refused_quickly_without_reading_it(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # 2 GB of NUL bytes, sparse on disk
    with pytest.raises(PatronError) as caught:
        _import(engine, ws, "customers", path)
    assert caught.value.code == "import.binary_file"


def test_imports_never_cross_workspaces(engine: Engine, tmp_path: Path) -> None:
    first, second = make_workspace(engine), make_workspace(engine)
    _import(engine, first, "customers", customers_file(tmp_path / "c.csv"))
    orders = write_csv(
        tmp_path / "o.csv",
        ORDER_HEADER,
        [("O1", 1, "C001", "2025-03-01", "completed", "web", "", 1, "5", "")],
    )
    report = _import(engine, second, "orders", orders)
    assert report.errors[0].code == "import.unknown_customer", (
        "a customer of another workspace is unknown here"
    )
    same_ids = _import(engine, second, "customers", customers_file(tmp_path / "c2.csv"))
    assert same_ids.inserted == 3, "the same external ids are separate customers in another workspace"


NUMBERING_CASES = {
    # O1: h = 1, 5, 6, 7, (2 leaves 7), 8; O2: 1, 3; O3 as given
    "some lines numbered": (
        [("O1", ""), ("O2", ""), ("O1", 5), ("O1", ""), ("O2", 3), ("O1", ""), ("O1", 2), ("O1", ""), ("O3", 4), ("O3", 1)],
        ["O1/1", "O2/1", "O1/5", "O1/6", "O2/3", "O1/7", "O1/2", "O1/8", "O3/4", "O3/1"],
    ),
    "no line numbered": (
        [("O1", ""), ("O2", ""), ("O1", ""), ("O3", ""), ("O2", ""), ("O1", "")],
        ["O1/1", "O2/1", "O1/2", "O3/1", "O2/2", "O1/3"],
    ),
}  # fmt: skip


@pytest.mark.parametrize(("batch_rows", "remembered"), [(20_000, 500_000), (2, 500_000), (2, 1), (20_000, 0)])
@pytest.mark.parametrize("case", NUMBERING_CASES)
def test_a_line_without_a_number_takes_the_next_of_its_order_counting_every_earlier_line(
    engine: Engine,
    seeded: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_rows: int,
    remembered: int,
    case: str,
) -> None:
    """In file order: an unnumbered line is one above the highest number its order has had so far — whether
    numbered while reading or, for orders beyond those remembered, in SQL after staging."""
    monkeypatch.setattr(importing_engine, "BATCH_ROWS", batch_rows)  # lines of an order in other batches
    monkeypatch.setattr(OrderImport, "REMEMBERED_ORDERS", remembered)
    numbers, expected = NUMBERING_CASES[case]
    rows = [
        (order, line_no, "C001", "2025-03-01", "completed", "web", "P1", 1, str(100 + row), "")
        for row, (order, line_no) in enumerate(numbers)
    ]
    report = _import_orders(engine, seeded, tmp_path, rows)
    assert (report.inserted, report.rejected) == (len(rows), 0)
    with engine.connect() as connection:
        stored = connection.execute(
            select(Order.external_id, OrderLine.line_no, OrderLine.unit_price_minor)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.workspace_id == seeded.id)
        ).all()
    by_row = {price // 100 - 100: f"{order}/{line_no}" for order, line_no, price in stored}
    assert [by_row[row] for row in range(len(rows))] == expected


def test_postgresql_plans_the_next_statement_knowing_the_rows_an_import_just_wrote(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    """Without fresh statistics the planner took a just-imported catalogue for one row and compared every
    order line with every product: a nested loop that grows with lines × products."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL statistics")
    with engine.connect() as connection:
        others = connection.execute(select(func.count()).select_from(Product)).scalar_one()
    size = max(300, others // 5)  # a large write for this table, whatever earlier tests left in it
    catalogue = [(f"P{i:05d}", f"商品{i}", "tea", "100") for i in range(size)]
    header = ("external_id", "name", "category", "price")
    _import(engine, ws, "products", write_csv(tmp_path / "p.csv", header, catalogue))
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) SELECT id FROM products WHERE workspace_id = %(ws)s", {"ws": ws.id}
        ).scalar_one()
    assert plan[0]["Plan"]["Plan Rows"] >= size / 2, "the planner's estimate of this workspace's products"


def test_postgresql_analyses_after_a_write_of_a_tenth_of_a_table_or_more(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL statistics")
    with engine.connect() as connection, connection.begin() as transaction:
        connection.exec_driver_sql("CREATE TABLE analysed (n integer)")
        connection.exec_driver_sql("INSERT INTO analysed SELECT generate_series(1, 1000)")
        connection.exec_driver_sql("ANALYZE analysed")
        known = "SELECT reltuples FROM pg_class WHERE relname = 'analysed'"
        connection.exec_driver_sql("INSERT INTO analysed SELECT generate_series(1, 99)")
        assert keep_statistics(connection, ["analysed"], written=99) == []
        assert connection.exec_driver_sql(known).scalar_one() == 1000, "99 rows of 1,000: left alone"
        connection.exec_driver_sql("INSERT INTO analysed SELECT generate_series(1, 101)")
        assert keep_statistics(connection, ["analysed"], written=101) == ["analysed"]
        assert connection.exec_driver_sql(known).scalar_one() == 1200
        transaction.rollback()


def test_a_key_added_after_the_count_makes_the_plain_insert_give_way_to_the_upsert(
    engine: Engine, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing counted as existing means a plain INSERT; if another import added one of the keys since (here:
    the count is made to miss them), the insert's savepoint is undone and the upsert lands the file."""
    header = ("external_id", "name")
    _import(
        engine, ws, "customers", write_csv(tmp_path / "a.csv", header, [("C1", "王小明"), ("C2", "李小華")])
    )
    monkeypatch.setattr(customers_importing, "existing_count", lambda ctx, target: 0)
    again = write_csv(tmp_path / "b.csv", header, [("C1", "王大明"), ("C2", "李小華"), ("C3", "陳美玲")])
    report = _import(engine, ws, "customers", again)
    assert report.rejected == 0
    with engine.connect() as connection:
        stored = connection.execute(
            select(Customer.external_id, Customer.name)
            .where(Customer.workspace_id == ws.id)
            .order_by("external_id")
        ).all()
    assert [tuple(row) for row in stored] == [("C1", "王大明"), ("C2", "李小華"), ("C3", "陳美玲")]
    if engine.dialect.name == "postgresql":  # SQLite counts and merges under one write lock: no such race
        assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1), "counted by the statement"


def test_two_imports_of_the_same_new_orders_at_once_land_each_order_once(
    engine: Engine, seeded: Workspace, tmp_path: Path
) -> None:
    """Both count the orders as new; whichever writes second meets the first's keys and upserts instead."""
    rows = [
        (f"O{i:04d}", 1, "C001", "2025-03-01", "completed", "web", "P1", 1, "100", "") for i in range(2_000)
    ]
    path = write_csv(tmp_path / "orders.csv", ORDER_HEADER, rows)
    with ThreadPoolExecutor(2) as pool:
        reports = list(
            pool.map(lambda _: _import(engine, seeded, "orders", path, rejects_path=False), range(2))
        )
    assert [report.rejected for report in reports] == [0, 0]
    assert sorted((r.inserted, r.updated, r.unchanged) for r in reports) == [(0, 0, 2_000), (2_000, 0, 0)], (
        "the second import reports the lines as already there, even when it counted them as new"
    )
    with engine.connect() as connection:
        stored = connection.execute(
            select(func.count(Order.id), func.count(func.distinct(Order.external_id))).where(
                Order.workspace_id == seeded.id
            )
        ).one()
        lines = connection.execute(
            select(func.count()).select_from(OrderLine).where(OrderLine.workspace_id == seeded.id)
        ).scalar_one()
    assert (tuple(stored), lines) == ((2_000, 2_000), 2_000)


def test_an_import_leaves_the_sqlite_page_cache_as_it_found_it(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("a SQLite connection setting")
    with engine.connect() as connection:
        with connection.begin():
            before = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
        with connection.begin(), bulk_cache(connection):
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar_one() == BULK_CACHE_KIB
        with connection.begin():
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar_one() == before != BULK_CACHE_KIB


def test_imports_pause_the_garbage_collector_together_and_resume_it_after_the_last() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # a second import at the same time
            assert not gc.isenabled()
        assert not gc.isenabled(), "the first import is still running"
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled(), "a collector someone else switched off stays off"
    finally:
        gc.enable()


def test_an_import_that_fails_resumes_the_garbage_collector(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "customers.csv", ("external_id", "name"), [("C1", "王小明")])
    with (
        pytest.raises(RuntimeError),
        patch.object(CustomerImport, "merge", side_effect=RuntimeError("disk full")),
    ):
        _import(engine, ws, "customers", path)
    assert gc.isenabled()


# One order of two lines (X2002) between two good orders; its first or its second line is broken in one of three
# ways. A file without quotes is read by pyarrow, which gives up on the wrong width and the undecodable bytes and
# hands the file to the row reader; a quoted cell sends the whole file to the row reader from the start.
_WHOLE_ORDER_HEADER = b"order_id,line_no,customer_id,ordered_at,product_id,unit_price\n"
_GOOD = {
    "X2001": b"X2001,1,C001,2025-03-01,P1,680\n",
    "X2002/1": b"X2002,1,C002,2025-03-02,P1,680\n",
    "X2002/2": b"X2002,2,C002,2025-03-02,P2,250\n",
    "X2003": b"X2003,1,C003,2025-03-03,P1,680\n",
}
_BROKEN = {
    "wrong_width": (b"NT$1,299", None, "import.too_many_cells"),  # an unquoted thousands separator
    "undecodable_bytes": (b"\xff\xfe", "product_id", "import.bad_bytes"),
    "bad_value": (b"twelve", "unit_price", "import.not_number"),
}


@pytest.mark.parametrize("reader", ["pyarrow", "rows"])
@pytest.mark.parametrize("broken_line", [1, 2])
@pytest.mark.parametrize("kind", list(_BROKEN))
def test_a_row_level_rejection_of_one_line_rejects_its_whole_order(
    engine: Engine, seeded: Workspace, tmp_path: Path, kind: str, broken_line: int, reader: str
) -> None:
    cells, column, code = _BROKEN[kind]
    lines = dict(_GOOD)
    victim = f"X2002/{broken_line}"
    if kind == "undecodable_bytes":
        lines[victim] = lines[victim].replace(b",P", b",P" + cells)
    else:
        lines[victim] = lines[victim].rsplit(b",", 1)[0] + b"," + cells + b"\n"
    if reader == "rows":
        lines["X2003"] = b'X2003,1,C003,"2025-03-03",P1,680\n'
    path = tmp_path / "orders.csv"
    path.write_bytes(_WHOLE_ORDER_HEADER + b"".join(lines.values()))
    report = _import(engine, seeded, "orders", path, encoding="utf-8", locale="en")

    bad, other = (3, 4) if broken_line == 1 else (4, 3)
    assert [(e.line, e.column, e.code) for e in report.errors] == sorted(
        [(bad, column, code), (other, "order_id", "import.group_rejected")]
    )
    assert (report.inserted, report.rejected) == (2, 2)
    with transaction(engine) as session:
        stored = session.scalars(select(Order.external_id).where(Order.workspace_id == seeded.id))
        assert sorted(stored) == ["X2001", "X2003"], "X2002 must not land with one of its two lines"
    rejected = _rows(Path(str(report.rejects_file)))
    assert [int(r["_line"]) for r in rejected] == [3, 4], "both lines of the order, in line order"


def test_rejected_rows_are_listed_in_line_order_and_the_first_by_line_are_kept(
    engine: Engine, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The duplicate key on lines 2 and 3 is found in SQL after every row was read, the bad emails while reading;
    the report and the rejects file still go down the file, and a capped report keeps its first lines."""
    monkeypatch.setattr(importing_engine, "MAX_KEPT_ERRORS", 3)
    rows = [("A", "a@example.com"), ("A", "a@example.com"), *((f"B{i}", "not-an-email") for i in range(6))]
    report = _import(engine, ws, "customers", write_csv(tmp_path / "c.csv", ("external_id", "email"), rows))
    assert [(e.line, e.code) for e in report.errors] == [
        (2, "import.duplicate_key"),
        (3, "import.duplicate_key"),
        (4, "import.not_email"),
    ]
    assert sum(report.error_counts.values()) == report.rejected == 8
    assert [int(r["_line"]) for r in _rows(Path(str(report.rejects_file)))] == list(range(2, 10))
