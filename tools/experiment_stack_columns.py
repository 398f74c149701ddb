"""Experiment of 5 December (issue 19): more English stacker columns computed from the text alone (length, the
lexicon's density instead of its saturating sum, the last sentence's lexicon score, interactions with length),
measured like tools/experiment_static_vectors.py: held-out English folds and the inner measure (the stacker
cross-validated on each fold's three training corpora; every model column fitted without the fold's held-out
corpus and without the scored corpus).

    PYTHONPATH=src python tools/experiment_stack_columns.py DATASETS VECTORS.npz [--cache FILE.npz]

The shipped nine columns (with the static vectors of VECTORS.npz, count ≥ 2, 384 dimensions) are computed once
and cached in FILE.npz; the candidate columns are cheap and tried in arms on top of them.
"""

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
import experiment_static_vectors as x
import train_sentiment as t

from patron.text.sentiment import _WORD, _batch_copy, stack_columns

REVIEWS = x.REVIEWS
SENTENCE_END = (".", "!", "?")


def shipped_columns(data, vocab) -> dict:
    """Per fold, per scored corpus: the nine shipped columns (models fitted without fold and scored corpus)."""
    out = {}
    for fold in t.ENGLISH_FOLDS:
        training = data.corpus != fold
        for name in [*[n for n in REVIEWS if n != fold], fold]:
            held = data.corpus == name
            mask = training & ~held if name != fold else training
            model = data.fit(mask)
            data.attach_words(model, mask, x.WORDS_C[fold])
            chosen = np.flatnonzero(held)
            base = t.stack_inputs(model, [data.texts[i] for i in chosen])[:, :8]
            fit_corpora = [c for c in REVIEWS if c != fold and c != name]
            static, _, _ = x.emb_logits(data, fit_corpora, chosen, (384, True, 2, False), vocab)
            out[f"{fold}|{name}"] = np.column_stack([base, static])
            print(time.strftime("%H:%M:%S"), fold, name, flush=True)
    return out


def text_columns(texts: list[str]) -> np.ndarray:
    """Candidate columns: log words, VADER sum / sqrt(words), last sentence's compound, first sentence's."""
    copies = [_batch_copy([text]) for text in texts]
    words = np.array([len(_WORD.findall(c)) for c in copies], dtype=float)
    loglen = np.log1p(words)
    raw = []
    last = []
    first = []
    for c in copies:
        parts = [p for p in _split_sentences(c) if _WORD.search(p)]
        cols = stack_columns([c, parts[-1] if parts else "", parts[0] if parts else ""], ("logit",))
        comp = cols[0, 0]
        total = 15.0 * comp * comp / max(1e-9, 1 - comp * comp)
        raw.append(np.sign(comp) * np.sqrt(total))
        last.append(cols[1, 0])
        first.append(cols[2, 0])
    raw = np.array(raw)
    return np.column_stack([loglen, raw / np.sqrt(np.maximum(words, 1)), np.array(last), np.array(first)])


def _split_sentences(text: str) -> list[str]:
    out, current = [], []
    for ch in text:
        current.append(ch)
        if ch in SENTENCE_END:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


ARMS = {
    "shipped": [],
    "+loglen": ["loglen"],
    "+density": ["density"],
    "+last": ["last"],
    "+last+first": ["last", "first"],
    "+loglen×(logit,compound,static)": ["loglen", "x_logit", "x_compound", "x_static"],
    "+density+last": ["density", "last"],
    "+density+last+loglen×": ["density", "last", "loglen", "x_logit", "x_compound", "x_static"],
}


def arm_matrix(base: np.ndarray, extra: np.ndarray, names: list[str]) -> np.ndarray:
    loglen = extra[:, 0]
    pool = {
        "loglen": loglen,
        "density": extra[:, 1],
        "last": extra[:, 2],
        "first": extra[:, 3],
        "x_logit": base[:, 0] * loglen,
        "x_compound": base[:, 1] * loglen,
        "x_static": base[:, 8] * loglen,
    }
    return np.column_stack([base, *[pool[n] for n in names]])


def main() -> None:
    corpora = t.load(Path(sys.argv[1]))
    data = t.Data(corpora)
    cache = Path(sys.argv[sys.argv.index("--cache") + 1]) if "--cache" in sys.argv else None
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            columns = {k: z[k] for k in z.files}
    else:
        columns = shipped_columns(data, x.Vocab(sys.argv[2], data))
        if cache is not None:
            np.savez(cache, **columns)
    extras = {
        name: text_columns([data.texts[i] for i in np.flatnonzero(data.corpus == name)]) for name in REVIEWS
    }
    labels = {name: data.labels[data.corpus == name] for name in REVIEWS}
    english = {name: data.features.english[data.corpus == name] for name in REVIEWS}
    for arm, names in ARMS.items():
        held_right = held_total = 0
        inner = []
        per_fold = []
        for fold in t.ENGLISH_FOLDS:
            inner_names = [n for n in REVIEWS if n != fold]
            m = {n: arm_matrix(columns[f"{fold}|{n}"], extras[n], names) for n in [*inner_names, fold]}
            stacker = LogisticRegression(C=t.STACK_C, class_weight="balanced", max_iter=2000)
            stacker.fit(
                np.vstack([m[n] for n in inner_names]), np.concatenate([labels[n] for n in inner_names])
            )
            right = int(
                np.sum(x.predict(stacker, m[fold], english[fold], m[fold][:, 0]) == (labels[fold] == 1))
            )
            held_right += right
            held_total += len(labels[fold])
            per_fold.append(right / len(labels[fold]))
            r = tot = 0
            for n in inner_names:
                others = [o for o in inner_names if o != n]
                st = LogisticRegression(C=t.STACK_C, class_weight="balanced", max_iter=2000)
                st.fit(np.vstack([m[o] for o in others]), np.concatenate([labels[o] for o in others]))
                r += int(np.sum(x.predict(st, m[n], english[n], m[n][:, 0]) == (labels[n] == 1)))
                tot += len(labels[n])
            inner.append(r / tot)
        print(
            f"{arm:40s} inner {' / '.join(f'{v:.4f}' for v in inner)} mean {np.mean(inner):.4f}"
            f" | held {' / '.join(f'{v:.4f}' for v in per_fold)} pooled {held_right / held_total:.4f} ({held_right})",
            flush=True,
        )


if __name__ == "__main__":
    main()
