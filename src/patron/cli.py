"""The ``patron`` command. Each command owns its transaction; services never commit.

Everything it prints — messages, table headers, summaries — is in one language: ``--lang``, else ``PATRON_LANG``,
else the terminal's (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else ``PATRON_DEFAULT_LOCALE``. Every error is one
line on stderr in that language with exit code 2, never a traceback (``PATRON_DEBUG=1`` shows it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError
from typer._click import exceptions as click_exceptions  # Typer bundles its own Click
from typer.core import TyperGroup

from patron.cli_help import localize_help
from patron.core import migrate, validation
from patron.core import service as core_service
from patron.core.clock import utcnow
from patron.core.db import get_engine, transaction
from patron.core.errors import PatronError
from patron.core.i18n import join_list, normalize_locale, translate
from patron.core.importing import ImportReport
from patron.core.settings import DEFAULT_HOST, DEFAULT_PORT, Settings, get_settings, local_url
from patron.customers import erasure
from patron.customers import service as customer_service
from patron.importers import IMPORT_SPECS, import_file


class _FriendlyGroup(TyperGroup):
    """The top-level command group: whatever a command raises ends as one translated line and exit code 2 —
    also a mistyped command line, which Click would report in an English box."""

    def invoke(self, ctx: Any) -> Any:  # a Context of the click copy Typer bundles
        _invocation.clear()
        with _friendly_errors():
            return super().invoke(ctx)

    def main(
        self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
        standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any,
    ) -> Any:  # fmt: skip
        def run() -> Any:
            return super(_FriendlyGroup, self).main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )

        given = list(args if args is not None else sys.argv[1:])
        _localize_help(self, given)
        if not standalone_mode:
            return run()
        try:
            outcome = run()
        except click_exceptions.NoArgsIsHelpError as shown:
            shown.show()
            sys.exit(shown.exit_code)
        except click_exceptions.UsageError as error:
            _say(_usage_line(error, _locale(_lang_given(given))), style="red", stream=errors)
            sys.exit(2)
        except typer.Abort:
            sys.exit(1)
        sys.exit(outcome if isinstance(outcome, int) else 0)


def _localize_help(command: TyperGroup, given: list[str]) -> None:
    """--help in the language of the rest of the output (``patron.cli_help``). Help in English is better than a
    command that does not run: when that fails, help is left in English (PATRON_DEBUG=1 shows the error)."""
    try:
        localize_help(command, _locale(_lang_given(given)))
    except Exception:
        if os.environ.get("PATRON_DEBUG", "").lower() in ("1", "true", "yes"):
            raise
        with suppress(Exception):
            localize_help(command, "en")  # reads no catalog


def _lang_given(args: list[str]) -> str | None:
    """--lang from a command line that did not parse, so its error is still in the language asked for."""
    for position, arg in enumerate(args):
        if arg == "--lang" and position + 1 < len(args):
            return args[position + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
    return None


def _usage_line(error: Any, locale: str) -> str:
    """A mistyped command line in the user's language, with the command whose --help explains it."""
    ctx = error.ctx
    command = ctx.command_path if ctx is not None else "patron"
    if isinstance(error, click_exceptions.NoSuchOption):
        close = join_list(sorted(error.possibilities or []), locale)
        problem = _t("cli.usage.no_such_option", locale, option=error.option_name)
        if close:
            problem += _t("cli.usage.did_you_mean", locale, choices=close)
    elif isinstance(error, click_exceptions.MissingParameter):
        problem = _t("cli.usage.missing", locale, param=_param_name(error))
    elif isinstance(error, click_exceptions.BadParameter):
        choices = getattr(getattr(error.param, "type", None), "choices", None)
        if choices:
            problem = _t(
                "cli.usage.choose",
                locale,
                param=_param_name(error),
                choices=join_list([str(choice) for choice in choices], locale),
            )
        else:
            cause = error.__cause__  # Typer converts values with Pydantic, whose errors the catalogs word
            reason = (
                validation.summary(validation.problems(cause, None), locale)
                if isinstance(cause, ValidationError)
                else error.message
            )
            problem = _t(
                "cli.usage.bad_value", locale, param=_param_name(error), reason=reason.rstrip("。. ")
            )
    elif (unknown := re.match(r"No such command '(.+)'\.", error.message)) and ctx is not None:
        commands = join_list(ctx.command.list_commands(ctx), locale)
        problem = _t("cli.usage.no_such_command", locale, name=unknown.group(1), commands=commands)
    else:
        problem = _t("cli.usage.other", locale, reason=error.message)
    return problem + _t("cli.usage.see_help", locale, command=f"{command} --help")


def _param_name(error: Any) -> str:
    """The option as typed (--lang) or the argument's name (NAME), without Click's quotes."""
    if error.param_hint:
        hint = error.param_hint
        return " / ".join(hint) if isinstance(hint, list | tuple) else str(hint)
    if error.param is not None:
        param = error.param
        return str(param.opts[0] if param.param_type_name == "option" else (param.name or "?").upper())
    return "?"


