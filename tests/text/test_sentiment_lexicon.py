"""The English opinion lexicon (VADER's, from the vaderSentiment package), negation scope, the English
stacker and the too-little-evidence rule: each computed by hand; and the shipped model on neutral mentions
written for these tests (tests/text/neutral_mentions.py)."""

from __future__ import annotations

import hashlib
import math
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from patron.text.sentiment import (
    BUCKETS,
    NEUTRAL_SQUEEZE,
    PATTERN_COLUMNS,
    PATTERN_FILE,
    STATIC_COLUMN,
    WORDS_COLUMN,
    SentimentModel,
    _features,
    hashed_features,
    label_of,
    lexicon_scores,
    lexicon_sha256,
    opinion_lexicon,
    pattern_lexicon,
    pattern_scores,
    shipped_model,
)
from tests.text.neutral_mentions import EN, ZH_HANS, ZH_HANT


def word_bucket(gram: str) -> int:
    return zlib.crc32(b"w:" + gram.encode()) & (BUCKETS - 1)


def test_lexicon_is_vaders_word_list() -> None:
    lexicon = opinion_lexicon()
    assert lexicon["good"] == 1.9
    assert lexicon["great"] == 3.1
    assert lexicon["rude"] == -2.0
    assert ":)" not in lexicon  # emoticons are left out: the analysis copy's words are letters only


def test_lexicon_score_by_hand() -> None:
    # good 1.9: 1.9 / sqrt(1.9² + 15) = 0.44043
    # not good: 1.9 × −0.74 = −1.406 → −1.406 / sqrt(1.976836 + 15) = −0.34124
    # very good but bad: (1.9 + 0.293) × 0.5 = 1.0965, bad −2.5 × 1.5 = −3.75; sum −2.6535
    #   → −2.6535 / sqrt(7.04106 + 15) = −0.56520
    # the food was cold: no lexicon word → 0, not found
    scores = lexicon_scores(["good", "not good", "very good but bad", "the food was cold"])
    assert scores[:, 0] == pytest.approx([0.44043, -0.34124, -0.56520, 0.0], abs=1e-5)
    assert scores[:, 1].tolist() == [1.0, 1.0, 1.0, 0.0]


def test_negation_scope_marks_words_until_punctuation() -> None:
    _, plain = hashed_features(["good food"])
    _, negated = hashed_features(["not good food, nice"])
    assert word_bucket("good") in plain.tolist()
    assert word_bucket("good") not in negated.tolist()
    assert word_bucket("n:good") in negated.tolist() and word_bucket("n:food") in negated.tolist()
    assert word_bucket("nice") in negated.tolist()  # the comma ends the scope
    assert word_bucket("good food") in negated.tolist()  # bigrams are not marked
    # the polarity tokens: good is +1 (|1.9| < 2), reversed by "not"; nice +1.8 → +1
    assert word_bucket("lex:+1") in plain.tolist()
    assert word_bucket("lex:-1") in negated.tolist()


def test_english_stacker_and_evidence_rule_by_hand() -> None:
    (good,) = hashed_features(["好"])[1].tolist()
    weights = np.zeros(BUCKETS)
    idf_squared = np.zeros(BUCKETS)
    weights[good], idf_squared[good] = 2.0, 4.0
    model = SentimentModel(weights, idf_squared, bias=0.0)
    # Evidence of 好 = |2| / 2 = 1. Below a threshold of 1.5 the side is kept, the distance to 0.5 × 0.2:
    # 0.5 + (0.73106 − 0.5) × 0.2 = 0.54621, neutral.
    model.meta["neutral_below_evidence"] = {"other": 1.5, "english": 1.5}
    assert model.probabilities(["好"])[0] == pytest.approx(
        0.5 + (1 / (1 + math.exp(-1)) - 0.5) * NEUTRAL_SQUEEZE
    )
    assert model.score("好").label == "neutral"
    model.meta["neutral_below_evidence"] = {"other": 0.5}
    assert model.probabilities(["好"])[0] == pytest.approx(0.73106, abs=1e-5)
    # English: a known word bucket, stacked as 1 × logit + 2 × compound − 1 × found + 0.5.
    weights[word_bucket("good")], idf_squared[word_bucket("good")] = 2.0, 4.0
    model = SentimentModel(weights, idf_squared, bias=0.0)
    model.meta["english_stack"] = {"weights": [1.0, 2.0, -1.0], "bias": 0.5}
    # logit 1 (as above); compound 0.44043 → 1 + 0.88086 − 1 + 0.5 = 1.38086 → P = 0.79913
    assert model.probabilities(["good"])[0] == pytest.approx(1 / (1 + math.exp(-1.38086)), abs=1e-5)
    # an opinion word keeps an English text out of the evidence rule
    model.meta["neutral_below_evidence"] = {"english": 10.0}
    assert model.probabilities(["good"])[0] == pytest.approx(0.79913, abs=1e-5)


