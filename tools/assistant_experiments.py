"""Re-run the assistant's retrieval experiments of docs/assistant.md (issue 17's semantic part): each candidate
re-rank is chosen on questions held out of the knowledge base, then measured once on both test sets.

Nothing here is shipped: it measures whether a feature or a model would be worth shipping. Every configuration is
built the way ``tools/train_assistant_rerank.py`` builds the shipped re-rank (in fold f, question f of every entry
with two or more is taken out of the entry and asked of the reduced base), and every knowledge-base model (LSI,
the word association table) is trained on that fold's reduced base only, so no held-out question is seen. It is
scored by 3-fold cross-validation over the folds (trained on two, tested on the third, pooled), then fitted on all
three and run over the E.SUN test questions and our own paraphrases among all 617 entries — those numbers are
printed for the record and never used to choose anything.

Extra features (beside ``retrieval.FEATURES``):

- ``lsi_whole`` / ``lsi_question``: cosine in a 150-dimension LSI space (TF-IDF of content tokens, truncated SVD)
  trained on the base's own entries, to the whole entry and to its best question;
- ``char_question``: best TF-IDF cosine of character 1–3-grams to one of the entry's questions;
- ``association``: the share of the question's content words (two characters or more) found in the entry's
  questions, a missing word counting with its best IBM model 1 translation probability from them, the table
  learned on pairs of questions of the same entry (5 EM rounds);
- ``synonyms`` (only with ``--synonyms FILE``, a file of synonym groups one a line such as cnsyn 1.2.0's
  ``chinese_dictionary/sim_words.txt``, Apache-2.0): the share of the question's words the whole entry holds,
  directly or through a synonym (groups of 2–12 words);
- ``relative``: each of the eight features minus its largest and minus its second largest value among the
  question's candidates.

Models: the logistic re-rank (C 1.0, as shipped) and scikit-learn's HistGradientBoostingClassifier.

    PYTHONPATH=src python tools/assistant_experiments.py [--data DIR] [--synonyms sim_words.txt]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.train_assistant_rerank import FOLDS, fold_cases
from tools.tune_assistant import DEFAULT_DATA, esun_cases, own_cases

from patron.assistant.retrieval import Document, Index, both_tokens, normalise
from patron.assistant.service import esun_entries

Group = tuple[np.ndarray, np.ndarray]  # one question's candidate features and labels (1: the right entry)
_HAN_WORD = re.compile(r"^[\u4e00-\u9fff]{2,}$")


def _same(tokens: list[str]) -> list[str]:
    return tokens


def _words(tokens: Sequence[str]) -> set[str]:
    return {t for t in tokens if len(t) >= 2}


def read_synonyms(path: Path) -> dict[str, set[str]]:
    """Word → its synonyms, from a file of groups (one a line, words separated by spaces)."""
    synonyms: dict[str, set[str]] = defaultdict(set)
    for line in path.read_text(encoding="utf-8").splitlines():
        group = [w for w in line.split() if _HAN_WORD.match(w)]
        if 2 <= len(group) <= 12:
            for word in group:
                synonyms[word].update(w for w in group if w != word)
    return synonyms


class Semantic:
    """The knowledge-base models of one base: LSI, character n-grams, a word association table, synonyms."""

    def __init__(self, documents: Sequence[Document], synonyms: dict[str, set[str]] | None) -> None:
        self.synonyms = synonyms
        question_tokens: list[list[str]] = []
        owners: list[int] = []
        whole: list[list[str]] = []
        self.question_words: list[list[set[str]]] = []
        self.whole_words: list[set[str]] = []
        for position, document in enumerate(documents):
            entry: list[str] = []
            sets = []
            for question in document.questions:
                content = both_tokens(question)[1]
                question_tokens.append(content)
                owners.append(position)
                entry.extend(content)
                sets.append(_words(content))
            answer = both_tokens(document.answer)[1]
            whole.append(entry + answer)
            self.question_words.append(sets)
            self.whole_words.append(set().union(*sets) | _words(answer))
        self.by_owner: dict[int, list[int]] = defaultdict(list)
        for row, owner in enumerate(owners):
            self.by_owner[owner].append(row)
        self.tfidf = TfidfVectorizer(analyzer=_same, sublinear_tf=True)
        matrix = self.tfidf.fit_transform(whole)
        self.svd = TruncatedSVD(150, random_state=0).fit(matrix)
        self.lsi_whole = self._embed(matrix)
        self.lsi_questions = self._embed(self.tfidf.transform(question_tokens))
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self.char_questions = self.chars.fit_transform([normalise(q) for d in documents for q in d.questions])
        self.association = self._ibm1(documents)

    def _embed(self, matrix: object) -> np.ndarray:
        vectors = np.asarray(self.svd.transform(matrix))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    @staticmethod
    def _ibm1(documents: Sequence[Document]) -> dict[tuple[str, str], float]:
        """t(word | source word) of IBM model 1 over pairs of questions of the same entry (with a null word)."""
        pairs = []
        for document in documents:
            sets = [sorted(_words(both_tokens(q)[1])) for q in document.questions]
            for a, source in enumerate(sets):
                for b, target in enumerate(sets):
                    if a != b and source and target:
                        pairs.append((target, [*source, "<null>"]))
        table: dict[tuple[str, str], float] = defaultdict(lambda: 1e-3)
        for _ in range(5):
            counts: dict[tuple[str, str], float] = defaultdict(float)
            totals: dict[str, float] = defaultdict(float)
            for target, source in pairs:
                for word in target:
                    norm = sum(table[(word, s)] for s in source)
                    for s in source:
                        share = table[(word, s)] / norm
                        counts[(word, s)] += share
                        totals[s] += share
            table = defaultdict(float, {k: c / totals[k[1]] for k, c in counts.items()})
        return dict(table)

    def features(self, query: str, candidates: np.ndarray) -> np.ndarray:
        content = both_tokens(query)[1]
        vector = self._embed(self.tfidf.transform([content]))[0]
        chars = self.chars.transform([normalise(query)])
        asked = _words(content)
        rows = []
        for i in candidates:
            questions = self.by_owner[int(i)]
            char_best = float((self.char_questions[questions] @ chars.T).toarray().max())
            have = set().union(*self.question_words[int(i)])
            if asked:
                association = sum(
                    1.0 if w in have else max((self.association.get((w, v), 0.0) for v in have), default=0.0)
                    for w in asked
                ) / len(asked)
                whole = self.whole_words[int(i)]
                expanded = sum(
                    1 for w in asked if w in whole or (self.synonyms and self.synonyms.get(w, set()) & whole)
                ) / len(asked)
            else:
                association = expanded = 0.0
            rows.append((
                float(self.lsi_whole[i] @ vector), float((self.lsi_questions[questions] @ vector).max()),
                char_best, association, expanded,
            ))  # fmt: skip
        return np.asarray(rows, dtype=float)


EXTRA = ("lsi_whole", "lsi_question", "char_question", "association", "synonyms")


def relative(rows: np.ndarray) -> np.ndarray:
    """Each of the first eight features minus its largest and minus its second largest among the candidates."""
    base = rows[:, :8]
    second = np.sort(base, axis=0)[-2] if len(base) > 1 else base.max(axis=0)
    return np.hstack([base - base.max(axis=0), base - second])


def question_groups(index: Index, semantic: Semantic, cases: Sequence[tuple[str, int]]) -> list[Group | None]:
    """Per question: all features of its candidates and their labels (None: nothing matched)."""
    out: list[Group | None] = []
    for question, position in cases:
        candidates, rows, _, _ = index.features(question)
        if not len(candidates):
            out.append(None)
            continue
        rows = np.hstack([rows, semantic.features(question, candidates)])
        out.append((np.hstack([rows, relative(rows)]), (candidates == position).astype(int)))
    return out


COLUMNS = {name: [8 + k] for k, name in enumerate(EXTRA)} | {"relative": list(range(13, 29))}
Model = Callable[[np.ndarray, np.ndarray], object]
MODELS: dict[str, Model] = {
    "logistic": lambda x, y: LogisticRegression(C=1.0, max_iter=5000).fit(x, y),
    "boosting": lambda x, y: HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.05, max_leaf_nodes=8, random_state=0
    ).fit(x, y),
}


def fit(model: str, groups: Sequence[Group], columns: list[int]) -> object:
    x = np.vstack([rows[:, columns] for rows, _ in groups])
    y = np.concatenate([labels for _, labels in groups])
    return MODELS[model](x, y)


def ranks(fitted: object, groups: Sequence[Group | None], columns: list[int]) -> list[int | None]:
    out: list[int | None] = []
    for group in groups:
        if group is None or not group[1].any():
            out.append(None)
            continue
        rows, labels = group
        probability = fitted.predict_proba(rows[:, columns])[:, 1]  # type: ignore[attr-defined]
        order = np.argsort(-probability, kind="stable")
        out.append(int(np.flatnonzero(labels[order])[0]) + 1)
    return out


def summary(found: Sequence[int | None]) -> str:
    p1 = sum(1 for r in found if r == 1) / len(found)
    mrr = sum(1 / r for r in found if r) / len(found)
    return f"P@1 {p1:.3f} MRR {mrr:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--synonyms", type=Path, help="synonym groups, one a line (e.g. cnsyn's sim_words.txt)"
    )
    args = parser.parse_args()
    synonyms = read_synonyms(args.synonyms) if args.synonyms else None
    entries = esun_entries(json.loads((args.data / "pid_map_content.json").read_text(encoding="utf-8")))
    folds = []
    for fold in range(FOLDS):
        documents, held = fold_cases(entries, fold)
        groups = question_groups(Index(documents, reranker=False), Semantic(documents, synonyms), held)
        folds.append([g for g in groups if g is not None and g[1].any()])
    documents = [Document(e.external_id, (e.title, *e.phrasings), e.answer) for e in entries]
    keys = [d.key for d in documents]
    index, semantic = Index(documents, reranker=False), Semantic(documents, synonyms)
    tests = {
        name: question_groups(index, semantic, [(q, keys.index(k)) for q, k in cases])
        for name, cases in (("E.SUN", esun_cases(args.data)), ("own", own_cases()))
    }
    print(f"held-out questions with the right entry among the candidates: {[len(f) for f in folds]}")
    configurations = [("shipped eight", [])] + [
        (f"+ {n}", [n]) for n in COLUMNS if n != "synonyms" or synonyms
    ]
    configurations.append(
        ("+ lsi, char, association", ["lsi_whole", "lsi_question", "char_question", "association"])
    )
    for model in MODELS:
        for label, extra in configurations:
            columns = list(range(8)) + [c for name in extra for c in COLUMNS[name]]
            held_out: list[int | None] = []
            for k in range(FOLDS):
                train = [g for j in range(FOLDS) if j != k for g in folds[j]]
                held_out += ranks(fit(model, train, columns), folds[k], columns)
            final = fit(model, [g for f in folds for g in f], columns)
            line = [f"{model:8} {label:28} held-out {summary(held_out)}"]
            line += [f"{name} {summary(ranks(final, groups, columns))}" for name, groups in tests.items()]
            print("  ".join(line), flush=True)


if __name__ == "__main__":
    main()
