"""Checking the sentiment model on anyone's labelled file (``patron eval sentiment``): accuracy, macro-F1, the
confusion matrix and texts per second, from a CSV or JSON Lines file read with bounds."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from patron.core.errors import PatronError
from patron.text.sentiment import SentimentModel, shipped_model

MAX_BYTES = 200 * 1024 * 1024
MAX_ROWS = 2_000_000
DEFAULT_POSITIVE = ("1", "positive", "pos", "true", "yes")
BATCH = 10_000


@dataclass(frozen=True)
class Evaluation:
    texts: int
    accuracy: float
    macro_f1: float
    # confusion[actual][predicted], 0 negative, 1 positive
    confusion: tuple[tuple[int, int], tuple[int, int]]
    seconds: float

    @property
    def texts_per_second(self) -> float:
        return self.texts / self.seconds if self.seconds > 0 else 0.0


def read_labelled(
    path: Path, text_column: str, label_column: str, positive: Sequence[str] = DEFAULT_POSITIVE
) -> tuple[list[str], list[int]]:
    """Texts and labels (1 when the label, trimmed and lower-cased, is one of ``positive``) from a CSV (.csv,
    .tsv: tab-separated) or JSON Lines (.jsonl, .ndjson) file."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".jsonl", ".ndjson"):
        raise PatronError("cli.eval_unknown_format", file=path.name)
    if path.stat().st_size > MAX_BYTES:
        raise PatronError("cli.eval_too_large", file=path.name, limit=MAX_BYTES // (1024 * 1024))
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PatronError("cli.eval_not_utf8", file=path.name, offset=error.start) from None
    wanted = {value.strip().lower() for value in positive}
    texts: list[str] = []
    labels: list[int] = []

    def add(line: int, text: object, label: object) -> None:
        if text is None or label is None or str(label).strip() == "":
            raise PatronError("cli.eval_missing_value", file=path.name, line=line)
        if len(texts) >= MAX_ROWS:
            raise PatronError("cli.eval_too_many_rows", file=path.name, limit=MAX_ROWS)
        texts.append(str(text))
        labels.append(1 if str(label).strip().lower() in wanted else 0)

    if suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(content, newline=""), delimiter="\t" if suffix == ".tsv" else ",")
        for column in (text_column, label_column):
            if column not in (reader.fieldnames or []):
                raise PatronError("cli.eval_missing_column", file=path.name, column=column)
        for row in reader:
            add(reader.line_num, row.get(text_column), row.get(label_column))
    else:
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise PatronError("cli.eval_bad_json", file=path.name, line=number) from None
            if not isinstance(record, dict):
                raise PatronError("cli.eval_bad_json", file=path.name, line=number)
            for column in (text_column, label_column):
                if column not in record:
                    raise PatronError("cli.eval_missing_column", file=path.name, column=column)
            add(number, record[text_column], record[label_column])
    if not texts:
        raise PatronError("cli.eval_no_rows", file=path.name)
    return texts, labels


def evaluate(texts: Sequence[str], labels: Sequence[int], model: SentimentModel | None = None) -> Evaluation:
    """Binary evaluation: a text is predicted positive when P(positive) ≥ 0.5."""
    model = model or shipped_model()
    start = time.perf_counter()
    predicted: list[int] = []
    for offset in range(0, len(texts), BATCH):
        predicted.extend(int(p >= 0.5) for p in model.probabilities(texts[offset : offset + BATCH]))
    seconds = time.perf_counter() - start
    confusion = [[0, 0], [0, 0]]
    for actual, guess in zip(labels, predicted, strict=True):
        confusion[actual][guess] += 1
    correct = confusion[0][0] + confusion[1][1]
    f1s = []
    for cls in (0, 1):
        true_positive = confusion[cls][cls]
        predicted_count = confusion[0][cls] + confusion[1][cls]
        actual_count = sum(confusion[cls])
        denominator = predicted_count + actual_count
        f1s.append(2 * true_positive / denominator if denominator else 0.0)
    return Evaluation(
        texts=len(texts),
        accuracy=correct / len(texts) if texts else 0.0,
        macro_f1=sum(f1s) / 2,
        confusion=((confusion[0][0], confusion[0][1]), (confusion[1][0], confusion[1][1])),
        seconds=seconds,
    )