def test_pattern_lexicon_score_by_hand() -> None:
    lexicon = pattern_lexicon()
    assert lexicon["cold"] == -0.6 and lexicon["fresh"] == 0.3 and "overpriced" not in lexicon
    # cold −0.6 × 4 = −2.4 → −2.4 / sqrt(5.76 + 15) = −0.52674
    # not cold: −2.4 × −0.74 = 1.776 → 1.776 / sqrt(3.154176 + 15) = 0.41683
    # the food was cold but fresh: cold −2.4 × 0.5 = −1.2, fresh 1.2 × 1.5 = 1.8; sum 0.6 → 0.15309
    scores = pattern_scores(["cold", "not cold", "the food was cold but fresh", "overpriced"])
    assert scores[:, 0] == pytest.approx([-0.52674, 0.41683, 0.15309, 0.0], abs=1e-5)
    assert scores[:, 1].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert scores[:, 2] == pytest.approx([0.0, 1.776, 1.8, 0.0])
    assert scores[:, 3] == pytest.approx([-2.4, 0.0, -1.2, 0.0])


def test_stacker_with_pattern_columns_by_hand() -> None:
    model = SentimentModel(np.zeros(BUCKETS), np.zeros(BUCKETS), bias=0.0)
    (cold,) = [word_bucket("cold")]
    model.weights[cold], model.idf_squared[cold] = -1.0, 1.0
    columns = ["logit", "lexicon_compound", "lexicon_word_found", "pattern_compound", "pattern_word_found"]
    columns += ["pattern_positive_sum", "pattern_negative_sum"]
    model.meta["english_stack"] = {"columns": columns, "weights": [1, 0, 0, 2, 0, 0, 0.5], "bias": 0.1}
    # "cold" alone: its word bucket and its character n-grams; only the word bucket has a weight, but the norm
    # counts only buckets with an idf, so logit = −1 / 1 = −1. Pattern: compound −0.52674, negative sum −2.4.
    # −1 + 2 × −0.52674 + 0.5 × −2.4 + 0.1 = −3.15348
    assert model.probabilities(["cold"])[0] == pytest.approx(1 / (1 + math.exp(3.15348)), abs=1e-5)


def test_english_word_model_by_hand(tmp_path: Path) -> None:
    model = SentimentModel(np.zeros(BUCKETS), np.zeros(BUCKETS), bias=0.0)
    model.word_weights = np.zeros(BUCKETS, dtype=np.float32)
    model.word_weights[word_bucket("good")] = 1.5
    model.word_weights[word_bucket("n:good")] = -2.0
    model.meta["english_words"] = {"bias": 0.25}
    # binary features: "good good" counts good once → 1.5 + 0.25; "not good": n:good −2 + 0.25
    rows, buckets = _features(["good good", "not good", "好"])[4]
    assert model.word_logits(rows, buckets, 3).tolist() == pytest.approx([1.75, -1.75, 0.25])
    # the stacker's last column: 0.5 × word logit + 0.1; the linear model has no weight, so logit = bias = 0
    model.weights[word_bucket("good")] = 1e-9  # a known feature, so the text is not "no evidence" (0.5)
    model.idf_squared[word_bucket("good")] = 1.0
    columns = ["logit", "lexicon_compound", "lexicon_word_found", WORDS_COLUMN]
    model.meta["english_stack"] = {"columns": columns, "weights": [0, 0, 0, 0.5], "bias": 0.1}
    assert model.probabilities(["good good"])[0] == pytest.approx(
        1 / (1 + math.exp(-(0.875 + 0.1))), abs=1e-6
    )
    # saved and loaded without pickle
    model.save(tmp_path / "m.npz", tmp_path / "m.json")
    loaded = SentimentModel.load(tmp_path / "m.npz", tmp_path / "m.json")
    assert loaded.word_weights is not None
    assert loaded.word_logits(rows, buckets, 3).tolist() == pytest.approx([1.75, -1.75, 0.25])


