"""The ``patron`` command as a user runs it: clear messages and exit codes, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from tests.factories import customers_file, make_workspace, write_csv

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})


def test_workspace_user_and_api_key_lifecycle(engine: Engine) -> None:
    slug = make_workspace(engine).slug + "-cli"
    assert (
        runner.invoke(app, ["workspaces", "create", slug, "--name", "茶行", "--currency", "TWD"]).exit_code
        == 0
    )
    duplicate = runner.invoke(app, ["workspaces", "create", slug])
    assert duplicate.exit_code == 2 and f"Workspace {slug} already exists." in duplicate.output
    created = runner.invoke(
        app, ["users", "create", "boss@example.com", "--password", "0123456789ab", "-w", slug]
    )
    assert created.exit_code == 0, created.output
    short = runner.invoke(
        app,
        [
            "users",
            "create",
            "b2@example.com",
            "--password",
            "short",
            "-w",
            slug,
        ],
    )
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    minted = runner.invoke(app, ["apikeys", "create", "shop", "-w", slug])
    key = minted.output.strip().splitlines()[-1]
    assert key.startswith("ptr_")
    assert key.split("_")[1] in runner.invoke(app, ["apikeys", "list", "-w", slug]).output
    assert runner.invoke(app, ["apikeys", "revoke", key.split("_")[1], "-w", slug]).exit_code == 0


def test_import_then_show_a_customer(engine: Engine, tmp_path: Path) -> None:
    slug = make_workspace(engine).slug
    path = customers_file(tmp_path / "c.csv")
    result = runner.invoke(app, ["import", "customers", str(path), "-w", slug, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["inserted"] == 3
    shown = runner.invoke(app, ["customers", "show", "C002", "-w", slug, "--json"])
    assert json.loads(shown.output)["profile"]["email"] == "c2@example.com"
    table = runner.invoke(app, ["customers", "show", "C002", "-w", slug])
    assert "顧客2" in table.output


def test_rejected_rows_exit_1_and_name_the_rejects_file(engine: Engine, tmp_path: Path) -> None:
    slug = make_workspace(engine).slug
    path = write_csv(tmp_path / "c.csv", ("external_id", "birthday"), [("A", "1990-01-01"), ("B", "明天")])
    result = runner.invoke(app, ["import", "customers", str(path), "-w", slug, "--lang", "zh-Hant"])
    assert result.exit_code == 1
    assert "1 rejected" in result.output and "不是日期" in result.output
    assert (tmp_path / "c.rejects.csv").exists()


def test_user_errors_are_one_line_not_a_traceback(engine: Engine, tmp_path: Path) -> None:
    slug = make_workspace(engine).slug
    cases = [
        (["import", "customers", str(tmp_path / "missing.csv"), "-w", slug], "File not found"),
        (
            ["import", "pets", str(customers_file(tmp_path / "c.csv")), "-w", slug],
            "Unknown import kind 'pets'",
        ),
        (
            [
                "import",
                "customers",
                str(tmp_path / "c.csv"),
                "-w",
                slug,
                "--lang",
                "zh-Hans",
                "--encoding",
                "x",
            ],
            "未知的编码名称“x”",
        ),
        (["customers", "show", "C1", "-w", "no-such-ws"], "No workspace no-such-ws"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output


def test_customer_times_are_shown_in_the_workspace_zone(engine: Engine, tmp_path: Path) -> None:
    slug = make_workspace(engine).slug
    runner.invoke(app, ["import", "customers", str(customers_file(tmp_path / "c.csv")), "-w", slug])
    shown = runner.invoke(app, ["customers", "show", "C001", "-w", slug])
    assert "2024-01-01 10:00" in shown.output, "signed up 10:00 Taipei time, stored as 02:00 UTC"
