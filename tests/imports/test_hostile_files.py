"""Hostile files (issue 18) are refused row by row or whole with a named reason, on SQLite and PostgreSQL,
through the engine and the CLI; the bounds are settings, lowered here so the files stay small."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.commerce.models import Interaction, Order
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.core.settings import get_settings
from patron.core.tabular import json_too_deep
from patron.customers.models import Customer
from patron.importers import import_file
from tests.factories import ORDER_HEADER, customers_file, make_workspace, products_file, write_csv
from tests.hostile import (
    deep_jsonl,
    nul_past_the_sample,
    unclosed_quote_csv,
    write_workbook,
    xlsx_of,
    xlsx_with_one_huge_string,
)

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})


@pytest.fixture
def ws(engine: Engine) -> Workspace:
    return make_workspace(engine)


@pytest.fixture
def seeded(engine: Engine, ws: Workspace, tmp_path: Path) -> Workspace:
    import_file(engine, workspace_slug=ws.slug, kind="customers", path=customers_file(tmp_path / "c0.csv"))
    import_file(engine, workspace_slug=ws.slug, kind="products", path=products_file(tmp_path / "p0.csv"))
    return ws


def _import(engine: Engine, ws: Workspace, kind: str, path: Path):  # type: ignore[no-untyped-def]
    return import_file(engine, workspace_slug=ws.slug, kind=kind, path=path)


def _errors(report) -> list[tuple[int, str | None, str]]:  # type: ignore[no-untyped-def]
    return [(e.line, e.column, e.code) for e in report.errors]


def _names(engine: Engine, ws: Workspace) -> dict[str, str | None]:
    with transaction(engine) as session:
        rows = session.execute(
            select(Customer.external_id, Customer.name).where(Customer.workspace_id == ws.id)
        )
        return dict(rows.all())  # type: ignore[arg-type]


def test_an_unclosed_quote_is_refused_on_its_line_and_the_lines_after_it_are_rows(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    # Before: "read 3 rows, 3 inserted, 0 rejected" and Q3's name held lines 4–6 of the file.
    report = _import(engine, ws, "customers", unclosed_quote_csv(tmp_path / "q.csv", rows=5))
    assert (report.rows_read, report.inserted, report.rejected) == (5, 4, 1)
    assert _errors(report) == [(4, None, "import.unclosed_quote")]
    assert _names(engine, ws) == {"Q1": "name 1", "Q2": "name 2", "Q4": "name 4", "Q5": "name 5"}
    rejects = (tmp_path / "q.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejects[1].startswith("4,") and "Q3" in rejects[1]


def test_an_unclosed_quote_in_an_order_rejects_that_order_and_the_rest_of_the_file_lands(
    engine: Engine, seeded: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    when = "2025-03-01T10:00:00+08:00"
    path.write_text(
        ",".join(ORDER_HEADER) + "\n"
        f"O1,1,C001,{when},completed,web,P1,1,680,\n"
        f'O2,1,C002,{when},completed,"web,P1,1,680,\n'  # line 3: the quote never closes
        f"O2,2,C002,{when},completed,web,P2,1,250.50,\n"
        f"O3,1,C003,{when},completed,web,P2,2,250.50,\n",
        encoding="utf-8",
    )
    report = _import(engine, seeded, "orders", path)
    assert report.rows_read == 4
    assert _errors(report) == [(3, None, "import.unclosed_quote"), (4, "order_id", "import.group_rejected")]
    with transaction(engine) as session:
        orders = session.execute(
            select(Order.external_id, Order.total_minor).where(Order.workspace_id == seeded.id)
        )
        assert dict(orders.all()) == {"O1": 68_000, "O3": 50_100}  # 680.00; 2 × 250.50


def test_an_unclosed_quote_in_interactions_loses_no_later_row(
    engine: Engine, seeded: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    lines = [f"C00{i % 3 + 1},2025-03-0{i}T10:00:00Z,product_view,web,note {i}" for i in range(1, 7)]
    lines[1] = 'C003,2025-03-02T10:00:00Z,support_contact,chat,"the box was'  # line 3
    path.write_text(
        "customer_id,occurred_at,type,channel,detail\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    report = _import(engine, seeded, "interactions", path)
    assert (report.rows_read, report.inserted, report.rejected) == (6, 5, 1)
    assert _errors(report) == [(3, None, "import.unclosed_quote")]
    with transaction(engine) as session:
        details = session.scalars(select(Interaction.detail).where(Interaction.workspace_id == seeded.id))
        assert sorted(d or "" for d in details) == ["note 1", "note 3", "note 4", "note 5", "note 6"]


def test_a_quoted_cell_may_span_lines_up_to_the_bound_and_one_past_it_is_refused(
    engine: Engine, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "import_max_record_lines", 3)
    path = tmp_path / "m.csv"
    path.write_text(
        'external_id,name\nM1,"one\ntwo\nthree"\nM2,"x\nM3,c\nM4,d\nM5,e\nM6,f"\n', encoding="utf-8"
    )  # M1: lines 2–4, three lines; M2's quote runs from line 5 to line 9, five lines
    report = _import(engine, ws, "customers", path)
    assert (report.rows_read, report.inserted, report.rejected) == (6, 5, 1)
    assert [(e.line, e.code, e.params) for e in report.errors] == [
        (5, "import.record_too_long", {"lines": 3})
    ]
    names = _names(engine, ws)
    assert names["M1"] == "one\ntwo\nthree" and names["M3"] == "c" and names["M6"] == 'f"'


def test_deep_json_is_refused_on_its_line(engine: Engine, ws: Workspace, tmp_path: Path) -> None:
    # Before: RecursionError, a traceback on the CLI and a 500 on the API
    report = _import(engine, ws, "customers", deep_jsonl(tmp_path / "deep.jsonl", 100_000))
    assert (report.rows_read, report.inserted, report.rejected) == (3, 2, 1)
    assert [(e.line, e.code, e.params) for e in report.errors] == [(2, "import.json_too_deep", {"limit": 32})]
    assert _names(engine, ws) == {"J1": "一", "J3": "三"}
    rejects = (tmp_path / "deep.rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["_line"] for line in rejects] == [2]


def test_json_depth_is_counted_outside_strings() -> None:
    assert not json_too_deep("[" * 32 + "]" * 32)
    assert json_too_deep("[" * 33)
    assert json_too_deep('{"a":' * 33 + "1" + "}" * 33)
    assert not json_too_deep('{"a": "' + "[" * 100 + '"}')  # brackets in a string are text
    assert not json_too_deep('{"a": "\\"' + "{" * 100 + '"}')  # an escaped quote does not end the string


def test_a_nul_character_past_the_first_256_kb_rejects_its_row_by_line_and_column(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    # Before: stored on SQLite, and PostgreSQL's COPY failed (a 500 over HTTP)
    path = nul_past_the_sample(tmp_path / "nul.csv")
    assert path.stat().st_size > 256 * 1024
    report = _import(engine, ws, "customers", path)
    assert (report.rows_read, report.inserted, report.rejected) == (3_001, 3_000, 1)
    assert [(e.line, e.column, e.code, e.params) for e in report.errors] == [
        (3_002, "email", "import.nul_character", {"position": 16})  # "bad@example.com" is 15 characters
    ]
    assert "NUL" not in _names(engine, ws)


def test_cells_past_the_length_bound_are_rejected_by_line_and_column(
    engine: Engine, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "import_max_cell_chars", 10)
    path = write_csv(tmp_path / "long.csv", ("external_id", "name"), [("L1", "x" * 10), ("L2", "y" * 11)])
    report = _import(engine, ws, "customers", path)
    assert [(e.line, e.column, e.code, e.params) for e in report.errors] == [
        (3, "name", "import.cell_too_long", {"length": 11, "limit": 10})
    ]
    assert _names(engine, ws) == {"L1": "x" * 10}
    rejects = (tmp_path / "long.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejects[1].endswith(",L2,yyyyyyyyyy")  # the rejects file holds cells up to the bound too


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_line_past_the_length_bound_is_skipped_and_refused(
    engine: Engine, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setattr(get_settings(), "import_max_line_chars", 100)
    path = tmp_path / f"lines.{suffix}"
    if suffix == "csv":  # a quote somewhere: the row reader, which meets what pyarrow would hand back
        rows = ["external_id,name", '"K1",a', "K2," + "b" * 300, "K3,c"]
    else:
        rows = [
            json.dumps({"external_id": k, "name": v})
            for k, v in (("K1", "a"), ("K2", "b" * 300), ("K3", "c"))
        ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = _import(engine, ws, "customers", path)
    line = 3 if suffix == "csv" else 2
    assert [(e.line, e.code, e.params) for e in report.errors] == [
        (line, "import.line_too_long", {"limit": 100})
    ]
    assert _names(engine, ws) == {"K1": "a", "K3": "c"}


def test_a_workbook_with_one_huge_string_is_refused_before_it_is_opened(
    engine: Engine, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The probe's file: 400 MB of one inline string in 412 KB, 3.2 GB of memory. Here 50,000 characters
    # against a bound of 1,000 (10,000 bytes of XML).
    monkeypatch.setattr(get_settings(), "import_max_cell_chars", 1_000)
    path = xlsx_with_one_huge_string(tmp_path / "huge.xlsx", 50_000)
    with pytest.raises(PatronError) as refused:
        _import(engine, ws, "customers", path)
    assert (refused.value.code, refused.value.params["row"], refused.value.params["limit"]) == (
        "import.xlsx_cell_too_long",
        2,
        1_000,
    )
    # within the XML bound but past the cell's: the row is rejected, by line and column
    report = _import(engine, ws, "customers", xlsx_with_one_huge_string(tmp_path / "long.xlsx", 5_000))
    assert [(e.line, e.column, e.code) for e in report.errors] == [(2, "name", "import.cell_too_long")]


def test_a_workbook_past_the_columns_cells_or_unzipped_size_is_refused(
    engine: Engine, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The probe's sheet had 2,000 × 16,384 cells (351 s of CPU); 1,025 columns pass the default bound.
    with pytest.raises(PatronError) as wide:
        _import(engine, ws, "customers", xlsx_of(tmp_path / "wide.xlsx", rows=3, columns=1_025))
    assert (wide.value.code, wide.value.params["columns"]) == ("import.sheet_too_large", 1_025)
    bare = xlsx_of(tmp_path / "bare.xlsx", rows=3, columns=1_025, references=False)
    with pytest.raises(PatronError) as unreferenced:  # cells without references are counted
        _import(engine, ws, "customers", bare)
    assert unreferenced.value.code == "import.sheet_too_large"
    monkeypatch.setattr(get_settings(), "import_max_sheet_cells", 50)
    with pytest.raises(PatronError) as many:
        _import(engine, ws, "customers", xlsx_of(tmp_path / "many.xlsx", rows=17, columns=3))  # 51 cells
    assert (many.value.code, many.value.params["rows"], many.value.params["columns"]) == (
        "import.sheet_too_large",
        17,
        3,
    )
    report = _import(engine, ws, "customers", xlsx_of(tmp_path / "fits.xlsx", rows=16, columns=3))  # 48
    assert (report.rows_read, report.inserted) == (15, 15)
    bare = xlsx_of(tmp_path / "bare-fits.xlsx", rows=16, columns=3, references=False)
    again = _import(engine, ws, "customers", bare)
    assert (again.rows_read, again.unchanged) == (15, 15)  # the same rows, read without references
    monkeypatch.setattr(get_settings(), "import_max_unzipped_bytes", 1_000)
    with pytest.raises(PatronError) as unzipped:
        _import(engine, ws, "customers", xlsx_of(tmp_path / "big.xlsx", rows=16, columns=3))
    assert unzipped.value.code == "import.xlsx_too_large"


def test_a_sheet_whose_dimension_claims_fewer_rows_loses_none(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{k}</t></is></c></row>'
        for r, k in enumerate(["external_id", "D1", "D2", "D3", "D4"], start=1)
    )
    path = write_workbook(tmp_path / "dim.xlsx", iter([rows]), dimension="A1:A2")
    report = _import(engine, ws, "customers", path)
    assert (report.rows_read, report.inserted) == (4, 4)  # openpyxl alone stopped at the dimension's row 2


def test_the_cli_reports_hostile_files_in_one_line_each(
    engine: Engine, ws: Workspace, tmp_path: Path
) -> None:
    quoted = runner.invoke(app, ["import", "customers", str(unclosed_quote_csv(tmp_path / "q.csv", 5)),
                                 "-w", ws.slug, "--json"])  # fmt: skip
    assert quoted.exit_code == 1, quoted.output
    report = json.loads(quoted.stdout)
    assert (report["rows_read"], report["inserted"], report["rejected"]) == (5, 4, 1)
    assert report["errors"][0]["line"] == 4
    deep = runner.invoke(
        app, ["import", "customers", str(deep_jsonl(tmp_path / "d.jsonl", 100_000)), "-w", ws.slug]
    )
    assert deep.exit_code == 1 and "Traceback" not in deep.output
    assert "nested more than 32 levels" in deep.output
    wide = runner.invoke(app, ["import", "customers", str(xlsx_of(tmp_path / "w.xlsx", 3, 1_025)), "-w", ws.slug,
                               "--lang", "zh-Hant"])  # fmt: skip
    assert wide.exit_code == 2 and "Traceback" not in wide.output
    assert "3 列 × 1025 欄" in wide.output and len(wide.output.strip().splitlines()) == 1


def test_the_cli_says_once_that_a_large_import_on_sqlite_holds_other_writers(
    engine: Engine, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "sqlite_large_import_bytes", 100)
    path = customers_file(tmp_path / "c.csv")
    result = runner.invoke(app, ["import", "customers", str(path), "-w", ws.slug, "--lang", "zh-Hans"])
    assert result.exit_code == 0, result.output
    notice = "大型导入请在非高峰时段执行"
    assert (notice in result.stderr) == (engine.dialect.name == "sqlite")
    monkeypatch.setattr(get_settings(), "sqlite_large_import_bytes", 10**9)
    quiet = runner.invoke(app, ["import", "customers", str(path), "-w", ws.slug, "--lang", "zh-Hans"])
    assert notice not in quiet.stderr
