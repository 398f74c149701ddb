"""``patron servqual``: SERVQUAL gaps per dimension and item (docs/servqual.md). Registered by ``patron.cli``."""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape

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
)
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.safecells import SafeCsvWriter
from patron.customers.service import code_labels
from patron.surveys import servqual

FORMATS = ["table", "csv", "json"]
CSV_COLUMNS = ["group", "level", "key", "name", "dimension", "n", "expectation", "perception", "gap", "ci_low",
               "ci_high", "incomplete", "small_sample"]  # fmt: skip
THEME_COLUMNS = ["dimension", "name", "mentions", "positive", "negative", "positive_share", "negative_share"]


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PatronError("dashboard.bad_date", field=name, value=value[:40]) from None


def _number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def csv_rows(report: servqual.ServqualReport) -> tuple[list[str], list[list[Any]]]:
    """The report as one flat table: a row per dimension, item and group score (or per dimension's themes)."""
    if report.source == servqual.SOURCE_THEMES:
        return THEME_COLUMNS, [
            [t.dimension, t.name, t.mentions, t.positive, t.negative, t.positive_share, t.negative_share]
            for t in report.themes
        ]
    rows: list[list[Any]] = []
    for group in report.groups:
        label = "" if group.group is None else group.group
        for level, gaps in (("dimension", group.dimensions), ("item", group.items)):
            for g in gaps:
                rows.append([label, level, g.key, g.name, g.dimension, g.n, g.expectation, g.perception, g.gap,
                             g.ci_low, g.ci_high, g.incomplete, not g.sufficient])  # fmt: skip
        rows.append([label, "score", "unweighted", "", "", group.respondents, None, None, group.score, None, None,
                     None, group.respondents < report.min_sample])  # fmt: skip
    return CSV_COLUMNS, rows


def servqual_command(
    survey: Annotated[
        str | None, typer.Option(help="Only this survey key [default: every SERVQUAL survey]")
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="segment or month (in the workspace's time zone)")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD [default: the first answer]")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD [default: the last answer]")] = None,
    segment: Annotated[str | None, typer.Option(help="Only customers of this segment code")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """SERVQUAL gaps (perception − expectation) per dimension and item with 95 % intervals, e.g.
    patron servqual --by month."""
    locale = _locale(lang)

    def action() -> None:
        if fmt not in FORMATS:
            raise PatronError("import.bad_format", format=fmt, choices=FORMATS)
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = servqual.gap_report(session, workspace_id=ws.id, timezone=ws.timezone, locale=locale,
                                         survey=survey, by=by, since=_day(since, "since"), until=_day(until, "until"),
                                         segment=segment)  # fmt: skip
            labels = code_labels(ws, locale)
        if fmt == "json":
            print(report.model_dump_json(indent=2))
            return
        if fmt == "csv":
            header, rows = csv_rows(report)
            writer = SafeCsvWriter(sys.stdout)
            writer.writerow(header)
            writer.writerows(rows)
            return
        _print(report, locale, labels)

    _run(action, locale)


def _group_name(report: servqual.ServqualReport, group: str | None, locale: str, labels: Any) -> str:
    if group is None:
        return _t("servqual.overall", locale)
    if report.by == "segment":
        return str(labels("segment", group)) if group else _t("servqual.no_segment", locale)
    return group


def _print(report: servqual.ServqualReport, locale: str, labels: Any) -> None:
    if report.source == servqual.SOURCE_THEMES:
        _say(_t("servqual.themes_instead", locale))
        table = _table(
            locale, "servqual.dimension", "servqual.mentions", "fb.positive_share", "fb.negative_share"
        )
        for t in report.themes:
            _row(table, t.name, t.mentions, _percent(t.positive_share), _percent(t.negative_share))
        console.print(table)
        return
    if not report.groups:
        _say(_t("servqual.no_answers", locale))
        return
    small = _t("servqual.small_sample", locale, minimum=report.min_sample)
    for group in report.groups:
        title = _group_name(report, group.group, locale, labels)
        table = _table(locale, "servqual.dimension", "servqual.respondents", "servqual.expectation", "servqual.perception",
                       "servqual.gap", "dash.ci95", "servqual.incomplete", "cli.col_note", title=escape(title))  # fmt: skip
        for indent, gaps in (("", group.dimensions), ("  ", group.items)):
            for g in gaps:
                name = f"{indent}{g.name}"
                interval = "" if g.ci_low is None else f"{g.ci_low:.2f} – {g.ci_high:.2f}"
                _row(table, name, g.n, _number(g.expectation), _number(g.perception), _number(g.gap), interval,
                     g.incomplete, "" if g.sufficient else small)  # fmt: skip
        console.print(table)
        _say(_t("servqual.score", locale, score=_number(group.score), dimensions=len(group.dimensions),
                respondents=group.respondents))  # fmt: skip


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"
