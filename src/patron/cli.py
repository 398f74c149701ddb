"""The ``patron`` command. Each command owns its transaction; services never commit."""

from __future__ import annotations

import csv
import json
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from patron.core import migrate
from patron.core import service as core_service
from patron.core.clock import utcnow
from patron.core.db import get_engine, transaction
from patron.core.errors import PatronError
from patron.core.i18n import normalize_locale, translate
from patron.core.importing import ImportReport
from patron.core.settings import get_settings
from patron.customers import service as customer_service
from patron.importers import IMPORT_SPECS, import_file

app = typer.Typer(help="Patron: customer satisfaction and loyalty platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
workspaces_app = typer.Typer(help="Workspaces (brands, tenants).", no_args_is_help=True)
users_app = typer.Typer(help="Web UI users.", no_args_is_help=True)
apikeys_app = typer.Typer(help="API keys for integrators.", no_args_is_help=True)
customers_app = typer.Typer(help="Customer profiles.", no_args_is_help=True)
demo_app = typer.Typer(help="The seeded demo workspace.", no_args_is_help=True)
surveys_app = typer.Typer(help="Survey definitions.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook deliveries.", no_args_is_help=True)
export_app = typer.Typer(help="Analytical copies of a workspace.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(workspaces_app, name="workspaces")
app.add_typer(users_app, name="users")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(customers_app, name="customers")
app.add_typer(demo_app, name="demo")
app.add_typer(surveys_app, name="surveys")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(export_app, name="export")

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")

WorkspaceOption = Annotated[
    str | None,
    typer.Option("--workspace", "-w", help="Workspace slug [default: PATRON_DEFAULT_WORKSPACE or demo]"),
]
LocaleOption = Annotated[
    str | None, typer.Option("--lang", help="Language of messages: zh-Hant, zh-Hans or en")
]


def _workspace_slug(value: str | None) -> str:
    return value or get_settings().default_workspace


def _locale(value: str | None) -> str:
    """--lang, else the terminal's language (LANG=zh_TW.UTF-8 → zh-Hant), else the configured default."""
    for candidate in (value, os.environ.get("LC_ALL"), os.environ.get("LC_MESSAGES"), os.environ.get("LANG")):
        locale = normalize_locale((candidate or "").split(".")[0])
        if locale:
            return locale
    return get_settings().default_locale


@contextmanager
def _friendly_errors(locale: str | None = None) -> Iterator[None]:
    """A PatronError becomes one clear line on stderr and exit code 2, never a traceback."""
    try:
        yield
    except PatronError as error:
        errors.print(f"[red]{error.message(_locale(locale))}[/red]")
        raise typer.Exit(2) from None


def _run(action: Callable[[], T], locale: str | None = None) -> T:
    with _friendly_errors(locale):
        return action()


# --------------------------------------------------------------------------------------------- db
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision (safe to re-run)."""
    engine = get_engine()
    migrate.upgrade(engine)
    console.print(
        f"database at revision {migrate.current_revision(engine)} ({engine.url.render_as_string()})"
    )


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the configured database."""
    engine = get_engine()
    console.print(f"current: {migrate.current_revision(engine)}  head: {migrate.head_revision(engine)}")


# --------------------------------------------------------------------------------------------- workspaces
@workspaces_app.command("create")
def workspaces_create(
    slug: str,
    name: Annotated[str, typer.Option(help="Display name")] = "",
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "Asia/Taipei",
    currency: Annotated[str, typer.Option(help="ISO 4217 code")] = "TWD",
    locale: Annotated[str, typer.Option("--locale", help="Default language")] = "zh-Hant",
    industry: Annotated[str | None, typer.Option(help="Industry, for benchmarks")] = None,
) -> None:
    def action() -> None:
        with transaction() as session:
            workspace = core_service.create_workspace(
                session, slug=slug, name=name or slug, timezone=timezone, currency=currency,
                default_locale=locale, industry=industry,
            )  # fmt: skip
            console.print(f"workspace [bold]{workspace.slug}[/bold] created")

    _run(action)


@workspaces_app.command("list")
def workspaces_list() -> None:
    with transaction() as session:
        table = Table("slug", "name", "timezone", "currency", "locale")
        for w in core_service.list_workspaces(session):
            table.add_row(w.slug, w.name, w.timezone, w.currency, w.default_locale)
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
) -> None:
    """Create a user who logs into the web UI with a password (stored as an argon2id hash)."""
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
            console.print(f"user [bold]{user.email}[/bold] ({user.role}) created in {ws.slug}")

    _run(action)


# --------------------------------------------------------------------------------------------- api keys
@apikeys_app.command("create")
def apikeys_create(name: str, workspace: WorkspaceOption = None) -> None:
    """Mint an API key. The key is printed once; only its digest is stored."""

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            _, full_key = core_service.create_api_key(session, workspace_id=ws.id, name=name)
        console.print("API key (shown once, store it now):")
        print(full_key)

    _run(action)


@apikeys_app.command("list")
def apikeys_list(workspace: WorkspaceOption = None) -> None:
    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            table = Table("prefix", "name", "created", "last used", "revoked")
            for key in core_service.list_api_keys(session, workspace_id=ws.id):
                table.add_row(
                    key.prefix,
                    key.name,
                    str(key.created_at),
                    str(key.last_used_at or ""),
                    str(key.revoked_at or ""),
                )
        console.print(table)

    _run(action)


@apikeys_app.command("revoke")
def apikeys_revoke(prefix: str, workspace: WorkspaceOption = None) -> None:
    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            core_service.revoke_api_key(session, workspace_id=ws.id, prefix=prefix)
        console.print(f"key {prefix} revoked")

    _run(action)


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
        task = bar.add_task(f"{kind} ← {file.name}", total=None)
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


def _print_report(report: ImportReport, locale: str) -> None:
    console.print(
        f"{report.kind}: read {report.rows_read} rows from {report.file} ({report.format}, {report.encoding or 'binary'}) — "
        f"[green]{report.inserted} inserted[/green], {report.updated} updated, {report.unchanged} unchanged"
        + (f", {report.removed} removed lines" if report.removed else "")
        + (f", [red]{report.rejected} rejected[/red]" if report.rejected else "")
    )
    if report.ignored_columns:
        console.print(f"ignored columns: {', '.join(report.ignored_columns)}")
    if report.errors:
        table = Table("line", "column", "reason", title="rejected rows (first 20)")
        for error in report.errors[:20]:
            table.add_row(str(error.line), error.column or "", error.message(locale))
        console.print(table)
        console.print(f"all rejected rows with reasons: {report.rejects_file}")


# --------------------------------------------------------------------------------------------- customers
@customers_app.command("show")
def customers_show(
    external_id: str,
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole story as JSON")] = False,
    lang: LocaleOption = None,
) -> None:
    """A customer's profile, orders with lines, and interaction timeline."""

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

        profile = Table(show_header=False, title=f"customer {p.external_id}")
        for label, value in (
            ("name", p.name), ("email", p.email), ("phone", p.phone), ("birthday", p.birthday),
            ("gender", p.gender), ("locale", p.locale), ("city", p.city), ("segment", p.segment),
            ("signed up", local(p.signup_at)), ("consent email/sms/surveys", f"{p.consent_email}/{p.consent_sms}/{p.consent_surveys}"),
            ("orders", s.order_count), ("spent", f"{s.total_spent} {s.currency}"),
            ("first/last order", f"{local(s.first_order_at)} / {local(s.last_order_at)}"), ("interactions", s.interaction_count),
        ):  # fmt: skip
            profile.add_row(label, "" if value is None else str(value))
        console.print(profile)
        orders = Table("order", "time", "status", "channel", "total", "lines", title="orders")
        for order in story.orders[:20]:
            items = ", ".join(
                f"{line.product_name or line.product_external_id} ×{line.quantity}" for line in order.lines
            )
            orders.add_row(
                order.external_id,
                local(order.ordered_at),
                order.status,
                order.channel,
                f"{order.total} {order.currency}",
                items,
            )
        console.print(orders)
        timeline = Table("time", "type", "channel", "detail", title="interactions (newest 30)")
        for event in story.interactions[:30]:
            timeline.add_row(
                local(event.occurred_at),
                event.type,
                event.channel,
                event.detail or event.product_external_id or "",
            )
        console.print(timeline)

    _run(action, lang)


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
            state = "saved" if changed else "unchanged"
            console.print(
                f"survey [bold]{survey.key}[/bold] version {survey.version} ({state}, {len(definition.questions)} questions)"
            )
        for missing in definition.missing_languages():
            console.print(
                f"[yellow]no text in {missing}; respondents in that language see a fallback[/yellow]"
            )

    _run(action, locale)


@surveys_app.command("templates")
def surveys_templates(
    export: Annotated[
        Path | None, typer.Option(help="Write the templates as YAML files into this folder")
    ] = None,
) -> None:
    """List the built-in templates; --export writes them out to edit and create from."""
    from patron.surveys import service as survey_service

    table = Table("key", "kind", "touchpoint", "questions", "name")
    for key, definition in survey_service.templates().items():
        table.add_row(
            key,
            definition.kind.value,
            definition.touchpoint.value,
            str(len(definition.questions)),
            definition.name["zh-Hant"],
        )
        if export is not None:
            export.mkdir(parents=True, exist_ok=True)
            (export / f"{key}.yaml").write_text(
                (survey_service.TEMPLATE_DIR / f"{key}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
            )
    console.print(table)


@surveys_app.command("list")
def surveys_list(workspace: WorkspaceOption = None) -> None:
    from patron.surveys import service as survey_service

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            table = Table("key", "version", "status", "kind", "touchpoint", "channel")
            for s in survey_service.list_surveys(session, workspace_id=ws.id):
                table.add_row(s.key, str(s.version), s.status, s.kind, s.touchpoint, s.channel)
        console.print(table)

    _run(action)


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
) -> None:
    """Run every active survey's trigger, then send due invitations and reminders over SMTP. Run it from cron
    (every 15 minutes is plenty); re-running never invites anyone twice."""
    from patron.core.mail import MailError, SmtpMailer
    from patron.surveys import distribution
    from patron.surveys import service as survey_service

    def action() -> None:
        now = utcnow()
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            table = Table("survey", "invited", "skipped (why)")
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
                why = ", ".join(f"{reason} {count}" for reason, count in sorted(report.skipped.items()))
                table.add_row(survey.key, str(report.invited), why)
            console.print(table)
            if dry_run:
                session.rollback()
                console.print("dry run: nothing kept, nothing sent")
                return
            try:
                with SmtpMailer() as mailer:
                    sent = distribution.send_due(session, workspace=ws, mailer=mailer, now=now)
            except MailError as exc:
                errors.print(f"[red]{exc}[/red] — invitations are kept and go out on the next run")
                return
            console.print(
                f"sent {sent.sent}, reminders {sent.reminded}, failed {sent.failed}, no longer allowed {sent.skipped}"
            )

    _run(action)


@surveys_app.command("link")
def surveys_link(
    survey_key: str,
    customer: str,
    order: Annotated[str | None, typer.Option(help="The order the survey is about")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Mint a personal link for one customer (to send through your own channel), honouring the same rules."""
    from patron.customers import service as customers
    from patron.surveys import distribution
    from patron.surveys import service as survey_service

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            survey = survey_service.get_survey(session, workspace_id=ws.id, key=survey_key)
            person = customers.get_customer(session, workspace_id=ws.id, external_id=customer)
            subject = f"order:{order}" if order else f"link:{utcnow():%Y-%m-%d}"
            outcome = distribution.invite(session, workspace=ws, survey=survey, definition=survey_service.definition_of(survey),
                                          customer=person, subject=subject, now=utcnow(), order_external_id=order)  # fmt: skip
            if outcome.invitation is None:
                errors.print(f"[yellow]not invited: {outcome.skipped}[/yellow]")
                raise typer.Exit(1)
            print(distribution.survey_link(outcome.invitation.nonce))

    _run(action)


@webhooks_app.command("deliver")
def webhooks_deliver() -> None:
    """Send due webhook deliveries once (for cron, when the server's own dispatcher is turned off)."""
    from patron.webhooks import service as webhook_service

    with transaction() as session:
        report = webhook_service.deliver_due(session, post=webhook_service.http_post, now=utcnow())
    console.print(f"delivered {report.delivered}, retrying {report.retrying}, failed {report.failed}")


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
        str, typer.Option("--format", help="table, csv, json or parquet (needs --output)")
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
            raise PatronError("import.bad_format", format=fmt, choices="table, csv, json, parquet")
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
                raise PatronError("import.bad_format", format=engine_name, choices="duckdb, spark")
            con = spark.open_parquet(parquet) if engine_name == "spark" else export.open_parquet(parquet)
        result = metrics_service.run(ws.id, query, locale, con=con)
        if fmt == "json":
            print(result.model_dump_json(indent=2))
            return
        if fmt == "parquet" and output is not None:
            metrics_service.write_parquet(result, output)
            console.print(f"{len(result.rows)} rows written to {output}")
            return
        headers = [*query.by, *(["period"] if grain else []), "n", name, "95% interval", ""]
        lines = []
        for row in result.rows:
            interval = "" if row.ci_low is None else f"{row.ci_low:.1f} – {row.ci_high:.1f}"
            warning = (
                "" if row.sufficient else translate("metrics.small_sample", locale, minimum=result.min_sample)
            )
            value = "" if row.value is None else f"{row.value:.1f}" if name != "ces" else f"{row.value:.2f}"
            lines.append(
                [
                    *row.group.values(),
                    *([str(row.period)] if grain else []),
                    str(row.n),
                    value,
                    interval,
                    warning,
                ]
            )
        if fmt == "csv":
            writer = csv.writer(sys.stdout)
            writer.writerow(headers)
            writer.writerows(lines)
            return
        table = Table(*headers, title=f"{name.upper()} — {result.message or ''}".rstrip(" —"))
        for line in lines:
            table.add_row(*line)
        console.print(table)

    _run(action, locale)


@export_app.command("parquet")
def export_parquet_command(
    folder: Annotated[Path, typer.Argument(help="Where to write answer_facts.parquet and orders.parquet")],
    workspace: WorkspaceOption = None,
) -> None:
    """Write the workspace's answers (joined with what metrics slice by) and purchases as Parquet, for DuckDB,
    Spark or a notebook."""
    from patron.metrics import service as metrics_service
    from patron.metrics.export import export_parquet

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
        written = export_parquet(metrics_service.operational_connection(), ws.id, folder, zone=ws.timezone)
        for name, rows in written.items():
            console.print(f"{folder / (name + '.parquet')}: {rows} rows")

    _run(action)


# --------------------------------------------------------------------------------------------- demo
@demo_app.command("load")
def demo_load(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the demo workspace has data")
    ] = False,
    customers: Annotated[int, typer.Option(help="Number of customers")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 20_251_123,
    end: Annotated[str | None, typer.Option(help="Last day of the two-year history [default: today]")] = None,
    slug: Annotated[str, typer.Option("--workspace", help="Workspace slug")] = "demo",
) -> None:
    """Generate and import a seeded demo workspace (a Taiwanese tea-and-coffee retail brand)."""
    from patron.demo.loader import DEMO_ADMIN_EMAIL, demo_has_data, load_demo

    engine = get_engine()
    migrate.upgrade(engine)
    if if_empty and demo_has_data(engine, slug):
        console.print(f"demo workspace [bold]{slug}[/bold] already loaded; log in as {DEMO_ADMIN_EMAIL}")
        return
    password = secrets.token_urlsafe(12)
    with _friendly_errors():
        summary = load_demo(
            engine, slug=slug, customers=customers, seed=seed, end=date.fromisoformat(end) if end else utcnow().date() - timedelta(days=1),
            admin_password=password, data_dir=get_settings().var_dir / "demo", log=console.print,
        )  # fmt: skip
    console.print(
        f"demo workspace [bold]{slug}[/bold]: {summary}\n"
        f"log in at http://127.0.0.1:8000/login as [bold]{DEMO_ADMIN_EMAIL}[/bold] with password [bold]{password}[/bold]"
        " (also written to var/demo/admin-password.txt)"
    )
    (get_settings().var_dir / "demo" / "admin-password.txt").write_text(
        f"{DEMO_ADMIN_EMAIL}\n{password}\n", encoding="utf-8"
    )


# --------------------------------------------------------------------------------------------- serve
@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve the web UI and the REST API."""
    import uvicorn

    migrate.upgrade(get_engine())
    password_file = get_settings().var_dir / "demo" / "admin-password.txt"
    console.print(
        f"Patron on http://{host}:{port}/  ·  API docs http://{host}:{port}/docs  ·  spec /openapi.json"
    )
    if password_file.exists():
        email, password = password_file.read_text(encoding="utf-8").split()[:2]
        console.print(f"demo login: {email} / {password}")
    uvicorn.run(
        "patron.web.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
    )


if __name__ == "__main__":  # pragma: no cover
    app()
