"""``patron assistant import|ask|eval`` and ``patron assistant entries list|show|edit|retire``. Registered on the main command by ``patron.cli``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from patron.assistant import editing, service
from patron.assistant.editing import entry_read
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

assistant_app: typer.Typer = typer.Typer(
    help="FAQ assistant: knowledge base and offline answers (docs/assistant.md).", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]


@assistant_app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="CSV, JSONL, JSON or XLSX knowledge-base file (docs/assistant.md)")
    ],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Add or update knowledge-base entries from a file; the whole file or nothing."""
    locale = _locale(lang)

    def action() -> None:
        entries = service.read_entries(file)
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = service.import_entries(session, ws.id, entries)
        _say(_t("assistant.cli_imported", locale, inserted=report.inserted, updated=report.updated,
                total=report.total))  # fmt: skip

    _run(action, locale)


@assistant_app.command("export")
def export(
    file: Annotated[
        Path, typer.Argument(help="File to write: .csv, .jsonl or .xlsx (the format follows the name)")
    ],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Write the whole knowledge base (every status) to a file that patron assistant import reads back."""
    locale = _locale(lang)

    def action() -> None:
        fmt = file.suffix.lower().lstrip(".")
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            body = service.export_entries(session, ws.id, fmt)
        file.write_bytes(body)
        _say(_t("assistant.cli_exported", locale, file=str(file), bytes=len(body)))

    _run(action, locale)


@assistant_app.command("ask")
def ask(
    question: Annotated[str, typer.Argument(help="The customer's question")],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question from the knowledge base, or say it is not sure and show the closest entries."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            answer = service.ask(session, ws.id, question, locale)
        if as_json:
            print(json.dumps(answer.model_dump(mode="json"), ensure_ascii=False, indent=2))
            return
        _say(answer.message)
        if answer.source is not None and answer.answer is not None:
            _say(_t("assistant.cli_source", locale, id=answer.source.id, title=answer.source.title,
                    confidence=f"{answer.confidence:.2f}"))  # fmt: skip
            _say(answer.answer)
        for ref in answer.related or answer.closest:
            _say(_t("assistant.cli_related", locale, id=ref.id, title=ref.title))

    _run(action, locale)


@assistant_app.command("eval")
def eval_(
    file: Annotated[Path, typer.Argument(help='JSONL of {"question": …, "entry": "<entry id>"}')],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """P@1, recall@5, MRR and p95 latency over questions whose right entry is known."""
    locale = _locale(lang)

    def action() -> None:
        cases = service.read_cases(file)
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            service.workspace_index(session, ws.id)
        service.wait_for_semantic()  # measure what the server answers with once its vectors exist
        with transaction() as session:
            index = service.workspace_index(session, ws.id).index
        report = service.evaluate(index, cases)
        if as_json:
            print(json.dumps(report.__dict__, ensure_ascii=False))
            return
        _say(_t("assistant.cli_eval", locale, questions=report.questions, p1=f"{report.p_at_1:.3f}",
                r5=f"{report.recall_at_5:.3f}", mrr=f"{report.mrr:.3f}", p95=f"{report.p95_ms:.1f}",
                answered=f"{report.answered_share:.3f}", right=f"{report.answered_right:.3f}"))  # fmt: skip

    _run(action, locale)


# ----------------------------------------------------------------------------------------- knowledge base
entries_app: typer.Typer = typer.Typer(
    help="List, show, edit and retire knowledge-base entries (every change keeps a history row).",
    no_args_is_help=True,
)
assistant_app.add_typer(entries_app, name="entries")
CLI_ACTOR = editing.Actor("cli")


@entries_app.command("list")
def entries_list(
    search: Annotated[
        str, typer.Option("--search", "-q", help="Text in the id, title, phrasings or answer")
    ] = "",
    category: Annotated[str, typer.Option("--category")] = "",
    language: Annotated[str, typer.Option("--language", help="zh-Hant, zh-Hans or en")] = "",
    status: Annotated[str, typer.Option("--status", help="published, draft or archived")] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Entries by id, filtered and searched."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            found = editing.list_entries(session, ws.id, search=search, category=category, language=language,
                                         status=status, limit=limit)  # fmt: skip
            rows = [entry_read(e) for e in found.entries]
        if as_json:
            print(json.dumps({"total": found.total, "entries": [r.model_dump(mode="json") for r in rows]},
                             ensure_ascii=False))  # fmt: skip
            return
        if not rows:
            _say(_t("assistant.cli_entries_none", locale))
            return
        table = _table(locale, "assistant.field.id", "assistant.field.title", "assistant.field.category",
                       "assistant.field.language", "assistant.field.status")  # fmt: skip
        for r in rows:
            _row(
                table, r.id, r.title, r.category, r.language, _t(f"assistant.entry_status.{r.status}", locale)
            )
        console.print(table)
        _say(_t("assistant.cli_entries_count", locale, shown=len(rows), total=found.total))

    _run(action, locale)


def _show_value(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    return str(value)


@entries_app.command("show")
def entries_show(
    entry_id: Annotated[str, typer.Argument(help="The entry's id")],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """One entry with its history (newest change first)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            entry = editing.get_entry(session, ws.id, entry_id)
            read = entry_read(entry)
            changes = [
                (c.changed_at, c.actor, c.action, dict(c.changes)) for c in editing.history(session, entry)
            ]
        if as_json:
            document = read.model_dump(mode="json")
            document["history"] = [{"changed_at": w.isoformat(), "actor": a, "action": k, "changes": c}
                                   for w, a, k, c in changes]  # fmt: skip
            print(json.dumps(document, ensure_ascii=False, indent=2))
            return
        _say(f"{_t('assistant.field.id', locale)}: {read.id}")
        for field in editing.FIELDS:
            _say(f"{_t(f'assistant.field.{field}', locale)}: {_show_value(getattr(read, field))}")
        _say(_t("assistant.entry_history", locale) + ":")
        if not changes:
            _say(_t("assistant.history_none", locale))
        for when, actor, kind, diff in changes:
            for field, (before, after) in diff.items():
                _say(f"{when.isoformat(timespec='seconds')} · {actor} · "
                     f"{_t(f'assistant.history_action.{kind}', locale)}: {_t(f'assistant.field.{field}', locale)}: "
                     f"{_show_value(before)} → {_show_value(after)}")  # fmt: skip

    _run(action, locale)


@entries_app.command("edit")
def entries_edit(
    entry_id: Annotated[str, typer.Argument(help="The entry's id")],
    title: Annotated[str | None, typer.Option("--title")] = None,
    answer: Annotated[str | None, typer.Option("--answer")] = None,
    phrasing: Annotated[
        list[str] | None, typer.Option("--phrasing", help="Replace the phrasings (repeat)")
    ] = None,
    add_phrasing: Annotated[
        list[str] | None, typer.Option("--add-phrasing", help="Add a phrasing (repeat)")
    ] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    language: Annotated[str | None, typer.Option("--language")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    valid_from: Annotated[str | None, typer.Option("--valid-from", help="ISO date-time; '' clears")] = None,
    valid_until: Annotated[str | None, typer.Option("--valid-until", help="ISO date-time; '' clears")] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Change the fields given; the history records each one before and after."""
    locale = _locale(lang)
    given = {"title": title, "answer": answer, "category": category, "language": language, "status": status,
             "valid_from": valid_from, "valid_until": valid_until}  # fmt: skip
    values: dict[str, object] = {k: v for k, v in given.items() if v is not None}

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if phrasing is not None or add_phrasing:
                base = (
                    list(phrasing)
                    if phrasing
                    else list(editing.get_entry(session, ws.id, entry_id).phrasings)
                )
                values["phrasings"] = base + list(add_phrasing or [])
            _, change = editing.update_entry(session, ws.id, entry_id, values, CLI_ACTOR, zone=ws.timezone)
            fields = ", ".join(_t(f"assistant.field.{f}", locale) for f in (change.changes if change else {}))
        if change is None:
            _say(_t("assistant.cli_entry_unchanged", locale, id=entry_id))
        else:
            _say(_t("assistant.cli_entry_saved", locale, id=entry_id, fields=fields))

    _run(action, locale)


@entries_app.command("retire")
def entries_retire(
    entry_id: Annotated[str, typer.Argument(help="The entry's id")],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Archive an entry: kept with its history, no longer answered."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            editing.retire_entry(session, ws.id, entry_id, CLI_ACTOR)
        _say(_t("assistant.cli_entry_retired", locale, id=entry_id))

    _run(action, locale)
