"""Experiment of 4 December (issue 19, docs/text.md "Static word vectors"): static word vectors (e5 distilled,
model2vec-style) as one more English stacker column, in four arms, against the shipped stacker: the held-out
English folds and the inner measure (the stacker cross-validated on each fold's three training corpora, all
columns from models fitted without the fold's held-out corpus and without the scored corpus). English folds only.

    PYTHONPATH=src python tools/experiment_static_vectors.py DATASETS VECTORS.npz[,MORE.npz] \
        [--wide | --hgb | --mlp | --vocabulary]

VECTORS.npz from tools/embed_vocabulary.py (several, comma-separated: each file's arms, named by its stem). The word model's C per fold is the one the training script chose
(docs/text.md). The arms: PCA to 64, 128 (with and without negated n:word vectors) and 384 dimensions.

A text's feature = SIF-weighted mean of the vectors of its distinct word features (w:word → +v, w:n:word → −v or
+v), vocabulary = words with count ≥ 2 in the English corpora of the fitting mask + the lexicons' words, PCA fitted
on that vocabulary. A logistic regression on the feature (C by leave-one-corpus-out inside the mask) gives the
column; it is fitted without the scored corpus, like the word model. ``--hgb`` and ``--mlp`` (384 dimensions only)
replace that regression by a nonlinear model on the same mean vector, with fixed settings (no grid): gradient
boosting (200 rounds, balanced classes) or a one-layer perceptron (64 units, alpha 1, standardised inputs).
``--vocabulary`` (5 December, 384 dimensions): which words get a vector — count ≥ 2 or ≥ 1 in the fitting
corpora, with or without the words of the word list embedded with them (``embed_vocabulary.py --word-list``).
"""

import sys
import time
import zlib
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_sentiment as t

from patron.text.sentiment import BUCKETS, opinion_lexicon, pattern_lexicon

REVIEWS = ("amazon", "yelp", "skytrax_seat", "skytrax_lounge")
WORDS_C = {"yelp": 0.1, "amazon": 0.1, "skytrax_lounge": 1.0}
SIF_A = 1e-3
# C of the vectors' regression; ``--wide`` tries a wider grid on the 384-dimension arm alone.
EMB_C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0) if "--wide" in sys.argv else (0.1, 1.0, 10.0)
LEXICON_WORDS = set(opinion_lexicon()) | set(pattern_lexicon())


def bucket(gram: str) -> int:
    return zlib.crc32(b"w:" + gram.encode()) & (BUCKETS - 1)


class Vocab:
    def __init__(self, path: str, data) -> None:
        z = np.load(path, allow_pickle=False)
        self.words = z["words"].tolist()
        self.vectors = z["vectors"].astype(np.float64)
        self.listed = z["listed"] if "listed" in z.files else np.zeros(len(self.words), dtype=bool)
        self.counts = t.StaticVectors(Path(path), data).counts
        self.plain = np.array([bucket(w) for w in self.words])
        self.negated = np.array([bucket("n:" + w) for w in self.words])
        self.lexicon = np.array([w in LEXICON_WORDS for w in self.words])


def tables(
    vocab: Vocab,
    corpora: list[str],
    dims: int,
    negate: bool,
    pca: bool = True,
    min_count: int = 2,
    listed=False,
):
    """Per-bucket SIF weight and vector for the vocabulary of ``corpora`` (count ≥ min_count, or a lexicon word,
    or with ``listed`` a word of the embedded word list)."""
    count = sum(vocab.counts[c] for c in corpora)
    keep = (count >= min_count) | vocab.lexicon | (vocab.listed if listed else False)
    vectors = vocab.vectors[keep]
    if pca:
        centred = vectors - vectors.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        projected = centred @ vt[:dims].T
    else:
        projected = vectors
    p = count[keep] / max(count.sum(), 1)
    weight = SIF_A / (SIF_A + p)
    table_w = np.zeros(BUCKETS)
    index = np.zeros(BUCKETS, dtype=np.int64)
    n = len(projected)
    table_v = np.vstack([projected, (-1.0 if negate else 1.0) * projected])
    for buckets, offset in ((vocab.plain[keep], 0), (vocab.negated[keep], n)):
        table_w[buckets] = weight
        index[buckets] = np.arange(n) + offset
    return table_w, (index, table_v)


def text_features(data, chosen, table_w, table_v):
    rows, buckets = t._select_words(data, chosen)
    w = table_w[buckets]
    used = w > 0
    rows, buckets, w = rows[used], buckets[used], w[used]
    index, vectors = table_v
    out = np.zeros((len(chosen), vectors.shape[1]))
    np.add.at(out, rows, w[:, None] * vectors[index[buckets]])
    total = np.bincount(rows, weights=w, minlength=len(chosen))
    return out / np.where(total > 0, total, 1.0)[:, None]


