"""Sentiment: the hashed features, the scoring arithmetic on a hand-made model, the shipped model on hand-checked
reviews and clauses, and ``patron eval sentiment``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from patron.cli import app
from patron.text.evaluation import evaluate
from patron.text.sentiment import BUCKETS, SentimentModel, hashed_features, label_of, shipped_model

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})


def buckets(text: str) -> list[int]:
    rows, found = hashed_features([text])
    assert set(rows.tolist()) <= {0}
    return found.tolist()


def test_features_are_the_distinct_grams() -> None:
    # 好 吃 好吃
    assert len(buckets("好吃")) == 3
    # a b c; ab, "b ", " c"; "ab ", "b c"; words ab, c; word bigram "ab c" (the lone space is no feature)
    assert len(buckets("ab c")) == 11
    # repeats count once: 好 好好 好好好 (the 好好 bigram and 好好好 trigram once each)
    assert len(buckets("好好好好")) == 3
    assert buckets("") == []


def test_features_do_not_depend_on_script_width_or_case() -> None:
    assert buckets("這家餐廳的服務很好") == buckets("这家餐厅的服务很好")
    assert buckets("ＧＯＯＤ　ｐｒｉｃｅ") == buckets("good price")
    assert buckets("Good  Price") == buckets("good price")


def test_rows_follow_the_texts() -> None:
    rows, _ = hashed_features(["好", "", "好吃"])
    assert rows.tolist() == [0, 2, 2, 2]


def test_scoring_by_hand(tmp_path: Path) -> None:
    (good,) = buckets("好")
    weights = np.zeros(BUCKETS)
    idf_squared = np.zeros(BUCKETS)
    weights[good], idf_squared[good] = 2.0, 4.0  # coefficient 1 × idf 2
    model = SentimentModel(weights, idf_squared, bias=0.0)
    # The vector is idf / ‖idf‖ = 1, the logit 2 / 2 + 0 = 1, P = 1 / (1 + e^-1) = 0.7311.
    assert model.probabilities(["好"])[0] == pytest.approx(1 / (1 + math.exp(-1)))
    # Unknown features add nothing: 好 with an unknown character scores the same.
    assert model.probabilities(["好𠀀"])[0] == pytest.approx(0.7311, abs=1e-4)
    # A text with no known feature is exactly neutral.
    assert model.score("xyz").score == 0.5
    assert model.score("xyz").label == "neutral"
    model.meta["note"] = "hand-made"
    model.save(tmp_path / "m.npz", tmp_path / "m.json")
    loaded = SentimentModel.load(tmp_path / "m.npz", tmp_path / "m.json")
    assert loaded.probabilities(["好"])[0] == pytest.approx(0.7311, abs=1e-4)
    assert loaded.meta == {"note": "hand-made"}


def test_labels() -> None:
    assert label_of(0.6) == "positive"
    assert label_of(0.59) == "neutral"
    assert label_of(0.4) == "neutral"
    assert label_of(0.39) == "negative"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("非常好，很满意，下次还会再买", "positive"),
        ("非常好，很滿意，下次還會再買", "positive"),
        ("质量太差了，再也不买了", "negative"),
        ("質量太差了，再也不買了", "negative"),
        ("Great service, I love it", "positive"),
        ("Terrible food and rude staff, never again", "negative"),
    ],
)
def test_shipped_model_on_clear_reviews(text: str, label: str) -> None:
    assert shipped_model().score(text).label == label


def test_both_scripts_score_the_same() -> None:
    model = shipped_model()
    assert model.score("物流很快，包裝也很好").score == model.score("物流很快，包装也很好").score


def test_clauses_get_their_own_sentiment() -> None:
    clauses = shipped_model().clauses("送餐很快但湯是冷的")
    assert [c.text for c in clauses] == ["送餐很快", "湯是冷的"]
    assert clauses[0].score > clauses[1].score
    assert [c.text for c in shipped_model().clauses("The seat was fine, but the food was awful.")] == [
        "The seat was fine",
        "the food was awful",
    ]
    # 不但 (not only) is no contrast
    assert len(shipped_model().clauses("不但便宜而且好用")) == 1


def test_shipped_model_records_its_provenance() -> None:
    meta = shipped_model().meta
    assert set(meta["training_data"]) == {"shopping", "amazon", "yelp", "skytrax_seat", "skytrax_lounge"}
    assert all(len(item["sha256"]) == 64 for item in meta["training_data"].values())
    assert meta["evaluation"]["chinese_held_out_categories"]


class _Half(SentimentModel):
    """Predicts positive exactly for texts containing 好."""

    def __init__(self) -> None:
        super().__init__(np.zeros(1), np.zeros(1), 0.0)

    def probabilities(self, texts):  # type: ignore[no-untyped-def]
        return np.asarray([0.9 if "好" in text else 0.1 for text in texts])


def test_evaluation_by_hand() -> None:
    # actual:    1    1    1    0    0
    # predicted: 1    1    0    1    0  → TP 2, FN 1, FP 1, TN 1; accuracy 3/5
    texts = ["好", "很好", "差", "好差", "差"]
    result = evaluate(texts, [1, 1, 1, 0, 0], _Half())
    assert result.confusion == ((1, 1), (1, 2))
    assert result.accuracy == pytest.approx(0.6)
    # F1 positive = 2·2 / (3 + 3) = 2/3; F1 negative = 2·1 / (2 + 2) = 1/2; macro = 7/12
    assert result.macro_f1 == pytest.approx(7 / 12)


def test_eval_command_on_csv_and_jsonl(tmp_path: Path) -> None:
    csv_file = tmp_path / "reviews.csv"
    csv_file.write_text("comment,stars\n非常好，很满意,good\n太差了，再也不买了,bad\n", encoding="utf-8")
    result = runner.invoke(
        app, ["eval", "sentiment", str(csv_file), "--text-column", "comment", "--label-column", "stars",
              "--positive", "good"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 texts: accuracy 1.0000, macro-F1 1.0000" in result.output
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps({"t": t, "y": y}, ensure_ascii=False) for t, y in [("I love it", 1), ("awful", 0)]
        ),
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["eval", "sentiment", str(jsonl), "--text-column", "t", "--label-column", "y"]
    )
    assert result.exit_code == 0, result.output
    assert "2 texts" in result.output


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "text,label\nok,1\n", "a.csv has no column “comment”."),
        ("a.xlsx", "", "a.xlsx: give a .csv, .tsv or .jsonl file."),
        ("a.jsonl", '{"comment": "x", "label": 1}\nnot json\n', "a.jsonl, line 2: not a JSON object."),
        ("a.csv", "comment,label\n", "a.csv has no labelled rows."),
        ("a.csv", "comment,label\nok,\n", "a.csv, line 2: the text or the label is missing."),
    ],
)
def test_eval_command_refuses_bad_input_in_one_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(
        app, ["eval", "sentiment", str(path), "--text-column", "comment", "--label-column", "label"]
    )
    assert result.exit_code == 2
    assert result.output.strip() == message


def test_eval_command_refuses_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "big5.csv"
    path.write_bytes("comment,label\n很好,1\n".encode("big5"))
    result = runner.invoke(
        app,
        [
            "eval",
            "sentiment",
            str(path),
            "--text-column",
            "comment",
            "--label-column",
            "label",
            "--lang",
            "zh-Hant",
        ],
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("big5.csv 不是 UTF-8 編碼")


def test_hostile_texts_are_handled() -> None:
    from patron.text.normalise import detect_language
    from patron.text.pii import mask

    model = shipped_model()
    assert detect_language("😀😀😀") == "other"
    assert model.score("😀😀😀").label == "neutral"  # no known feature
    assert model.score("").score == 0.5
    assert model.clauses("") == []
    huge = "好吃但是太贵。" * 150_000  # about 1 MB
    assert model.score(huge).label in ("positive", "neutral", "negative")
    # Clauses are read from the first 20,000 characters: 好吃 / 太贵 pairs, 2 clauses per 7 characters.
    assert len(model.clauses(huge)) == 20_000 // 7 * 2 + 1
    assert mask("<p>call 0912-345-678</p>") == "<p>call [PHONE]</p>"
    assert mask("1" * 100_000) == "1" * 100_000
