"""Sentiment of a text and of each of its clauses: a binary TF-IDF linear model over character 1–3-grams and
English word 1–2-grams of the normalised text (one script, width folded), trained by tools/train_sentiment.py
from the corpora in ../shared/datasets. The model is two plain files in the package, no pickle:
``data/sentiment.npz`` (uint8 vocabulary, float32 weights, float32 squared idf) and ``data/sentiment.json``
(configuration, provenance, training-data SHA-256, measured accuracy). See docs/text.md.

Scoring: a text's features are the distinct n-grams of its first MAX_CHARS characters; its vector is their
idf values, L2-normalised; the probability of positive is the logistic of the weights' dot product plus the
bias. Labels: positive from POSITIVE_AT, negative below NEGATIVE_BELOW, neutral between (and for a text with
no known feature).
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from patron.text.normalise import fold_width, to_simplified

Label = Literal["positive", "neutral", "negative"]
MAX_CHARS = 2000
BUCKET_BITS = 21
BUCKETS = 1 << BUCKET_BITS
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
POSITIVE_AT = 0.6
NEGATIVE_BELOW = 0.4

_WIDE = re.compile("[\uff01-\uff5e]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Clause boundaries: Chinese and English clause punctuation (after width folding) and contrast words.
_CLAUSE = re.compile(
    r"[,.;:!?，。；：！？、…\n]+|\s*(?:但是|可是|不过|不過|(?<!不)但(?![愿願])|\bhowever\b|\bbut\b)\s*",
    re.IGNORECASE,
)


def _folded(text: str) -> str:
    return fold_width(text) if _WIDE.search(text) else text


def _batch_copy(texts: Sequence[str]) -> str:
    """The analysis copies of ``texts`` (see ``normalise``) lower-cased, joined by line feeds, converted to
    Simplified in one OpenCC call."""
    cleaned = (" ".join(_folded(unicodedata.normalize("NFC", text[:MAX_CHARS])).split()) for text in texts)
    return to_simplified("\n".join(cleaned)).lower()


def hashed_features(texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(row, bucket) of every distinct feature of every text, rows sorted.

    Features: character 1-, 2- and 3-grams of each text's analysis copy (spaces inside n-grams kept, a lone
    space dropped) and English word unigrams and bigrams, each hashed into one of 2**BUCKET_BITS buckets.
    Computed for the whole batch at once on code points with NumPy (a multiplicative hash of each n-gram's
    code points with its length), words with CRC-32; one OpenCC call converts the batch."""
    if not texts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    copy = _batch_copy(texts)
    points = np.frombuffer(copy.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    newline = points == 10
    row_of = np.cumsum(newline) - newline  # each position's text (a line feed belongs to the text it ends)
    code = (points & 0x1FFFF).astype(np.uint64)
    length = len(points)
    keys: list[npt.NDArray[np.uint64]] = []
    rows: list[npt.NDArray[np.int64]] = []
    for n in (1, 2, 3):
        if length < n:
            continue
        key = np.full(length - n + 1, n, dtype=np.uint64)
        valid = np.ones(length - n + 1, dtype=bool)
        for offset in range(n):
            part = code[offset : length - n + 1 + offset]
            key = (key << np.uint64(17)) | part
            valid &= ~newline[offset : length - n + 1 + offset]
        if n == 1:
            valid &= points != 32
        keys.append(key[valid])
        rows.append(row_of[: length - n + 1][valid])
    with np.errstate(over="ignore"):
        hashed = [(key * _MULTIPLIER) >> np.uint64(64 - BUCKET_BITS) for key in keys]
    buckets = np.concatenate(hashed).astype(np.int64) if hashed else np.zeros(0, dtype=np.int64)
    all_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    word_rows, word_buckets = _word_features(copy)
    combined = np.concatenate([all_rows, word_rows]) << BUCKET_BITS | np.concatenate([buckets, word_buckets])
    combined.sort()  # NumPy's unique() hashes, several times slower here than a sort and a comparison
    distinct = (
        combined[np.concatenate(([True], combined[1:] != combined[:-1]))] if len(combined) else combined
    )
    return distinct >> BUCKET_BITS, distinct & (BUCKETS - 1)


def _word_features(copy: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    rows: list[int] = []
    buckets: list[int] = []
    for row, line in enumerate(copy.split("\n")):
        words = _WORD.findall(line)
        if not words:
            continue
        grams = [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]
        buckets.extend(zlib.crc32(b"w:" + gram.encode()) & (BUCKETS - 1) for gram in grams)
        rows.extend([row] * len(grams))
    return np.asarray(rows, dtype=np.int64), np.asarray(buckets, dtype=np.int64)


def split_clauses(text: str) -> list[str]:
    """The clauses ``clauses`` scores: split on clause punctuation and contrast words, from the first
    ``MAX_CHARS * 10`` characters, empty parts dropped."""
    parts = (part.strip() for part in _CLAUSE.split(text[: MAX_CHARS * 10]))
    return [part for part in parts if part]


@dataclass(frozen=True)
class Scored:
    text: str
    label: Label
    score: float  # probability of positive, 0..1


def label_of(probability: float) -> Label:
    if probability >= POSITIVE_AT:
        return "positive"
    if probability < NEGATIVE_BELOW:
        return "negative"
    return "neutral"


class SentimentModel:
    """Weights per hashed feature bucket (already multiplied by the bucket's idf), the squared idf (for the
    L2 norm) and the bias."""

    def __init__(
        self,
        weights: npt.NDArray[np.floating[Any]],
        idf_squared: npt.NDArray[np.floating[Any]],
        bias: float,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.weights = np.asarray(weights, dtype=np.float32)
        self.idf_squared = np.asarray(idf_squared, dtype=np.float32)
        self.bias = float(bias)
        self.meta = meta or {}

    def probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """P(positive) for each text."""
        rows, buckets = hashed_features(texts)
        count = len(texts)
        dot = np.bincount(rows, weights=self.weights[buckets], minlength=count)
        norm_squared = np.bincount(rows, weights=self.idf_squared[buckets], minlength=count)
        known = norm_squared > 0
        logits = dot / np.sqrt(np.where(known, norm_squared, 1.0)) + self.bias
        probabilities: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-logits))
        # A text with no known feature says nothing: exactly neutral.
        return np.where(known, probabilities, 0.5)

    def score(self, text: str) -> Scored:
        probability = float(self.probabilities([text])[0])
        return Scored(text, label_of(probability), probability)

    def clauses(self, text: str) -> list[Scored]:
        """Each clause of the text, split on clause punctuation and contrast words (但/但是/可是/不過/but/
        however), with its own sentiment: 送餐很快但湯是冷的 is a positive clause and a negative one."""
        parts = split_clauses(text)
        probabilities = self.probabilities(parts)
        return [
            Scored(part, label_of(float(p)), float(p)) for part, p in zip(parts, probabilities, strict=True)
        ]

    def save(self, npz_path: Any, json_path: Any) -> None:
        """Only the buckets in use: their indices, weights and squared idf (float32), and the bias."""
        used = np.flatnonzero(self.weights)
        np.savez(  # uncompressed: loads in about half the time
            npz_path,
            buckets=used.astype(np.int32),
            weights=self.weights[used].astype(np.float32),
            idf_squared=self.idf_squared[used].astype(np.float32),
            bias=np.asarray([self.bias], dtype=np.float64),
        )
        with Path(json_path).open("w", encoding="utf-8") as file:
            json.dump(self.meta, file, ensure_ascii=False, indent=2, sort_keys=True)
            file.write("\n")

    @classmethod
    def load(cls, npz_path: Any, json_path: Any) -> SentimentModel:
        weights = np.zeros(BUCKETS, dtype=np.float32)
        idf_squared = np.zeros(BUCKETS, dtype=np.float32)
        with np.load(npz_path, allow_pickle=False) as arrays:
            used = arrays["buckets"].astype(np.int64)
            weights[used] = arrays["weights"]
            idf_squared[used] = arrays["idf_squared"]
            bias = float(arrays["bias"][0])
        with Path(json_path).open(encoding="utf-8") as file:
            meta = json.load(file)
        return cls(weights, idf_squared, bias, meta)


@cache
def shipped_model() -> SentimentModel:
    """The model in the package (loaded once)."""
    data = resources.files("patron.text") / "data"
    with resources.as_file(data / "sentiment.npz") as npz, resources.as_file(data / "sentiment.json") as meta:
        return SentimentModel.load(npz, meta)