def emb_logits(data, fit_corpora, score_chosen, arm, vocab):
    """Embedding LR fitted on the English texts of ``fit_corpora`` (C by leave-one-corpus-out among them),
    the logit of the texts ``score_chosen``."""
    dims, negate, min_count, listed = arm
    table_w, table_v = tables(vocab, fit_corpora, dims, negate, min_count=min_count, listed=listed)
    feats = {c: text_features(data, np.flatnonzero(data.corpus == c), table_w, table_v) for c in fit_corpora}
    labels = {c: data.labels[data.corpus == c] for c in fit_corpora}
    if "--hgb" in sys.argv:
        hgb = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, class_weight="balanced", early_stopping=False, random_state=0
        )
        hgb.fit(np.vstack([feats[c] for c in fit_corpora]), np.concatenate([labels[c] for c in fit_corpora]))
        return hgb.decision_function(text_features(data, score_chosen, table_w, table_v)), 0.0, 0.0
    if "--mlp" in sys.argv:
        mlp = make_pipeline(
            StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), alpha=1.0, max_iter=300, random_state=0)
        )
        mlp.fit(np.vstack([feats[c] for c in fit_corpora]), np.concatenate([labels[c] for c in fit_corpora]))
        p = np.clip(
            mlp.predict_proba(text_features(data, score_chosen, table_w, table_v))[:, 1], 1e-6, 1 - 1e-6
        )
        return np.log(p / (1 - p)), 0.0, 0.0
    best, best_acc = EMB_C_GRID[0], -1.0
    for c in EMB_C_GRID:
        right = total = 0
        for held in fit_corpora:
            others = [o for o in fit_corpora if o != held]
            lr = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            lr.fit(np.vstack([feats[o] for o in others]), np.concatenate([labels[o] for o in others]))
            right += int(np.sum(lr.predict(feats[held]) == labels[held]))
            total += len(labels[held])
        if right / total > best_acc:
            best, best_acc = c, right / total
    lr = LogisticRegression(C=best, class_weight="balanced", max_iter=2000)
    lr.fit(np.vstack([feats[c] for c in fit_corpora]), np.concatenate([labels[c] for c in fit_corpora]))
    return lr.decision_function(text_features(data, score_chosen, table_w, table_v)), best, best_acc


def predict(stacker, inputs, english, linear):
    logit = linear.copy()
    logit[english] = stacker.decision_function(inputs[english])
    return logit >= 0


def main() -> None:
    corpora = t.load(Path(sys.argv[1]))
    data = t.Data(corpora)
    vocabs = {Path(path).stem: Vocab(path, data) for path in sys.argv[2].split(",")}
    if "--vocabulary" in sys.argv:  # 5 December: which words get a vector (384 dimensions, negated)
        shapes = ((384, True, 2, False), (384, True, 1, False), (384, True, 2, True), (384, True, 1, True))
    elif any(f in sys.argv for f in ("--wide", "--hgb", "--mlp")):
        shapes = ((384, True, 2, False),)
    else:
        shapes = ((64, True, 2, False), (128, True, 2, False), (128, False, 2, False), (384, True, 2, False))
    arms = [(p, shape) for p in vocabs for shape in shapes]
    print(time.strftime("%H:%M:%S"), "loaded", flush=True)
    names = ["base"] + [
        f"{p}-{d}-{'neg' if n else 'plain'}-count{m}{'+list' if listed else ''}"
        for p, (d, n, m, listed) in arms
    ]
    held_right = dict.fromkeys(names, 0)
    inner_means = {n: [] for n in names}
    held_total = 0
    for fold in t.ENGLISH_FOLDS:
        training = data.corpus != fold
        inner = [n for n in REVIEWS if n != fold]
        inputs, labels, english, linear = {}, {}, {}, {}
        scored = [*inner, fold]
        for name in scored:
            held = data.corpus == name
            mask = training & ~held if name != fold else training
            model = data.fit(mask)
            data.attach_words(model, mask, WORDS_C[fold])
            chosen = np.flatnonzero(held)
            texts = [data.texts[i] for i in chosen]
            base = t.stack_inputs(model, texts)[:, :8]  # the shipped columns before the static vectors
            fit_corpora = [c for c in REVIEWS if c != fold and c != name]
            extra = []
            for (p, shape), arm_name in zip(arms, names[1:], strict=True):
                logit, c, acc = emb_logits(data, fit_corpora, chosen, shape, vocabs[p])
                extra.append(logit)
                print(
                    f"  {fold} {name} {arm_name}: C {c} loco {acc:.4f} alone {np.mean((logit >= 0) == (data.labels[held] == 1)):.4f}",
                    flush=True,
                )
            inputs[name] = np.column_stack([base, *extra])
            labels[name] = data.labels[held]
            english[name] = data.features.english[held]
            linear[name] = base[:, 0]
        for k, arm in enumerate(names):
            columns = list(range(8)) + ([8 + k - 1] if k else [])
            # held out: stacker on the three inner corpora
            stacker = LogisticRegression(C=t.STACK_C, class_weight="balanced", max_iter=1000)
            stacker.fit(
                np.vstack([inputs[n][:, columns] for n in inner]), np.concatenate([labels[n] for n in inner])
            )
            pred = predict(stacker, inputs[fold][:, columns], english[fold], linear[fold])
            right = int(np.sum(pred == (labels[fold] == 1)))
            held_right[arm] += right
            # inner: each inner corpus by a stacker fitted on the other two
            r = tot = 0
            for name in inner:
                others = [o for o in inner if o != name]
                st = LogisticRegression(C=t.STACK_C, class_weight="balanced", max_iter=1000)
                st.fit(
                    np.vstack([inputs[o][:, columns] for o in others]),
                    np.concatenate([labels[o] for o in others]),
                )
                r += int(
                    np.sum(
                        predict(st, inputs[name][:, columns], english[name], linear[name])
                        == (labels[name] == 1)
                    )
                )
                tot += len(labels[name])
            inner_means[arm].append(r / tot)
            print(f"{fold} {arm}: held {right / len(labels[fold]):.4f} inner {r / tot:.4f}", flush=True)
        held_total += len(labels[fold])
    for arm in names:
        print(
            f"{arm}: pooled {held_right[arm] / held_total:.4f} ({held_right[arm]}) inner mean {np.mean(inner_means[arm]):.4f}",
            flush=True,
        )
    print(time.strftime("%H:%M:%S"), "done", flush=True)


if __name__ == "__main__":
    main()
