"""``patron eval sentiment``: the shipped sentiment model on anyone's labelled CSV or JSON Lines file.
Registered on the main command by ``patron.cli``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patron.cli import LocaleOption, _locale, _row, _run, _say, _t, _table, console
from patron.text.evaluation import DEFAULT_POSITIVE, evaluate, read_labelled

eval_app: typer.Typer = typer.Typer(
    help="Check Patron's models on your own labelled data.", no_args_is_help=True
)


@eval_app.command("sentiment")
def eval_sentiment(
    file: Annotated[Path, typer.Argument(help="A labelled .csv, .tsv or .jsonl file")],
    text_column: Annotated[str, typer.Option("--text-column", help="The column holding the text")],
    label_column: Annotated[str, typer.Option("--label-column", help="The column holding the label")],
    positive: Annotated[
        list[str] | None,
        typer.Option(
            "--positive",
            help="A label value meaning positive (repeatable) [default: 1, positive, pos, true, yes]",
        ),
    ] = None,
    lang: LocaleOption = None,
) -> None:
    """Accuracy, macro-F1, the confusion matrix and texts/s of the sentiment model on a labelled file (a text
    is predicted positive when P(positive) ≥ 0.5; every label not given as --positive is negative)."""
    locale = _locale(lang)

    def action() -> None:
        texts, labels = read_labelled(file, text_column, label_column, positive or DEFAULT_POSITIVE)
        result = evaluate(texts, labels)
        _say(
            _t(
                "cli.eval_result", locale, texts=result.texts, accuracy=f"{result.accuracy:.4f}",
                macro_f1=f"{result.macro_f1:.4f}", rate=f"{result.texts_per_second:,.0f}",
            )
        )  # fmt: skip
        table = _table(
            locale, "cli.eval_actual", "cli.eval_predicted_negative", "cli.eval_predicted_positive"
        )
        _row(table, _t("cli.eval_negative", locale), *result.confusion[0])
        _row(table, _t("cli.eval_positive", locale), *result.confusion[1])
        console.print(table)

    _run(action, lang)