app = typer.Typer(
    cls=_FriendlyGroup, help="Patron: customer satisfaction and loyalty platform.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
workspaces_app = typer.Typer(help="Workspaces (brands, tenants).", no_args_is_help=True)
users_app = typer.Typer(help="Web UI users.", no_args_is_help=True)
apikeys_app = typer.Typer(help="API keys for integrators.", no_args_is_help=True)
customers_app = typer.Typer(help="Customer profiles.", no_args_is_help=True)
demo_app = typer.Typer(help="The seeded demo workspace.", no_args_is_help=True)
surveys_app = typer.Typer(help="Survey definitions.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook deliveries.", no_args_is_help=True)
export_app = typer.Typer(help="Analytical copies of a workspace.", no_args_is_help=True)
clv_app = typer.Typer(
    help="Customer lifetime value: fit, score, validate (docs/clv.md).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(workspaces_app, name="workspaces")
app.add_typer(users_app, name="users")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(customers_app, name="customers")
app.add_typer(demo_app, name="demo")
app.add_typer(surveys_app, name="surveys")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(export_app, name="export")
app.add_typer(clv_app, name="clv")
churn_app = typer.Typer(
    help="Churn risk: train, score, report, evaluate-file (docs/churn.md).", no_args_is_help=True
)
app.add_typer(churn_app, name="churn")

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")
#: What this invocation chose (its locale), for the errors reported after a command started.
_invocation: dict[str, str] = {}

WorkspaceOption = Annotated[
    str | None,
    typer.Option("--workspace", "-w", help="Workspace slug [default: PATRON_DEFAULT_WORKSPACE or demo]"),
]
LocaleOption = Annotated[
    str | None,
    typer.Option(
        "--lang", help="Language of the output: zh-Hant, zh-Hans or en [default: PATRON_LANG, LANG]"
    ),
]


def _workspace_slug(value: str | None) -> str:
    return value or get_settings().default_workspace


def _locale(value: str | None = None) -> str:
    """--lang, else PATRON_LANG, else the terminal's language (LANG=zh_TW.UTF-8 → zh-Hant; C and POSIX name
    none), else the configured default. Remembered for the invocation, so its errors use it too."""
    candidates = (value, *(os.environ.get(name) for name in ("PATRON_LANG", "LC_ALL", "LC_MESSAGES", "LANG")))
    chosen = next(filter(None, (normalize_locale((c or "").split(".")[0]) for c in candidates)), None)
    if chosen is None:
        try:
            chosen = get_settings().default_locale
        except Exception:  # settings that do not parse are the error being reported: say it in the default
            chosen = str(Settings.model_fields["default_locale"].default)
    if value is not None:
        _invocation["locale"] = chosen
    return chosen


def _t(code: str, locale: str, **params: Any) -> str:
    return translate(code, locale, **params)


def _print_json(models: Sequence[BaseModel]) -> None:
    """``--json`` output of a list: one JSON array, Chinese as written (not \\u escapes)."""
    print(json.dumps([m.model_dump(mode="json") for m in models], ensure_ascii=False, indent=2))


def _say(text: str, *, style: str | None = None, stream: Console | None = None) -> None:
    """One line as it is: no Rich markup read from file names or data, no line breaks added at the terminal's
    width (a long message stays one line for the terminal to wrap)."""
    (stream or console).print(text, style=style, markup=False, soft_wrap=True)


def _table(locale: str, *codes: str, title: str | None = None) -> Table:
    """A table whose headers are the translations of ``codes``; add rows with ``_row``."""
    return Table(*(escape(_t(code, locale)) for code in codes), title=escape(title) if title else None)


def _row(table: Table, *cells: object) -> None:
    table.add_row(*(escape("" if cell is None else str(cell)) for cell in cells))


@contextmanager
def _friendly_errors(locale: str | None = None) -> Iterator[None]:
    """Any error becomes one line on stderr in the user's language and exit code 2, never a traceback: a
    PatronError says what to do; anything else is named, with PATRON_DEBUG=1 to see where it happened."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors: Typer says them itself
        raise
    except PatronError as error:
        _say(error.message(_error_locale(locale)), style="red", stream=errors)
        raise typer.Exit(2) from None
    except Exception as error:
        if os.environ.get("PATRON_DEBUG", "").lower() in ("1", "true", "yes"):
            raise
        chosen = _error_locale(locale)
        if isinstance(error, ValidationError) and error.title == Settings.__name__:  # PATRON_* variables
            found = [replace(p, path=f"PATRON_{p.path.upper()}") for p in validation.problems(error, {})]
            line = _t("cli.bad_settings", chosen, problems=validation.summary(found, chosen))
        elif isinstance(error, ProgrammingError | OperationalError) and _missing_table(error):
            line = _t("cli.db_not_upgraded", chosen)
        elif isinstance(error, ValidationError):  # an option's value refused by the shape it fills
            line = validation.summary(validation.problems(error, {}), chosen)
        elif isinstance(error, OSError) and error.filename is not None:
            line = _t(
                "cli.os_error", chosen, file=error.filename, reason=error.strerror or type(error).__name__
            )
        else:
            reason = (str(error).strip().splitlines() or [""])[0][:300]
            line = _t("cli.unexpected", chosen, kind=type(error).__name__, reason=reason)
        _say(line, style="red", stream=errors)
        raise typer.Exit(2) from None


def _missing_table(error: Exception) -> bool:
    """A database whose tables were never created (SQLite: no such table; PostgreSQL: undefined_table)."""
    return "no such table" in str(error) or getattr(getattr(error, "orig", None), "sqlstate", None) == "42P01"


def _error_locale(locale: str | None) -> str:
    return locale or _invocation.get("locale") or _locale()


def _run(action: Callable[[], T], locale: str | None = None) -> T:
    with _friendly_errors(locale):
        return action()


# --------------------------------------------------------------------------------------------- db
@db_app.command("upgrade")
def db_upgrade(lang: LocaleOption = None) -> None:
    """Create or migrate the schema to the newest revision (safe to re-run)."""
    locale = _locale(lang)
    engine = get_engine()
    migrate.upgrade(engine)
    revision = migrate.current_revision(engine)
    _say(_t("cli.db_revision", locale, revision=revision, url=engine.url.render_as_string()))


@db_app.command("current")
def db_current(lang: LocaleOption = None) -> None:
    """Show the schema revision of the configured database."""
    locale = _locale(lang)
    engine = get_engine()
    current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    _say(_t("cli.db_current", locale, current=current, head=head))


# --------------------------------------------------------------------------------------------- workspaces
@workspaces_app.command("create")
def workspaces_create(
    slug: str,
    name: Annotated[str, typer.Option(help="Display name")] = "",
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "Asia/Taipei",
    currency: Annotated[str, typer.Option(help="ISO 4217 code")] = "TWD",
    locale: Annotated[str, typer.Option("--locale", help="Default language")] = "zh-Hant",
    industry: Annotated[str | None, typer.Option(help="Industry, for benchmarks")] = None,
    lang: LocaleOption = None,
) -> None:
    """Create a workspace (a brand or tenant) with its time zone, currency and default language."""
    shown = _locale(lang)

    def action() -> None:
        with transaction() as session:
            workspace = core_service.create_workspace(
                session, slug=slug, name=name or slug, timezone=timezone, currency=currency,
                default_locale=locale, industry=industry,
            )  # fmt: skip
            _say(_t("cli.workspace_created", shown, slug=workspace.slug))

    _run(action, shown)


@workspaces_app.command("list")
def workspaces_list(lang: LocaleOption = None) -> None:
    """List the workspaces."""
    locale = _locale(lang)
    with transaction() as session:
        table = _table(locale, "cli.col_slug", "cli.col_name", "cli.col_timezone", "cli.col_currency",
                       "cli.col_locale")  # fmt: skip
        for w in core_service.list_workspaces(session):
            _row(table, w.slug, w.name, w.timezone, w.currency, w.default_locale)
    console.print(table)


# --------------------------------------------------------------------------------------------- users
@users_app.command("create")
def users_create(
    email: str,
    password: Annotated[
        str | None,
        typer.Option(help="At least 10 characters; asked for when omitted", envvar="PATRON_NEW_PASSWORD"),
    ] = None,
    role: Annotated[str, typer.Option(help="admin or viewer")] = "admin",
    display_name: Annotated[str, typer.Option("--name")] = "",
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Create a user who logs into the web UI with a password (stored as an argon2id hash)."""
    locale = _locale(lang)
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            user = core_service.create_user(
                session,
                workspace_id=ws.id,
                email=email,
                password=password or "",
                role=role,
                display_name=display_name,
            )
            _say(_t("cli.user_created", locale, email=user.email, role=user.role, slug=ws.slug))

    _run(action, locale)


# --------------------------------------------------------------------------------------------- api keys
@apikeys_app.command("create")
def apikeys_create(name: str, workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """Mint an API key. The key is printed once; only its digest is stored."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            _, full_key = core_service.create_api_key(session, workspace_id=ws.id, name=name)
        _say(_t("cli.apikey_shown_once", locale))
        print(full_key)

    _run(action, locale)


@apikeys_app.command("list")
def apikeys_list(workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """List the workspace's API keys by prefix (the keys themselves are never stored)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            table = _table(locale, "cli.col_prefix", "cli.col_name", "cli.col_created", "cli.col_last_used",
                           "cli.col_revoked")  # fmt: skip
            for key in core_service.list_api_keys(session, workspace_id=ws.id):
                _row(table, key.prefix, key.name, key.created_at, key.last_used_at, key.revoked_at)
        console.print(table)

    _run(action, locale)


@apikeys_app.command("revoke")
def apikeys_revoke(prefix: str, workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """Revoke the API key with this prefix: requests with it are refused from now on."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            core_service.revoke_api_key(session, workspace_id=ws.id, prefix=prefix)
        _say(_t("cli.apikey_revoked", locale, prefix=prefix))

    _run(action, locale)


# --------------------------------------------------------------------------------------------- import
@app.command("import")
def import_command(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(IMPORT_SPECS)}")],
    file: Annotated[Path, typer.Argument(help="CSV, Excel .xlsx or JSON Lines file")],
    workspace: WorkspaceOption = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, xlsx or jsonl [default: from extension]")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding [default: detected]")] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Where to write rejected rows [default: next to FILE]")
    ] = None,
    lang: LocaleOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Validate and upsert a file on external_id. Good rows land; bad rows go to a rejects file."""
    locale = _locale(lang)
    with (
        _friendly_errors(locale),
        Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=errors, transient=True, disable=as_json or not sys.stderr.isatty(),
        ) as bar,
    ):  # fmt: skip
        _notice_large_sqlite_import(file, locale)
        task = bar.add_task(escape(f"{_kind_name(kind, locale)} ← {file.name}"), total=None)
        report = import_file(
            get_engine(), workspace_slug=_workspace_slug(workspace), kind=kind, path=file, fmt=fmt,
            encoding=encoding, rejects_path=rejects or True, locale=locale,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    if as_json:
        print(json.dumps(report_dict(report, locale), ensure_ascii=False, indent=2))
    else:
        _print_report(report, locale)
    if report.rejected:
        raise typer.Exit(1)


def _notice_large_sqlite_import(file: Path, locale: str) -> None:
    """One line on stderr before a large import on SQLite, whose one writer lock the import holds to its end:
    a 1.5M-line import held survey answers 12–28 s (issue 18; PostgreSQL is unaffected)."""
    threshold = get_settings().sqlite_large_import_bytes
    try:
        size = file.stat().st_size
    except OSError:
        return  # the import names the file
    if size >= threshold and get_engine().dialect.name == "sqlite":
        errors.print(escape(_t("import.sqlite_large_notice", locale, size_mb=round(size / 1024 / 1024))))


def report_dict(report: ImportReport, locale: str) -> dict[str, Any]:
    return {
        "kind": report.kind, "file": report.file, "format": report.format, "encoding": report.encoding,
        "rows_read": report.rows_read, "inserted": report.inserted, "updated": report.updated,
        "unchanged": report.unchanged, "removed": report.removed, "rejected": report.rejected,
        "rejects_file": report.rejects_file, "ignored_columns": report.ignored_columns,
        "errors": [
            {"line": e.line, "column": e.column, "code": e.code, "message": e.message(locale)} for e in report.errors
        ],
    }  # fmt: skip


def _kind_name(kind: str, locale: str) -> str:
    return _t(f"import.kind_{kind}", locale) if kind in IMPORT_SPECS else kind


SHOWN_REJECTS = 20


def _print_report(report: ImportReport, locale: str) -> None:
    summary = _t(
        "cli.import_summary", locale, kind=_kind_name(report.kind, locale), rows=report.rows_read, file=report.file,
        format=report.format, encoding=report.encoding or _t("cli.binary", locale), inserted=report.inserted,
        updated=report.updated, unchanged=report.unchanged,
    )  # fmt: skip
    if report.removed:
        summary += _t("cli.import_removed", locale, count=report.removed)
    if report.rejected:
        summary += _t("cli.import_rejected", locale, count=report.rejected)
    _say(summary)
    if report.ignored_columns:
        _say(_t("cli.ignored_columns", locale, columns=report.ignored_columns))
    if report.errors:
        title = _t("cli.title_rejected", locale, count=SHOWN_REJECTS)
        table = _table(locale, "cli.col_line", "cli.col_column", "cli.col_reason", title=title)
        for error in report.errors[:SHOWN_REJECTS]:
            _row(table, error.line, error.column, error.message(locale))
        console.print(table)
        _say(_t("cli.rejects_file", locale, file=report.rejects_file))


# --------------------------------------------------------------------------------------------- customers
@customers_app.command("show")
def customers_show(
    external_id: str,
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole story as JSON")] = False,
    lang: LocaleOption = None,
) -> None:
    """A customer's profile, orders with lines, and interaction timeline."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            story = customer_service.customer_story(session, workspace=ws, external_id=external_id)
        if as_json:
            print(story.model_dump_json(indent=2))
            return
        p, s = story.profile, story.summary
        zone = ZoneInfo(ws.timezone)

        def local(moment: datetime | None) -> str:
            return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

        def yes_no(value: bool) -> str:
            return _t("dash.yes" if value else "dash.no", locale)

        profile = Table(show_header=False, title=escape(_t("cli.title_customer", locale, id=p.external_id)))
        consent = "/".join(yes_no(v) for v in (p.consent_email, p.consent_sms, p.consent_surveys))
        for code, value in (
            ("cli.p_name", p.name), ("cli.p_email", p.email), ("cli.p_phone", p.phone), ("cli.p_birthday", p.birthday),
            ("cli.p_gender", p.gender), ("cli.col_locale", p.locale), ("cli.p_city", p.city), ("cli.p_segment", p.segment),
            ("cli.p_signup", local(p.signup_at)), ("cli.p_consent", consent),
            ("cli.p_orders", s.order_count), ("cli.p_spent", f"{s.total_spent} {s.currency}"),
            ("cli.p_first_last", f"{local(s.first_order_at)} / {local(s.last_order_at)}"),
            ("cli.p_interactions", s.interaction_count),
        ):  # fmt: skip
            _row(profile, _t(code, locale), value)
        console.print(profile)
        orders = _table(locale, "cli.col_order", "cli.col_time", "cli.col_status", "cli.col_channel",
                        "cli.col_total", "cli.col_lines", title=_t("cli.title_orders", locale))  # fmt: skip
        for order in story.orders[:20]:
            items = ", ".join(
                f"{line.product_name or line.product_external_id or _t('customer.line_without_product', locale, line=line.line_no)} ×{line.quantity}"
                for line in order.lines
            )
            _row(orders, order.external_id, local(order.ordered_at), order.status, order.channel,
                 f"{order.total} {order.currency}", items)  # fmt: skip
        console.print(orders)
        timeline = _table(locale, "cli.col_time", "cli.col_type", "cli.col_channel", "cli.col_detail",
                          title=_t("cli.title_interactions", locale, count=30))  # fmt: skip
        for event in story.interactions[:30]:
            _row(timeline, local(event.occurred_at), event.type, event.channel,
                 event.detail or event.product_external_id or "")  # fmt: skip
        console.print(timeline)

    _run(action, locale)


@customers_app.command("erase")
def customers_erase(
    external_id: Annotated[str, typer.Argument(help="The customer's id in your systems")],
    workspace: WorkspaceOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking first")] = False,
    lang: LocaleOption = None,
) -> None:
    """Erase a customer (right to erasure): their comments, feedback, hand-overs, invitations and scores are
    deleted; orders and the loyalty ledger stay, detached from the person (docs/privacy.md)."""
    locale = _locale(lang)

    def action() -> None:
        slug = _workspace_slug(workspace)
        with transaction() as session:
            ws = core_service.get_workspace(session, slug)
            erasure.find_living(session, workspace_id=ws.id, external_id=external_id)
        if not yes and not typer.confirm(_t("erasure.confirm", locale, id=external_id, workspace=slug)):
            raise typer.Abort()
        with transaction() as session:
            ws = core_service.get_workspace(session, slug)
            done = erasure.erase_customer(session, workspace_id=ws.id, external_id=external_id, actor="cli")
        detail = ", ".join(f"{kind} {count}" for kind, count in done.counts.items() if count)
        _say(_t("erasure.done", locale, id=external_id, rows=sum(done.counts.values()), detail=detail or "-"))

    _run(action, locale)


@customers_app.command("segments")
def customers_segments(
    segment: Annotated[str | None, typer.Argument(help="A segment to name; without one, list them")] = None,
    zh_hant: Annotated[str | None, typer.Option("--zh-hant", help="Name in Traditional Chinese")] = None,
    zh_hans: Annotated[str | None, typer.Option("--zh-hans", help="Name in Simplified Chinese")] = None,
    en: Annotated[str | None, typer.Option("--en", help="Name in English")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Back to the default names")] = False,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """The customer segments and their names in each language; name one with e.g.
    patron customers segments vip --zh-hant 金卡會員 --en "Gold members" (a name given in one Chinese script is
    converted for the other; a language not given keeps its name)."""

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if segment is not None:
                labels = {code: dict(texts) for code, texts in (ws.segment_labels or {}).items()}
                given = {"zh-Hant": zh_hant, "zh-Hans": zh_hans, "en": en}
                if clear:
                    labels.pop(segment, None)
                elif any(given.values()):
                    mine = labels.setdefault(segment, {})
                    if zh_hant and not zh_hans:  # the other script follows a changed name, as on the web form
                        mine.pop("zh-Hans", None)
                    if zh_hans and not zh_hant:
                        mine.pop("zh-Hant", None)
                    mine.update({locale: text for locale, text in given.items() if text})
                customer_service.set_segment_labels(session, workspace_id=ws.id, labels=labels)
            rows = customer_service.segment_list(session, workspace_id=ws.id)
        table = Table("segment", "customers", "繁體中文", "简体中文", "English")
        for row in rows:
            table.add_row(
                row.segment,
                str(row.customers),
                row.labels["zh-Hant"],
                row.labels["zh-Hans"],
                row.labels["en"],
            )
        console.print(table)

    _run(action, lang)


# --------------------------------------------------------------------------------------------- surveys
@surveys_app.command("create")
def surveys_create(
    file: Annotated[Path, typer.Argument(help="A YAML or JSON survey definition")],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Create a survey from a file, or store a new version when its key exists and the file changed."""
    from patron.surveys import service as survey_service

    locale = _locale(lang)

    def action() -> None:
        definition = survey_service.load_definition_file(file)
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            survey, changed = survey_service.save_survey(session, workspace_id=ws.id, definition=definition)
            state = "cli.survey_saved" if changed else "cli.survey_unchanged"
            _say(_t(state, locale, key=survey.key, version=survey.version, count=len(definition.questions)))
        for missing in definition.missing_languages():
            _say(_t("cli.survey_fallback", locale, missing=missing), style="yellow")

    _run(action, locale)


@surveys_app.command("templates")
def surveys_templates(
    export: Annotated[
        Path | None, typer.Option(help="Write the templates as YAML files into this folder")
    ] = None,
    lang: LocaleOption = None,
) -> None:
    """List the built-in templates; --export writes them out to edit and create from."""
    from patron.surveys import service as survey_service
    from patron.surveys.texts import pick

    locale = _locale(lang)

    def action() -> None:
        table = _table(locale, "cli.col_key", "cli.col_kind", "cli.col_touchpoint", "cli.col_questions",
                       "cli.col_name")  # fmt: skip
        written: list[Path] = []
        for key, definition in survey_service.templates().items():
            _row(table, key, definition.kind.value, definition.touchpoint.value, len(definition.questions),
                 pick(definition.name, locale))  # fmt: skip
            if export is not None:
                export.mkdir(parents=True, exist_ok=True)
                target = export / f"{key}.yaml"
                target.write_text(
                    (survey_service.TEMPLATE_DIR / f"{key}.yaml").read_text(encoding="utf-8"),
                    encoding="utf-8",
                )
                written.append(target)
        console.print(table)
        if export is not None:
            files = [path.name for path in written]
            _say(_t("cli.templates_written", locale, count=len(written), folder=export, files=files))

    _run(action, locale)


@surveys_app.command("list")
def surveys_list(workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """List the workspace's surveys with their version, status, kind, touchpoint and channel."""
    from patron.surveys import service as survey_service

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            table = _table(locale, "cli.col_key", "cli.col_version", "cli.col_status", "cli.col_kind",
                           "cli.col_touchpoint", "cli.col_channel")  # fmt: skip
            for s in survey_service.list_surveys(session, workspace_id=ws.id):
                _row(table, s.key, s.version, s.status, s.kind, s.touchpoint, s.channel)
        console.print(table)

    _run(action, locale)


@surveys_app.command("dispatch")
def surveys_dispatch(
    workspace: WorkspaceOption = None,
    wave: Annotated[
        str | None, typer.Option(help="Also start a relationship wave of this survey key")
    ] = None,
    sample: Annotated[int, typer.Option(help="Customers to invite in the wave")] = 500,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan invitations but send nothing and keep nothing")
    ] = False,
    lang: LocaleOption = None,
) -> None:
    """Run every active survey's trigger, then send due invitations and reminders over SMTP. Run it from cron
    (every 15 minutes is plenty); re-running never invites anyone twice."""
    from patron.core.mail import MailError, SmtpMailer
    from patron.surveys import distribution
    from patron.surveys import service as survey_service

    locale = _locale(lang)

    def action() -> None:
        now = utcnow()
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            table = _table(locale, "cli.col_survey", "cli.col_invited", "cli.col_skipped")
            for survey in survey_service.list_surveys(session, workspace_id=ws.id):
                definition = survey_service.definition_of(survey)
                report = distribution.run_trigger(
                    session, workspace=ws, survey=survey, definition=definition, now=now
                )
                if wave == survey.key:
                    waved = distribution.relationship_wave(session, workspace=ws, survey=survey, definition=definition,
                                                           sample_size=sample, now=now)  # fmt: skip
                    report.invited += waved.invited
                    report.skipped.update(waved.skipped)
                why = [
                    f"{_t(f'cli.skip_{reason}', locale)} {count}"
                    for reason, count in sorted(report.skipped.items())
                ]
                _row(table, survey.key, report.invited, join_list(why, locale))
            console.print(table)
            if dry_run:
                session.rollback()
                _say(_t("cli.dry_run", locale))
                return
            try:
                with SmtpMailer() as mailer:
                    sent = distribution.send_due(session, workspace=ws, mailer=mailer, now=now)
            except MailError as exc:
                _say(_t("cli.mail_failed", locale, reason=str(exc)), style="red", stream=errors)
                return
            _say(_t("cli.sent", locale, sent=sent.sent, reminded=sent.reminded, failed=sent.failed,
                    skipped=sent.skipped))  # fmt: skip

    _run(action, locale)


@surveys_app.command("link")
def surveys_link(
    survey_key: str,
    customer: str,
    order: Annotated[str | None, typer.Option(help="The order the survey is about")] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Mint a personal link for one customer (to send through your own channel), honouring the same rules."""
    from patron.customers import service as customers
    from patron.surveys import distribution
    from patron.surveys import service as survey_service

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            survey = survey_service.get_survey(session, workspace_id=ws.id, key=survey_key)
            person = customers.get_customer(session, workspace_id=ws.id, external_id=customer)
            subject = f"order:{order}" if order else f"link:{utcnow():%Y-%m-%d}"
            outcome = distribution.mint_link(session, workspace=ws, survey=survey, definition=survey_service.definition_of(survey),
                                             customer=person, subject=subject, now=utcnow(), order_external_id=order)  # fmt: skip
            if outcome.invitation is None:
                reason = _t(f"cli.skip_{outcome.skipped}", locale) if outcome.skipped else ""
                _say(_t("cli.not_invited", locale, reason=reason), style="yellow", stream=errors)
                raise typer.Exit(1)
            print(distribution.survey_link(outcome.invitation.nonce))

    _run(action, locale)


@webhooks_app.command("deliver")
def webhooks_deliver(lang: LocaleOption = None) -> None:
    """Send due webhook deliveries once (for cron, when the server's own dispatcher is turned off)."""
    from patron.webhooks import service as webhook_service

    locale = _locale(lang)
    with transaction() as session:
        report = webhook_service.deliver_due(session, post=webhook_service.http_post, now=utcnow())
    _say(_t("cli.webhooks_delivered", locale, delivered=report.delivered, retrying=report.retrying,
            failed=report.failed))  # fmt: skip


@app.command("metrics")
def metrics_command(
    name: Annotated[str, typer.Argument(help="nps, csat or ces")],
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="segment, city, locale, touchpoint, channel, survey (repeatable)"),
    ] = None,
    grain: Annotated[str | None, typer.Option(help="day, week, month, quarter, year")] = None,
    since: Annotated[str | None, typer.Option(help="2025-01 or 2025-01-15")] = None,
    until: Annotated[str | None, typer.Option(help="2025-03 or 2025-03-31")] = None,
    survey: Annotated[str | None, typer.Option(help="Only this survey key")] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="table, csv, json or parquet (needs --output); csv and parquet have the same columns",
        ),
    ] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File for --format parquet")] = None,
    parquet: Annotated[
        Path | None,
        typer.Option("--parquet", help="Read a `patron export parquet` folder instead of the database"),
    ] = None,
    engine_name: Annotated[str, typer.Option("--engine", help="For --parquet: duckdb or spark")] = "duckdb",
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """A satisfaction metric with 95 % intervals, e.g. patron metrics nps --by segment --grain month --since 2025-01."""
    from patron.metrics import service as metrics_service
    from patron.metrics.engine import MetricQuery

    locale = _locale(lang)

    def action() -> None:
        if fmt not in ("table", "csv", "json", "parquet"):
            raise PatronError("import.bad_format", format=fmt, choices=["table", "csv", "json", "parquet"])
        if fmt == "parquet" and output is None:
            raise PatronError("metrics.parquet_needs_output")
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
        query = MetricQuery(
            name,
            tuple(by or ()),
            grain,
            metrics_service.parse_day(since),
            metrics_service.parse_day(until, end=True),
            survey,
            time_zone=ws.timezone,
        )
        con = None
        if parquet is not None:
            from patron.metrics import export, spark

            if engine_name not in ("duckdb", "spark"):
                raise PatronError("import.bad_format", format=engine_name, choices=["duckdb", "spark"])
            con = spark.open_parquet(parquet) if engine_name == "spark" else export.open_parquet(parquet)
        result = metrics_service.run(ws.id, query, locale, con=con)
        if fmt == "json":
            print(result.model_dump_json(indent=2))
            return
        if fmt == "parquet" and output is not None:
            metrics_service.write_parquet(result, output)
            _say(_t("cli.rows_written", locale, count=len(result.rows), file=output))
            return
        if fmt == "csv":
            metrics_service.write_csv(result, query, sys.stdout)
            return
        metric_name = _t(f"metric.{name}", locale)
        table = _table(locale, *(f"dim.{d}" for d in query.by), *(["dash.period"] if grain else []), "dash.n",
                       title=" — ".join(filter(None, [metric_name, result.message])))  # fmt: skip
        means = name == "csat"  # on each scale and on 0–100, never one mean of two scales
        for header in (metric_name, _t("dash.ci95", locale), *([_t("metrics.mean_score", locale)] if means else []),
                       _t("cli.col_note", locale)):  # fmt: skip
            table.add_column(escape(header))
        for row in result.rows:
            interval = "" if row.ci_low is None else f"{row.ci_low:.1f} – {row.ci_high:.1f}"
            warning = (
                "" if row.sufficient else translate("metrics.small_sample", locale, minimum=result.min_sample)
            )
            value = "" if row.value is None else f"{row.value:.1f}" if name != "ces" else f"{row.value:.2f}"
            mean = [metrics_service.means_text(row.counts, locale)] if means else []
            _row(table, *row.group.values(), *([row.period] if grain else []), row.n, value, interval, *mean,
                 warning)  # fmt: skip
        console.print(table)

    _run(action, locale)


@export_app.command("parquet")
def export_parquet_command(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Where to write answer_facts.parquet, orders.parquet and the churn features' files"
        ),
    ],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Write the workspace's answers (joined with what metrics slice by), purchases and the churn features'
    sources (survey scores, interactions, hand-overs, loyalty, feedback) as Parquet, for DuckDB, Spark or a
    notebook."""
    from patron.metrics import service as metrics_service
    from patron.metrics.export import export_parquet

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
        written = export_parquet(metrics_service.operational_connection(), ws.id, folder, zone=ws.timezone)
        for name, rows in written.items():
            _say(_t("cli.exported", locale, file=folder / (name + ".parquet"), count=rows))

    _run(action, locale)


# --------------------------------------------------------------------------------------------- clv
ClvModelOption = Annotated[str, typer.Option("--model", help="Purchase model: bgnbd, mbgnbd or pareto")]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Last day of orders to use, 2025-06-30 [default: today]")
]
WindowOption = Annotated[
    int, typer.Option("--window", help="Churned = no purchase in this many days after the cut-off")
]


def _as_of(value: str | None) -> date | None:
    from patron.metrics import service as metrics_service

    return metrics_service.parse_day(value, end=True)


@clv_app.command("fit")
def clv_fit(
    model: ClvModelOption = "bgnbd", as_of: AsOfOption = None, workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:  # fmt: skip
    """Fit the purchase and spend models on the workspace's orders and show the estimates with 95 % intervals."""
    from patron.analytics import service as clv_service
    from patron.metrics import service as metrics_service

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            result = clv_service.fit(metrics_service.operational_connection(), ws, model=model,
                                     observation_end=_as_of(as_of))  # fmt: skip
            saved = clv_service.save_model(session, ws, result, model)
        table = Table(
            "model",
            "parameter",
            "estimate",
            "95% interval",
            title=f"{saved.version} ({result.observation_end})",
        )
        for fitted in (result.purchase, result.spend):
            if fitted is None:
                continue
            for row in fitted.params_interval().itertuples():
                table.add_row(
                    fitted.name, str(row.param), f"{row.estimate:.4g}", f"{row.lower:.4g} – {row.upper:.4g}"
                )
        console.print(table)
        console.print(f"customers {saved.customers}, repeat buyers {saved.repeat_buyers}, "
                      f"log-likelihood {saved.log_likelihood:.1f}")  # fmt: skip
        if result.free_repeaters:
            console.print(
                f"repeat buyers with free repeat orders left out of the spend model: {result.free_repeaters}"
            )

    _run(action, lang)


@clv_app.command("score")
def clv_score(
    model: ClvModelOption = "bgnbd",
    months: Annotated[int, typer.Option(help="CLV horizon in months")] = 12,
    discount_rate: Annotated[float, typer.Option(help="Monthly discount rate")] = 0.01,
    as_of: AsOfOption = None,
    parquet: Annotated[
        Path | None,
        typer.Option(
            "--parquet", help="Score the orders of a `patron export parquet` folder instead (needs --out)"
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="For --parquet: the Parquet file of scores")
    ] = None,
    engine_name: Annotated[str, typer.Option("--engine", help="For --parquet: duckdb or spark")] = "duckdb",
    window: WindowOption = 90,
    definition: DefinitionOption = "inactivity",
    reasons: Annotated[
        int,
        typer.Option("--reasons", min=0, max=10, help="For --parquet: each customer's top reasons (0: none)"),
    ] = 3,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Fit and store every customer's probability alive, expected purchases and spend, and CLV (run it from a
    scheduler: each run replaces the workspace's scores). With --parquet, score the export's customers in
    batches (CLV and churn risk, churned = no purchase in --window days) into the --out file instead."""
    from patron.analytics import service as clv_service
    from patron.metrics import service as metrics_service

    locale = _locale(lang)

    def action() -> None:
        if parquet is not None:
            _score_export(parquet, out, engine_name, model, months, discount_rate, window, as_of, workspace, locale,
                          definition, reasons)  # fmt: skip
            return
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            saved, count = clv_service.score(
                session, metrics_service.operational_connection(), ws, model=model, months=months,
                discount_rate=discount_rate, observation_end=_as_of(as_of),
            )  # fmt: skip
            version = saved.version
        console.print(f"scored {count} customers with {version} (orders to {saved.observation_end})")
        with transaction() as session:
            top = clv_service.score_page(session, workspace_id=ws.id, limit=10)
        table = Table(
            "customer", "P(alive)", f"purchases, {months} mo", "spend", "CLV", title="top 10 by CLV"
        )
        for item in top.items:
            table.add_row(item.customer_id, f"{item.probability_alive:.2f}", f"{item.expected_purchases:.2f}",
                          str(item.expected_spend), str(item.clv))  # fmt: skip
        console.print(table)

    _run(action, lang)


def _score_export(
    folder: Path, out: Path | None, engine_name: str, model: str, months: int, discount_rate: float, window: int,
    as_of: str | None, workspace: str | None, locale: str, definition: str = "inactivity", reasons: int = 3,
) -> None:  # fmt: skip
    """``patron clv score --parquet DIR --out FILE``: scores at scale (patron.analytics.scoring)."""
    import time

    from patron.analytics import scoring
    from patron.analytics import service as clv_service
    from patron.core.clock import today_in
    from patron.feedback.service import current_taxonomy

    if out is None:
        raise PatronError("clv.score_needs_out")
    kind = clv_service._model(model)
    with transaction() as session:
        ws = core_service.get_workspace(session, _workspace_slug(workspace))
        themes = {key: dict(theme.names) for key, theme in current_taxonomy(session, ws.id).by_key().items()}
    end = _as_of(as_of) or today_in(ws.timezone)
    started = time.perf_counter()
    result = scoring.score_export(
        folder, out, as_of=end, workspace_id=ws.id, zone=ws.timezone, currency=ws.currency, purchase_model=kind,
        months=months, discount_rate=discount_rate, window_days=window, engine=engine_name, definition=definition,
        reasons=reasons, locale=locale, theme_names=themes,
    )  # fmt: skip
    _say(_t("clv.scored_file", locale, count=result.customers, file=out, model=result.purchase.name,
            end=end.isoformat(), seconds=f"{time.perf_counter() - started:.1f}"))  # fmt: skip
    if result.missing_files:
        _say(_t("clv.scored_file_no_signals", locale, folder=folder, files=", ".join(result.missing_files)),
             style="yellow")  # fmt: skip
    if result.churn_error is None:
        code = (
            "clv.scored_file_churn_cancelled" if result.definition == "cancelled" else "clv.scored_file_churn"
        )
        _say(_t(code, locale, customers=result.trained, cutoff=result.cutoff.isoformat(), window=window))
        evaluation = result.evaluation
        if evaluation is not None:
            _say(_t("clv.scored_file_evaluation", locale, train=str(evaluation.train_cutoff),
                    test=str(evaluation.test_cutoff), customers=evaluation.test_customers,
                    rate=f"{100 * evaluation.base_rate:.1f}", auc=f"{evaluation.auc:.3f}", k=evaluation.k,
                    precision=f"{100 * evaluation.precision_at_k:.1f}"))  # fmt: skip
        elif result.evaluation_error is not None:
            _say(_t("clv.scored_file_no_evaluation", locale, reason=result.evaluation_error.message(locale)),
                 style="yellow")  # fmt: skip
    else:
        _say(
            _t("clv.scored_file_no_churn", locale, reason=result.churn_error.message(locale)), style="yellow"
        )


@clv_app.command("validate")
def clv_validate(
    model: ClvModelOption = "bgnbd",
    holdout_days: Annotated[int, typer.Option(help="The last days held out of the fit")] = 180,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Fit on all but the last --holdout-days, predict them, and compare per customer and in aggregate."""
    from patron.analytics import service as clv_service
    from patron.metrics import service as metrics_service

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = clv_service.validate(metrics_service.operational_connection(), ws, model=model,
                                          holdout_days=holdout_days, observation_end=_as_of(as_of))  # fmt: skip
            kept = clv_service.save_validation(session, ws, report, model=model, holdout_days=holdout_days)
        console.print(f"holdout purchases: actual {report.actual_total:.0f}, predicted {report.predicted_total:.1f} "
                      f"({100 * report.total_error:+.1f} %); mean absolute error {report.mean_absolute_error:.3f} a customer")  # fmt: skip
        table = Table("repeat purchases before", "customers", "actual (mean)", "predicted (mean)",
                      title="calibration plot")  # fmt: skip
        for row in report.by_frequency.itertuples():
            table.add_row(str(row.label), str(row.customers), f"{row.actual:.3f}", f"{row.predicted:.3f}")
        console.print(table)
        if kept is not None:
            console.print(f"kept with {kept.version} for the Customer value page")

    _run(action, lang)


# --------------------------------------------------------------------------------------------- churn
TopKOption = Annotated[
    int | None,
    typer.Option("--top-k", help="k of precision at the top k [default: a tenth of the customers]"),
]
DefinitionOption = Annotated[
    str,
    typer.Option(
        "--definition",
        help="Churned = inactivity (no purchase in --window days) or cancelled (a subscription_cancelled "
        "interaction in --window days)",
    ),
]


def _print_evaluation(evaluation: dict[str, Any]) -> None:
    console.print(
        f"out-of-time evaluation: trained at {evaluation['train_cutoff']} ({evaluation['train_customers']} "
        f"customers), tested at {evaluation['test_cutoff']} ({evaluation['test_customers']} customers, "
        f"{100 * evaluation['base_rate']:.1f} % churned): AUC {evaluation['auc']:.3f}, precision at top "
        f"{evaluation['k']} {100 * evaluation['precision_at_k']:.1f} %"
    )
    table = Table("decile", "customers", "predicted", "observed", title="calibration (by predicted risk)")
    for row in evaluation["calibration"]:
        table.add_row(str(row["decile"]), str(row["customers"]), f"{100 * row['predicted']:.1f} %",
                      f"{100 * row['observed']:.1f} %")  # fmt: skip
    console.print(table)


def _print_at_risk(workspace_id: int, locale: str, limit: int = 10) -> None:
    from patron.analytics import churn_service

    with transaction() as session:
        page = churn_service.at_risk(session, workspace_id=workspace_id, limit=limit, locale=locale)
    table = Table("customer", "risk", "CLV", "value at risk", "reasons", title=f"top {limit} at risk")
    for item in page.items:
        table.add_row(escape(item.customer_id), f"{100 * item.risk:.0f} %", str(item.clv or ""),
                      str(item.value_at_risk or ""), escape("; ".join(r.text for r in item.reasons)))  # fmt: skip
    console.print(table)


@churn_app.command("train")
def churn_train(
    window: WindowOption = 90, as_of: AsOfOption = None, top_k: TopKOption = None,
    definition: DefinitionOption = "inactivity", workspace: WorkspaceOption = None, lang: LocaleOption = None,
) -> None:  # fmt: skip
    """Train and evaluate out of time (train at as-of − 2·window, test at as-of − window); stores nothing."""
    from patron.analytics import churn_service
    from patron.metrics import service as metrics_service

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            trained = churn_service.train(session, ws, window_days=window, as_of=_as_of(as_of), k=top_k,
                                          con=metrics_service.operational_connection(),
                                          definition=definition)  # fmt: skip
        _print_evaluation(trained.evaluation.as_dict())

    _run(action, _locale(lang))


@churn_app.command("score")
def churn_score(
    window: WindowOption = 90, as_of: AsOfOption = None, top_k: TopKOption = None,
    definition: DefinitionOption = "inactivity", workspace: WorkspaceOption = None, lang: LocaleOption = None,
) -> None:  # fmt: skip
    """Train, evaluate and store every customer's churn risk with its top reasons (run it from a scheduler:
    each run replaces the workspace's scores)."""
    from patron.analytics import churn_service
    from patron.metrics import service as metrics_service

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            saved, count = churn_service.score(session, ws, window_days=window, as_of=_as_of(as_of), k=top_k,
                                               con=metrics_service.operational_connection(),
                                               definition=definition)  # fmt: skip
            version, cutoff, evaluation = saved.version, saved.cutoff, saved.evaluation
        console.print(f"scored {count} customers with {version} (features at {cutoff})")
        _print_evaluation(evaluation)
        _print_at_risk(ws.id, locale)

    _run(action, locale)


@churn_app.command("report")
def churn_report(workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """The stored model's out-of-time evaluation and the customers most at risk (by risk × CLV)."""
    from patron.analytics import churn_service

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            model = churn_service.model_read(churn_service.latest_model(session, workspace_id=ws.id))
        churned = (f"a subscription cancelled within {model.window_days} days" if model.definition == "cancelled"
                   else f"no purchase in {model.window_days} days")  # fmt: skip
        console.print(f"{model.model_version}: churned = {churned}; "
                      f"features at {model.cutoff}, computed {model.computed_at:%Y-%m-%d %H:%M} UTC")  # fmt: skip
        _print_evaluation(model.evaluation)
        _print_at_risk(ws.id, locale)

    _run(action, locale)


@churn_app.command("evaluate-file")
def churn_evaluate_file(
    file: Annotated[Path, typer.Argument(help="A CSV table, one row a customer")],
    target: Annotated[str, typer.Option(help="The column saying who churned (Yes/No, 1/0)")] = "Churn",
    folds: Annotated[int, typer.Option(help="Stratified cross-validation folds")] = 5,
    lang: LocaleOption = None,
) -> None:
    """Cross-validated AUC of the churn model on your own customer table (no resampling)."""
    from patron.analytics import churn_service

    def action() -> None:
        aucs = churn_service.evaluate_file(file, target=target, folds=folds)
        console.print(f"{folds}-fold stratified cross-validated AUC {sum(aucs) / len(aucs):.4f} "
                      f"(folds: {', '.join(f'{a:.4f}' for a in aucs)})")  # fmt: skip

    _run(action, _locale(lang))


# --------------------------------------------------------------------------------------------- demo
HostOption = Annotated[str, typer.Option(help="Address to listen on")]
PortOption = Annotated[int, typer.Option(help="Port to listen on")]


def _base_url(host: str, port: int) -> str:
    """Where links and printed addresses point: PATRON_BASE_URL when set, else where ``serve`` listens."""
    return get_settings().public_base_url.rstrip("/") or local_url(host, port)


@demo_app.command("load")
def demo_load(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the demo workspace has data")
    ] = False,
    customers: Annotated[int, typer.Option(help="Number of customers")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 20_251_123,
    end: Annotated[str | None, typer.Option(help="Last day of the two-year history [default: today]")] = None,
    slug: Annotated[str, typer.Option("--workspace", help="Workspace slug")] = "demo",
    host: Annotated[
        str, typer.Option(help="Where `patron serve` will listen, for the login address")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="The port `patron serve` will listen on")] = DEFAULT_PORT,
    lang: LocaleOption = None,
) -> None:
    """Generate and import a seeded demo workspace (a Taiwanese tea-and-coffee retail brand)."""
    from patron.demo.loader import DEMO_ADMIN_EMAIL, demo_has_data, load_demo

    locale = _locale(lang)
    login = f"{_base_url(host, port)}/login"
    engine = get_engine()
    migrate.upgrade(engine)
    if if_empty and demo_has_data(engine, slug):
        _say(_t("cli.demo_already", locale, slug=slug, url=login, email=DEMO_ADMIN_EMAIL))
        return
    password = secrets.token_urlsafe(12)
    password_file = get_settings().var_dir / "demo" / "admin-password.txt"
    with _friendly_errors(locale):
        summary = load_demo(
            engine, slug=slug, customers=customers, seed=seed, end=date.fromisoformat(end) if end else utcnow().date() - timedelta(days=1),
            admin_password=password, data_dir=get_settings().var_dir / "demo", log=lambda line: _say(line), locale=locale,
        )  # fmt: skip
    _say(_t("cli.demo_loaded", locale, slug=slug, summary=summary))
    _say(
        _t("cli.demo_login", locale, url=login, email=DEMO_ADMIN_EMAIL, password=password, file=password_file)
    )
    password_file.parent.mkdir(parents=True, exist_ok=True)
    password_file.touch(mode=0o600)
    password_file.chmod(0o600)
    password_file.write_text(f"{DEMO_ADMIN_EMAIL}\n{password}\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------- serve
@app.command("serve")
def serve(
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    lang: LocaleOption = None,
) -> None:
    """Serve the web UI and the REST API. Links in emails follow the address served, unless PATRON_BASE_URL
    names the one respondents reach."""
    import uvicorn

    locale = _locale(lang)
    base = _base_url(host, port)
    # The workers (this process, or the ones uvicorn starts) read it from the environment.
    os.environ["PATRON_BASE_URL"] = base
    get_settings.cache_clear()
    migrate.upgrade(get_engine())
    local = local_url(host, port)
    _say(_t("cli.serving", locale, url=f"{local}/", docs=f"{local}/docs", spec=f"{local}/openapi.json"))
    reachable_elsewhere = host not in ("127.0.0.1", "localhost", "::1")
    hint = "cli.links_hint" if reachable_elsewhere and base == local else "cli.links_at"
    _say(_t(hint, locale, url=base))
    password_file = get_settings().var_dir / "demo" / "admin-password.txt"
    if password_file.exists():
        # The log of a server is read by many: the password stays in its file (0600), the log names the file.
        password_file.chmod(0o600)
        email = password_file.read_text(encoding="utf-8").split()[0]
        _say(_t("cli.demo_login_file", locale, email=email, file=password_file.resolve()))
    # The client address comes from X-Forwarded-For only when the peer is in PATRON_TRUSTED_PROXIES
    # (``web.deps.client_address``); uvicorn's own rewriting trusts any loopback peer, so it is off.
    uvicorn.run(
        "patron.web.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
        proxy_headers=False,
    )  # fmt: skip


# ------------------------------------------------------------------------ loyalty, assistant and eval
# Their commands live in their domains (this file is long enough); they use the helpers above, so they import
# this module. Run as `python -m patron.cli`, this file is `__main__` and not yet `patron.cli`: the real module is
# imported (registering everything) and run instead.
if __name__ == "__main__":  # pragma: no cover
    from patron.cli import app as registered

    registered()
else:
    from patron.assistant.cli import assistant_app
    from patron.feedback.cli import feedback_app
    from patron.loyalty.cli import loyalty_app
    from patron.social.cli import social_app
    from patron.surveys.servqual_cli import servqual_command
    from patron.text.cli import eval_app

    app.add_typer(loyalty_app, name="loyalty")
    app.add_typer(assistant_app, name="assistant")
    app.add_typer(eval_app, name="eval")
    app.add_typer(feedback_app, name="feedback")
    app.command("servqual")(servqual_command)
    app.add_typer(social_app, name="social")
