"""Language and script detection, width folding and the Simplified analysis copy, on hand-checked examples."""

from __future__ import annotations

import pytest

from patron.text.normalise import detect_language, fold_width, normalise, script_counts, to_simplified


@pytest.mark.parametrize(
    "text",
    [
        # Hong Kong Cantonese, phrases from the OpenRice lexicon (../shared/datasets/openrice_cantonese_lexicon)
        "幾鮮嫩嘅",
        "有啲肥膏又唔係成口油嗰隻",
        "冇趕客嘅感覺",
        "終於嚟試啦",
        "呢間餐廳啲嘢好好食，下次會再嚟",
        "好好食",  # no script-specific character at all: Traditional by default
        "只有裏面乾淨",  # 只 and 里 are Traditional too; 裏 and 乾 are Traditional only
        "這家餐廳的服務很好",
        "郁郁青青",  # 郁 is also a Traditional character (OpenCC lists it as its own Traditional form)
    ],
)
def test_traditional_and_cantonese_text_is_zh_hant(text: str) -> None:
    assert detect_language(text) == "zh-Hant"


@pytest.mark.parametrize("text", ["这家餐厅的服务很好", "送货很快，质量不错", "鲜嫩"])
def test_simplified_text_is_zh_hans(text: str) -> None:
    assert detect_language(text) == "zh-Hans"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The food was great", "en"),
        ("Ｔｈｅ ｆｏｏｄ ｗａｓ ｇｒｅａｔ", "en"),  # full-width letters are folded first
        ("I love it", "en"),
        ("El servicio fue muy malo y la comida fría", "other"),
        ("こんにちは世界", "other"),
        ("맛있어요", "other"),
        ("", "other"),
        ("😀😀", "other"),
        ("12345", "other"),
        ("我在用 iPhone，很好用", "zh-Hant"),  # one Han character per five Latin letters or more is Chinese
        ("我在用iPhone，很好用", "zh-Hant"),
        ("The 餐 was fine but I would not go back there again", "en"),
    ],
)
def test_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_script_counts_are_the_script_only_characters() -> None:
    # 這 餐 廳 務 are Traditional only; 的 服 很 好 are both. 这 餐 厅 务: 这 厅 务 are Simplified only (餐 both).
    assert script_counts("這家餐廳的服務很好") == (3, 0)
    assert script_counts("这家餐厅的服务很好") == (0, 3)
    assert script_counts("abc") == (0, 0)


def test_fold_width() -> None:
    assert fold_width("ＡＢＣ１２３，！　ｘ") == "ABC123,! x"
    assert fold_width("０９１２－３４５－６７８") == "0912-345-678"
    assert fold_width("中文不變") == "中文不變"


def test_normalise_gives_one_script_folded_and_single_spaced() -> None:
    assert to_simplified("後來發現裏面乾淨") == "后来发现里面干净"
    assert normalise("服務  很好\n\nＯＫ") == "服务 很好 OK"
    # The same review in either script gives the same analysis copy.
    assert normalise("這家餐廳的服務很好") == normalise("这家餐厅的服务很好")
