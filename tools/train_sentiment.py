"""Train Patron's sentiment model from the real corpora in ../shared/datasets and write it into the package.

    python tools/train_sentiment.py PATH_TO_SHARED_DATASETS [--no-save]

Corpora (see PATH/SOURCES.md): online_shopping_10_cats (Chinese shopping reviews, 9 categories: the hotel
category was removed upstream so hotels stay unseen), uci_sentiment_sentences (Amazon and Yelp sentences),
skytrax_reviews (seat and lounge reviews, label = "recommended"). Before the final fit it measures
out-of-domain accuracy: whole shopping categories held out (in Simplified and the same texts converted to
Traditional with Taiwan phrasing), and whole English corpora held out. The numbers, the data's SHA-256 and the
configuration go into src/patron/text/data/sentiment.json beside the weights (.npz, no pickle).
Needs scikit-learn (the ``train`` extra); the package itself scores with NumPy only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import opencc
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from patron.text.sentiment import BUCKET_BITS, BUCKETS, MAX_CHARS, SentimentModel, hashed_features

MIN_DF = 2
C = float(os.environ.get("PATRON_SENTIMENT_C", "4.0"))
SHOPPING = "online_shopping_10_cats/online_shopping_10_cats.csv"
FILES = {
    "shopping": SHOPPING,
    "amazon": "uci_sentiment_sentences/amazon_cells_labelled.txt",
    "yelp": "uci_sentiment_sentences/yelp_labelled.txt",
    "skytrax_seat": "skytrax_reviews/seat.csv",
    "skytrax_lounge": "skytrax_reviews/lounge.csv",
}
# Out-of-domain folds: each holds three whole shopping categories out.
CATEGORY_FOLDS = (("书籍", "水果", "热水器"), ("平板", "蒙牛", "洗发水"), ("手机", "衣服", "计算机"))
# English: each fold holds one whole corpus out.
ENGLISH_FOLDS = ("yelp", "amazon", "skytrax_lounge")

Corpus = list[tuple[str, int, str]]  # text, label (1 positive), group (category or corpus)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(root: Path) -> dict[str, Corpus]:
    corpora: dict[str, Corpus] = {}
    with (root / SHOPPING).open(encoding="utf-8-sig", newline="") as file:
        rows = csv.DictReader(file)
        corpora["shopping"] = [
            (row["review"].lstrip("\ufeff"), int(row["label"]), row["cat"])
            for row in rows
            if row["review"] and row["review"].strip()
        ]
    for name in ("amazon", "yelp"):
        with (root / FILES[name]).open(encoding="utf-8") as file:
            next(file)
            corpora[name] = [
                (text, int(label), name)
                for line in file
                if "\t" in line
                for text, label in [line.rstrip("\n").rsplit("\t", 1)]
            ]
    for name in ("skytrax_seat", "skytrax_lounge"):
        with (root / FILES[name]).open(encoding="utf-8", newline="") as file:
            corpora[name] = [
                (row["content"], int(row["recommended"]), name)
                for row in csv.DictReader(file)
                if row["content"] and row["recommended"] in ("0", "1")
            ]
    return corpora


def fit(texts: Sequence[str], labels: Sequence[int], *, min_df: int = MIN_DF, c: float = C) -> SentimentModel:
    n = len(texts)
    row_parts: list[np.ndarray] = []
    bucket_parts: list[np.ndarray] = []
    for start in range(0, n, 5000):
        rows, buckets = hashed_features(texts[start : start + 5000])
        row_parts.append(rows + start)
        bucket_parts.append(buckets)
    rows, buckets = np.concatenate(row_parts), np.concatenate(bucket_parts)
    document_frequency = np.bincount(buckets, minlength=BUCKETS).astype(np.float64)
    kept = document_frequency >= min_df
    idf = np.where(kept, np.log((1.0 + n) / (1.0 + document_frequency)) + 1.0, 0.0)
    in_use = kept[buckets]
    rows, buckets = rows[in_use], buckets[in_use]
    norms = np.sqrt(np.bincount(rows, weights=idf[buckets] ** 2, minlength=n))
    norms[norms == 0] = 1.0
    values = idf[buckets] / norms[rows]
    matrix = sparse.csr_matrix((values, (rows, buckets)), shape=(n, BUCKETS))
    model = LogisticRegression(C=c, solver="liblinear", class_weight="balanced", max_iter=1000)
    model.fit(matrix, np.asarray(labels))
    coef = model.coef_.ravel()
    return SentimentModel(coef * idf, idf**2, float(model.intercept_[0]))


def accuracy(model: SentimentModel, texts: Sequence[str], labels: Sequence[int]) -> float:
    predicted = model.probabilities(texts) >= 0.5
    return float(np.mean(predicted == (np.asarray(labels) == 1)))


def evaluate(corpora: dict[str, Corpus]) -> dict[str, Any]:
    to_traditional = opencc.OpenCC("s2twp")
    english = [row for name in (*ENGLISH_FOLDS, "skytrax_seat") for row in corpora[name]]
    results: dict[str, Any] = {"chinese_held_out_categories": [], "english_held_out_corpora": []}
    for held_out in CATEGORY_FOLDS:
        train = [row for row in corpora["shopping"] if row[2] not in held_out] + english
        test = [row for row in corpora["shopping"] if row[2] in held_out]
        model = fit([t for t, _, _ in train], [y for _, y, _ in train])
        texts, labels = [t for t, _, _ in test], [y for _, y, _ in test]
        traditional = [to_traditional.convert(text) for text in texts]
        start = time.perf_counter()
        simplified_accuracy = accuracy(model, texts, labels)
        seconds = time.perf_counter() - start
        result = {
            "held_out": list(held_out),
            "texts": len(test),
            "accuracy_simplified": round(simplified_accuracy, 4),
            "accuracy_traditional": round(accuracy(model, traditional, labels), 4),
            "texts_per_second": round(len(texts) / seconds),
        }
        print(result, flush=True)
        results["chinese_held_out_categories"].append(result)
    for held_out_corpus in ENGLISH_FOLDS:
        train = [row for name, rows in corpora.items() if name != held_out_corpus for row in rows]
        test = corpora[held_out_corpus]
        model = fit([t for t, _, _ in train], [y for _, y, _ in train])
        result = {
            "held_out": held_out_corpus,
            "texts": len(test),
            "accuracy": round(accuracy(model, [t for t, _, _ in test], [y for _, y, _ in test]), 4),
        }
        print(result, flush=True)
        results["english_held_out_corpora"].append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path)
    parser.add_argument("--no-save", action="store_true", help="measure only; leave the shipped model alone")
    args = parser.parse_args(argv)
    root: Path = args.datasets
    corpora = load(root)
    evaluation = evaluate(corpora)
    everything = [row for rows in corpora.values() for row in rows]
    model = fit([t for t, _, _ in everything], [y for _, y, _ in everything])
    model.meta.update(
        {
            "format": 1,
            "features": "distinct character 1-3-grams of the analysis copy of text[:MAX_CHARS] (Simplified, width "
            "folded, lower-cased) and English word 1-2-grams, hashed into 2**bucket_bits buckets; binary "
            "TF-IDF (idf = ln((1+n)/(1+df))+1, buckets with df < min_df dropped), L2-normalised; "
            "logistic regression (scikit-learn liblinear)",
            "bucket_bits": BUCKET_BITS,
            "max_chars": MAX_CHARS,
            "min_df": MIN_DF,
            "C": C,
            "class_weight": "balanced",
            "trained_by": "tools/train_sentiment.py",
            "training_texts": {name: len(rows) for name, rows in corpora.items()},
            "training_data": {
                name: {"path": path, "sha256": sha256(root / path)} for name, path in FILES.items()
            },
            "buckets_used": int(np.count_nonzero(model.weights)),
            "evaluation": evaluation,
        }
    )
    if not args.no_save:
        data = Path(__file__).resolve().parent.parent / "src" / "patron" / "text" / "data"
        model.save(data / "sentiment.npz", data / "sentiment.json")
        print(f"saved {np.count_nonzero(model.weights)} buckets to {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
