"""The ``patron`` command as a user runs it: clear messages and exit codes, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron import cli
from patron.cli import app
from patron.core.i18n import LOCALES, catalog
from patron.core.settings import get_settings
from patron.importers import IMPORT_SPECS
from patron.surveys import distribution
from patron.surveys.distribution import Skip
from tests.factories import customers_file, make_workspace, write_csv

ROOT = Path(__file__).resolve().parents[1]

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
    assert "新增 1" in result.output and "拒絕 1" in result.output and "不是日期" in result.output
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


def _one_line(result: object) -> str:
    """The error a command printed: exactly one line on stderr, no traceback."""
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output  # type: ignore[attr-defined]
    return str(lines[0])


def test_metrics_on_a_missing_or_empty_parquet_folder_is_one_line_and_exit_2(
    engine: Engine, tmp_path: Path
) -> None:
    slug = make_workspace(engine).slug
    (tmp_path / "empty").mkdir()
    missing = runner.invoke(app, ["metrics", "nps", "--parquet", str(tmp_path / "nonexistent"), "-w", slug])
    assert missing.exit_code == 2
    assert (
        _one_line(missing)
        == f"{tmp_path / 'nonexistent'} is not a folder; --parquet takes the folder that patron export parquet wrote."
    )
    empty = runner.invoke(
        app, ["metrics", "nps", "--parquet", str(tmp_path / "empty"), "-w", slug, "--lang", "zh-Hant"]
    )
    assert empty.exit_code == 2
    assert _one_line(empty) == (
        f"{tmp_path / 'empty'} 中沒有 answer_facts.parquet、orders.parquet；請先以 patron export parquet {tmp_path / 'empty'} 寫出。"
    )
    spark = runner.invoke(
        app, ["metrics", "nps", "--parquet", str(tmp_path / "empty"), "--engine", "spark", "-w", slug]
    )
    assert spark.exit_code == 2 and "has no answer_facts.parquet" in _one_line(spark), (
        "checked before Spark starts"
    )


def test_an_unexpected_error_is_one_line_and_exit_2_with_a_way_to_see_the_traceback(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk caught fire\nsecond line")

    monkeypatch.setattr(cli.core_service, "list_workspaces", broken)
    result = runner.invoke(app, ["workspaces", "list"])
    assert result.exit_code == 2
    assert _one_line(result) == (
        "Unexpected error (RuntimeError: the disk caught fire). Run again with PATRON_DEBUG=1 to see where it "
        "happened, and please report it."
    )
    debug = runner.invoke(app, ["workspaces", "list"], env={"PATRON_DEBUG": "1"})
    assert isinstance(debug.exception, RuntimeError), "PATRON_DEBUG=1 lets the traceback through"


def test_an_unwritable_file_is_named_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where a folder should be", encoding="utf-8")
    result = runner.invoke(
        app, ["surveys", "templates", "--export", str(tmp_path / "taken"), "--lang", "zh-Hans"]
    )
    assert result.exit_code == 2 and _one_line(result).startswith(f"无法使用 {tmp_path / 'taken'}：")


def test_templates_export_says_what_it_wrote(tmp_path: Path) -> None:
    result = runner.invoke(app, ["surveys", "templates", "--export", str(tmp_path / "t")])
    written = sorted(path.name for path in (tmp_path / "t").iterdir())
    assert result.exit_code == 0 and len(written) == 5
    assert f"5 templates written to {tmp_path / 't'}: {', '.join(written)}" in result.output


def test_survey_definition_errors_are_translated_with_the_field_path(engine: Engine, tmp_path: Path) -> None:
    slug = make_workspace(engine).slug
    path = tmp_path / "s.yaml"
    path.write_text(
        "key: quick\nkind: csat\ntouchpoint: relationship\nname: 快速調查\nquestions:\n"
        "  - {key: nps, type: nps, label: 推薦嗎}\n  - {key: c, type: csat, label: 滿意嗎, scale: 7}\n",
        encoding="utf-8",
    )
    english = runner.invoke(app, ["surveys", "create", str(path), "-w", slug])
    assert english.exit_code == 2
    assert _one_line(english) == f"The survey in {path} is not valid: questions[1].scale: must be 5 or 10."
    chinese = runner.invoke(app, ["surveys", "create", str(path), "-w", slug, "--lang", "zh-Hant"])
    assert _one_line(chinese) == f"{path} 中的問卷定義無效：questions[1].scale：必須是 5 或 10。"
    assert "Input should" not in chinese.output


@pytest.mark.parametrize(
    ("env", "args", "header", "message"),
    [
        (
            {"LANG": "C.UTF-8"},
            [],
            "代碼",
            "找不到工作區 no-such-ws",
        ),  # C names no language: the default, zh-Hant
        ({"LANG": "zh_CN.UTF-8"}, [], "代码", "找不到工作区 no-such-ws"),
        ({"LANG": "zh_CN.UTF-8", "PATRON_LANG": "en"}, [], "slug", "No workspace no-such-ws"),
        (
            {"LANG": "en_US.UTF-8", "PATRON_LANG": "zh-Hans"},
            ["--lang", "zh-Hant"],
            "代碼",
            "找不到工作區 no-such-ws",
        ),
    ],
)
def test_table_chrome_and_messages_speak_the_same_language(
    engine: Engine, env: dict[str, str], args: list[str], header: str, message: str
) -> None:
    """Under LANG=C.UTF-8 the headers were English while the messages were Chinese."""
    speaking = CliRunner(env={"LC_ALL": None, "LC_MESSAGES": None, "PATRON_LANG": None, **env})
    listed = speaking.invoke(app, ["workspaces", "list", *args])
    assert listed.exit_code == 0 and header in listed.output.splitlines()[1]
    failed = speaking.invoke(app, ["customers", "show", "C1", "-w", "no-such-ws", *args])
    assert failed.exit_code == 2 and _one_line(failed).startswith(message)


def test_every_import_kind_and_skip_reason_has_its_words() -> None:
    """Codes the CLI builds at run time, which the source scan cannot see."""
    built = {f"import.kind_{kind}" for kind in IMPORT_SPECS} | {f"cli.skip_{reason.value}" for reason in Skip}
    for locale in LOCALES:
        assert built <= set(catalog(locale)), locale


def test_an_import_summary_and_its_rejects_table_follow_the_language(engine: Engine, tmp_path: Path) -> None:
    slug = make_workspace(engine).slug
    path = write_csv(
        tmp_path / "c.csv",
        ("external_id", "email", "colour"),
        [("A", "a@example.com", "red"), ("B", "x", "")],
    )
    result = CliRunner(
        env={"LANG": "zh_CN.UTF-8", "LC_ALL": None, "LC_MESSAGES": None, "PATRON_LANG": None}
    ).invoke(app, ["import", "customers", str(path), "-w", slug])
    assert result.exit_code == 1
    assert f"客户：从 {path}（csv，utf-8）读取 2 行，新增 1、更新 0、未变更 0、拒绝 1" in result.output
    assert "忽略的列：colour" in result.output and "被拒绝的行（前 20 行）" in result.output
    assert "read 2 rows" not in result.output


def test_serve_makes_links_follow_the_port_unless_a_base_url_is_set(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    import uvicorn

    seen: dict[str, object] = {}

    def run(*args: object, **kwargs: object) -> None:  # what the server would mint while it runs
        seen.update(
            kwargs, link=distribution.public_link("shop", "nps"), env=os.environ.get("PATRON_BASE_URL")
        )

    monkeypatch.setattr(uvicorn, "run", run)
    for name in ("PATRON_BASE_URL", "PATRON_PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    served = runner.invoke(app, ["serve", "--port", "8123"])
    assert served.exit_code == 0, served.output
    assert seen["port"] == 8123 and seen["link"] == "http://127.0.0.1:8123/p/shop/nps"
    assert seen["env"] == "http://127.0.0.1:8123", "workers started by uvicorn read it from the environment"
    assert "http://127.0.0.1:8123/docs" in served.output
    monkeypatch.delenv("PATRON_BASE_URL")  # serve set it for its workers; a new process starts without
    get_settings.cache_clear()
    everywhere = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8124"])
    assert seen["link"] == "http://127.0.0.1:8124/p/shop/nps" and "PATRON_BASE_URL" in everywhere.output
    monkeypatch.setenv("PATRON_BASE_URL", "https://cx.example.com/")
    get_settings.cache_clear()
    runner.invoke(app, ["serve", "--port", "8125"])
    assert seen["link"] == "https://cx.example.com/p/shop/nps"
    get_settings.cache_clear()


def test_demo_load_prints_the_login_at_the_port_make_demo_serves(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = make_workspace(engine).slug
    runner.invoke(app, ["import", "customers", str(customers_file(tmp_path / "c.csv")), "-w", slug])
    monkeypatch.delenv("PATRON_BASE_URL", raising=False)
    get_settings.cache_clear()
    loaded = runner.invoke(app, ["demo", "load", "--if-empty", "--workspace", slug, "--port", "8123"])
    assert loaded.exit_code == 0 and "log in at http://127.0.0.1:8123/login as" in loaded.output
    monkeypatch.setenv("PATRON_BASE_URL", "https://cx.example.com")
    get_settings.cache_clear()
    configured = runner.invoke(app, ["demo", "load", "--if-empty", "--workspace", slug, "--port", "8123"])
    assert "log in at https://cx.example.com/login as" in configured.output
    get_settings.cache_clear()


def test_make_demo_passes_its_port_and_host_to_the_demo_and_the_server() -> None:
    planned = subprocess.run(
        ["make", "-n", "demo", "PORT=8123", "HOST=0.0.0.0", "STAMP=/dev/null"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    assert "demo load --if-empty --host 0.0.0.0 --port 8123" in planned
    assert "serve --host 0.0.0.0 --port 8123" in planned


def test_a_setting_that_does_not_parse_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_SMTP_PORT", "twenty-five")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["workspaces", "list", "--lang", "zh-Hant"])
    finally:
        monkeypatch.delenv("PATRON_SMTP_PORT")
        get_settings.cache_clear()
    assert result.exit_code == 2 and _one_line(result) == "設定無效：PATRON_SMTP_PORT：必須是整數。"


@pytest.mark.parametrize(
    ("args", "lang", "expected"),
    [
        (["metrics", "nps", "--bogus"], "zh_TW.UTF-8", "沒有「--bogus」這個選項。請執行「patron metrics --help」查看用法。"),
        (["metrics", "nps", "--lan", "en"], "en_US.UTF-8",
         "There is no option --lan. Did you mean --grain, --lang? See 'patron metrics --help'."),
        (["metrics"], "zh_CN.UTF-8", "缺少 NAME。请运行「patron metrics --help」查看用法。"),
        (["serve", "--port", "abc"], "zh_TW.UTF-8", "--port 的值無效：必須是整數。請執行「patron serve --help」查看用法。"),
        (["serve", "--port", "abc", "--lang", "en"], "zh_TW.UTF-8",
         "Invalid value for --port: must be a whole number. See 'patron serve --help'."),
        (["nosuch"], "en_US.UTF-8", "There is no command nosuch; the commands are import, metrics, serve, servqual, db, "
         "workspaces, users, apikeys, customers, demo, surveys, webhooks, export, clv, churn, loyalty, assistant, eval, feedback, social. See 'patron --help'."),
    ],
)  # fmt: skip
def test_a_mistyped_command_line_is_one_line_in_the_users_language_and_exit_2(
    args: list[str], lang: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PATRON_LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, args, env={"LANG": lang}, prog_name="patron")
    assert result.exit_code == 2
    assert _one_line(result) == expected


def test_a_database_never_upgraded_says_to_upgrade_it(tmp_path: Path) -> None:
    """A new user who runs a command before ``patron db upgrade`` is told so, not "unexpected error"."""
    from sqlalchemy import create_engine

    from patron.core.db import set_engine

    empty = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    set_engine(empty)
    try:
        zh = runner.invoke(app, ["workspaces", "list", "--lang", "zh-Hant"])
        en = runner.invoke(app, ["loyalty", "program", "--lang", "en"])
    finally:
        set_engine(None)
        empty.dispose()
    assert zh.exit_code == 2 and _one_line(zh) == (
        "資料庫還沒有 Patron 的資料表：請先執行 patron db upgrade（資料庫由 PATRON_DATABASE_URL 指定）。"
    )
    assert en.exit_code == 2 and _one_line(en).startswith(
        "The database has no Patron tables yet: run patron db"
    )


def test_postgresqls_undefined_table_is_read_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import ProgrammingError

    class UndefinedTable(Exception):
        sqlstate = "42P01"

    def missing(*args: object, **kwargs: object) -> None:
        raise ProgrammingError(
            "SELECT … FROM workspaces", {}, UndefinedTable('relation "workspaces" does not exist')
        )

    monkeypatch.setattr(cli.core_service, "list_workspaces", missing)
    result = runner.invoke(app, ["workspaces", "list", "--lang", "zh-Hans"])
    assert result.exit_code == 2 and _one_line(result).startswith("数据库还没有 Patron 的数据表")
