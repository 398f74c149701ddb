"""``patron feedback …``: import comments, analyse them, and the themes with their figures or the taxonomy.
Registered on the main command by ``patron.cli``."""

from __future__ import annotations

import getpass
import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from patron.cli import (
    LocaleOption,
    WorkspaceOption,
    _locale,
    _row,
    _run,
    _say,
    _t,
    _table,
    _workspace_slug,
    console,
    import_command,
)
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.feedback import service
from patron.feedback.models import Channel

feedback_app: typer.Typer = typer.Typer(
    help="Feedback from every channel: import, analysis, themes (docs/feedback.md).", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]


@feedback_app.command("import")
def import_feedback(
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
    as_json: JsonOption = False,
) -> None:
    """Import comments (same validation, report and rejects file as `patron import`), then analyse them."""
    try:
        import_command("feedback", file, workspace, fmt, encoding, rejects, lang, as_json)
    except typer.Exit as stop:
        if stop.exit_code == 1 and not as_json:  # some rows rejected: the good ones landed and are analysed
            analyze(workspace=workspace, lang=lang, as_json=False)
        raise
    if not as_json:
        analyze(workspace=workspace, lang=lang, as_json=False)


@feedback_app.command("analyze")
def analyze(
    workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False
) -> None:
    """Bring the analysis up to date: survey comments not yet items become items (the backfill), new or changed
    items and items analysed with an older taxonomy get their sentiment and themes. Safe to run twice."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = service.analyze(session, workspace_id=ws.id)
        if as_json:
            print(report.model_dump_json(indent=2))
            return
        _say(_t("feedback.cli_analyzed", locale, taxonomy=report.taxonomy, analysed=report.analysed,
                mentions=report.mentions, added=report.survey_comments_added))  # fmt: skip

    _run(action, locale)


@feedback_app.command("themes")
def themes(
    since: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD [default: 30 days before --until]")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD [default: yesterday]")] = None,
    channel: Annotated[Channel | None, typer.Option(help="Only this channel")] = None,
    set_file: Annotated[
        Path | None,
        typer.Option("--set", help="Store this YAML file as the workspace's new taxonomy version"),
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Print the taxonomy in force as YAML")] = False,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Themes with items, positive and negative shares for a period; or --set a new taxonomy, --show the one in
    force."""
    locale = _locale(lang)

    def day(value: str | None, name: str) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise PatronError("dashboard.bad_date", field=name, value=value[:40]) from None

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if set_file is not None:
                raw = service.read_taxonomy_file(set_file)
                saved = service.set_taxonomy(session, workspace_id=ws.id, raw=raw, source=set_file.name,
                                             actor=f"cli:{getpass.getuser()}")  # fmt: skip
                _say(
                    _t("feedback.cli_taxonomy_saved", locale, version=saved.version, themes=len(saved.themes))
                )
                return
            taxonomy = service.current_taxonomy(session, ws.id)
            if show:
                print(service.taxonomy_source(session, ws.id), end="")
                return
            start, end = service.day_bounds(ws.timezone, day(since, "since"), day(until, "until"))
            figures = service.theme_figures(session, workspace_id=ws.id, since=start, until=end, locale=locale,
                                            channel=channel.value if channel else None)  # fmt: skip
        if as_json:
            print(json.dumps([f.model_dump() for f in figures], ensure_ascii=False, indent=2))
            return
        _say(_t("feedback.cli_taxonomy_current", locale, tag=taxonomy.tag, themes=len(taxonomy.themes)))
        table = _table(locale, "fb.theme", "fb.group", "fb.items", "fb.positive_share", "fb.negative_share")
        for f in figures:
            _row(table, f.name, _t(f"fb.group.{f.group}", locale), f.items, _percent(f.positive_share),
                 _percent(f.negative_share))  # fmt: skip
        console.print(table)

    _run(action, locale)


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"
