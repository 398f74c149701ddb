"""Fit the assistant's re-rank (src/patron/assistant/rerank.json) on questions held out of a knowledge base.

No test question is used. The knowledge base's entries with two questions or more teach it: in fold f, question f
of each such entry is taken out of the entry (from its questions and from its answer text, its answers stay), the
indexes are built over that reduced base, and the question is asked; the right entry is the one it came from.
A logistic regression over ``retrieval.LEXICAL`` of the candidates (BM25 scores and overlaps) learns which point
at the right one. Its regularisation is chosen on the last fold (fitted on the others), then it is fitted on all
folds and written as JSON (no pickle). By default the knowledge base is the E.SUN FAQ (617 entries).

``--semantic``: over ``retrieval.FEATURES`` (the e5 cosines too), with the regularisation chosen on the validation
set (tools/data/assistant_validation.jsonl) by tools/assistant_e5_experiments.py (``--c`` to override; the last
fold's P@1 is printed beside, for information), written to src/patron/assistant/rerank_e5.json: it orders the
candidates, the lexical re-rank's probability stays the confidence (docs/assistant.md, fourth round). ``--cache FILE.npz`` keeps the e5 vectors on disk so a rerun embeds nothing
again.

    PYTHONPATH=src python tools/train_assistant_rerank.py [--data ../shared/datasets/esun_faq_zh_hant] [--kb FILE]
        [--semantic [--c C] [--cache FILE.npz]]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.tune_assistant import DEFAULT_DATA

from patron.assistant.retrieval import FEATURES, LEXICAL, RERANK_FILE, SEMANTIC_RERANK_FILE, Document, Index
from patron.assistant.service import EntryData, esun_entries, read_entries
from patron.text.encoder import embedder

FOLDS = 3
CHOICES = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
SEMANTIC_FILE = SEMANTIC_RERANK_FILE
#: With --semantic, chosen on the validation set (docs/assistant.md, fourth round): the e5 features' differences are small
#: numbers, so they need large weights, i.e. little regularisation.
CHOSEN_C = 1000.0


def fold_cases(entries: list[EntryData], fold: int) -> tuple[list[Document], list[tuple[str, int]]]:
    """The base with question ``fold`` taken out of every entry that has more than one, and those questions."""
    documents, held = [], []
    for e in entries:
        questions = [e.title, *e.phrasings]
        if len(questions) >= 2 and fold < len(questions):
            out = questions.pop(fold)
            held.append((out, len(documents)))
            documents.append(Document(e.external_id, tuple(questions), e.answer.replace(out, " ")))
        else:
            documents.append(Document(e.external_id, tuple(questions), e.answer))
    return documents, held


def examples(
    entries: list[EntryData], fold: int, semantic: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) of each held-out question whose right entry is among the candidates."""
    documents, held = fold_cases(entries, fold)
    index = Index(documents, reranker=False, semantic=semantic)
    out = []
    for question, position in held:
        candidates, rows, _, _ = index.features(question)
        labels = (candidates == position).astype(int)
        if labels.any():
            out.append((rows, labels))
    return out


def fit(groups: list[tuple[np.ndarray, np.ndarray]], c: float) -> LogisticRegression:
    x = np.vstack([rows for rows, _ in groups])
    y = np.concatenate([labels for _, labels in groups])
    return LogisticRegression(C=c, max_iter=5000).fit(x, y)


def p_at_1(groups: list[tuple[np.ndarray, np.ndarray]], model: LogisticRegression | None) -> float:
    """Share of questions whose right entry comes first (by BM25 alone when ``model`` is None)."""
    right = 0
    for rows, labels in groups:
        first = 0 if model is None else int(np.argmax(rows @ model.coef_[0]))
        right += int(labels[first])
    return right / len(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--kb", type=Path, help="a knowledge-base file (CSV, JSONL, JSON, XLSX) instead of E.SUN"
    )
    parser.add_argument(
        "--out", type=Path, help="default: rerank.json, with --semantic " + str(SEMANTIC_FILE)
    )
    parser.add_argument("--semantic", action="store_true", help="with the e5 features")
    parser.add_argument("--c", type=float, help="the regularisation (default: chosen as above)")
    parser.add_argument("--cache", type=Path, help="an .npz of e5 vectors, read and written")
    args = parser.parse_args()
    if args.cache and args.cache.exists():
        with np.load(args.cache) as saved:
            embedder().preload({k: saved[k] for k in saved.files})
    if args.kb:
        entries = read_entries(args.kb)
    else:
        entries = esun_entries(json.loads((args.data / "pid_map_content.json").read_text(encoding="utf-8")))
    folds = [examples(entries, f, args.semantic) for f in range(FOLDS)]
    if args.cache:
        np.savez(args.cache, **embedder().cached())
    train = [g for fold in folds[:-1] for g in fold]
    check = folds[-1]
    print(f"{len(entries)} entries; held-out questions with the right entry among the candidates: "
          + ", ".join(str(len(f)) for f in folds))  # fmt: skip
    print(f"last fold, BM25 alone: P@1 {p_at_1(check, None):.3f}")
    validation = {}
    for c in CHOICES:
        validation[c] = p_at_1(check, fit(train, c))
        print(f"last fold, re-ranked with C={c}: P@1 {validation[c]:.3f}")
    chosen = args.c or (CHOSEN_C if args.semantic else max(CHOICES, key=lambda c: (validation[c], -c)))
    out = args.out or (SEMANTIC_FILE if args.semantic else RERANK_FILE)
    model = fit([g for fold in folds for g in fold], chosen)
    result = {
        "features": list(FEATURES if args.semantic else LEXICAL),
        "weights": [round(float(w), 6) for w in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "trained_on": {
            "entries": len(entries),
            "held_out_questions": sum(len(f) for f in folds),
            "c": chosen,
            "c_chosen_on": "tools/data/assistant_validation.jsonl (tools/assistant_e5_experiments.py)"
            if args.semantic
            else "the last fold",
            "last_fold_p_at_1": {str(c): round(v, 4) for c, v in validation.items()},
            "last_fold_p_at_1_bm25": round(p_at_1(check, None), 4),
        },
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"chosen C={chosen}; weights "
        + ", ".join(f"{n} {w:+.3f}" for n, w in zip(result["features"], result["weights"], strict=True))
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
