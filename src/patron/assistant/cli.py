"""``patron assistant import|ask|eval``. Registered on the main command by ``patron.cli``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from patron.assistant import service
from patron.cli import LocaleOption, WorkspaceOption, _locale, _run, _say, _t, _workspace_slug
from patron.core import service as core_service
from patron.core.db import transaction

assistant_app: typer.Typer = typer.Typer(
    help="FAQ assistant: knowledge base and offline answers (docs/assistant.md).", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]


@assistant_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL or JSON knowledge-base file (docs/assistant.md)")],
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
            index = service.workspace_index(session, ws.id).index
        report = service.evaluate(index, cases)
        if as_json:
            print(json.dumps(report.__dict__, ensure_ascii=False))
            return
        _say(_t("assistant.cli_eval", locale, questions=report.questions, p1=f"{report.p_at_1:.3f}",
                r5=f"{report.recall_at_5:.3f}", mrr=f"{report.mrr:.3f}", p95=f"{report.p95_ms:.1f}",
                answered=f"{report.answered_share:.3f}", right=f"{report.answered_right:.3f}"))  # fmt: skip

    _run(action, locale)