def test_static_vectors_by_hand(tmp_path: Path) -> None:
    model = SentimentModel(np.zeros(BUCKETS), np.zeros(BUCKETS), bias=0.0)
    model.static_scores = np.zeros(BUCKETS, dtype=np.float32)
    model.static_mass = np.zeros(BUCKETS, dtype=np.float32)
    # per word: SIF weight × score; "good" weight 0.5, score 2 → 1.0; "n:good" its vector negated → −1.0;
    # "food" weight 1, score −0.5
    for gram, score, mass in (("good", 1.0, 0.5), ("n:good", -1.0, 0.5), ("food", -0.5, 1.0)):
        model.static_scores[word_bucket(gram)] = score
        model.static_mass[word_bucket(gram)] = mass
    model.meta["english_static"] = {"bias": 0.25}
    # "good food": (1.0 − 0.5) / (0.5 + 1) + 0.25 = 0.58333; "not good": −1.0 / 0.5 + 0.25 = −1.75;
    # "好" has no such word: the bias alone
    rows, buckets = _features(["good food", "not good", "好"])[4]
    assert model.static_logits(rows, buckets, 3).tolist() == pytest.approx([0.583333, -1.75, 0.25], abs=1e-6)
    # the stacker's last column: 2 × static logit − 0.1 (the linear model's one tiny weight makes "good"
    # a known feature, so the text is not "no evidence")
    model.weights[word_bucket("good")] = 1e-9
    model.idf_squared[word_bucket("good")] = 1.0
    columns = ["logit", "lexicon_compound", "lexicon_word_found", STATIC_COLUMN]
    model.meta["english_stack"] = {"columns": columns, "weights": [0, 0, 0, 2], "bias": -0.1}
    # "good food": 2 × 0.583333 − 0.1 = 1.066667
    assert model.probabilities(["good food"])[0] == pytest.approx(1 / (1 + math.exp(-1.066667)), abs=1e-6)
    model.save(tmp_path / "m.npz", tmp_path / "m.json")
    loaded = SentimentModel.load(tmp_path / "m.npz", tmp_path / "m.json")
    assert loaded.static_logits(rows, buckets, 3).tolist() == pytest.approx([0.583333, -1.75, 0.25], abs=1e-6)
    # without the static vectors the column is 0
    assert SentimentModel(np.zeros(1), np.zeros(1), 0.0).static_logits(rows, buckets, 3).tolist() == [0, 0, 0]


def test_shipped_model_records_its_lexicon() -> None:
    meta = shipped_model().meta
    assert meta["lexicon"]["package"] == "vaderSentiment"
    assert meta["lexicon"]["sha256"] == lexicon_sha256()
    assert set(meta["english_stack"]["fitted_on"]) == {"amazon", "yelp", "skytrax_seat", "skytrax_lounge"}
    assert meta["english_stack"]["columns"][3:] == [*PATTERN_COLUMNS, WORDS_COLUMN, STATIC_COLUMN]
    assert shipped_model().word_weights is not None
    assert shipped_model().static_scores is not None
    assert meta["english_static"]["words"] == 16487
    data = resources.files("patron.text") / "data" / PATTERN_FILE
    assert meta["pattern_lexicon"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()


def labels(texts: list[str]) -> list[str]:
    return [label_of(float(p)) for p in shipped_model().probabilities(texts)]


def test_neutral_mentions() -> None:
    # Counted from the shipped model (docs/text.md); the model before this rule: 4, 3 and 4 of the 15.
    assert labels(ZH_HANT).count("neutral") >= NEUTRAL_COUNTS["zh-Hant"]
    assert labels(ZH_HANS).count("neutral") >= NEUTRAL_COUNTS["zh-Hans"]
    assert labels(EN).count("neutral") >= NEUTRAL_COUNTS["en"]
    assert labels(["鼎泰豐的小籠包", "鼎泰丰排队"]) == ["neutral", "neutral"]


NEUTRAL_COUNTS = {"zh-Hant": 14, "zh-Hans": 13, "en": 7}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("鼎泰豐的小籠包很好吃", "positive"),
        ("鼎泰丰排队太久了，服务也差", "negative"),
        ("The dumplings at Din Tai Fung were delicious", "positive"),
        ("The food was not good", "negative"),
    ],
)
def test_opinions_about_the_same_brands_stay_opinions(text: str, label: str) -> None:
    assert shipped_model().score(text).label == label
