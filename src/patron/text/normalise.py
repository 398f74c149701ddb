"""Language and script detection, full-/half-width folding and the Simplified copy that analysis reads.

Detection is by script statistics (docs/text.md):

- Han characters against Latin letters: a Chinese character carries about as much as an English word, so a
  text is Chinese when it has at least one Han character per five Latin letters; Kana or Hangul make it "other".
- Traditional against Simplified: OpenCC converts the text both ways (phrase-aware); the characters ``t2s``
  changes are Traditional-only, those ``s2t`` changes are Simplified-only. More Traditional-only characters
  give zh-Hant, more Simplified-only give zh-Hans. A text with neither (e.g. 好好食, 我哋) is zh-Hant:
  Hong Kong Cantonese characters (嘅, 咗, 啲, 冇 …) have no Simplified form and Patron's users write Traditional.
- Latin text is English when common English words are at least a fifth of its words (or it is too short
  to tell); otherwise "other".
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Literal

import opencc

Language = Literal["zh-Hant", "zh-Hans", "en", "other"]

# Full-width ASCII (U+FF01..U+FF5E) to ASCII, and the ideographic space to a space.
_WIDTH_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

_ENGLISH_WORDS_TEXT = """a an the and or but not no is are was were be been it its this that these those i me my we our you your
    he she they them their his her of to in on at for with from by as very so too just all any some more most
    good bad great nice poor love like hate would will can could should do does did have has had there here
    what when where which who how if than then also only out up down about after before again"""
_ENGLISH_WORDS = frozenset(_ENGLISH_WORDS_TEXT.split())
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def fold_width(text: str) -> str:
    """Full-width letters, digits and punctuation to their ASCII forms (ＡＢＣ１２３，→ ABC123,)."""
    return text.translate(_WIDTH_FOLD)


def to_simplified(text: str) -> str:
    """The Simplified copy analysis reads (Traditional → Simplified, character and phrase level)."""
    return str(_converter("t2s").convert(text))


def normalise(text: str) -> str:
    """The analysis copy: Unicode NFC, width folded, Simplified script, runs of white space as one space."""
    folded = fold_width(unicodedata.normalize("NFC", text))
    return " ".join(to_simplified(folded).split())


def _is_han(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2FA1F
        or 0xF900 <= code <= 0xFAFF
    )


def _is_kana_or_hangul(char: str) -> bool:
    code = ord(char)
    return 0x3040 <= code <= 0x30FF or 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF


# Simplified characters that are also standard Traditional characters: the OpenCC 1.4.2 STCharacters entries
# (Apache-2.0) that list the character among its own Traditional forms (郁 → 鬱 郁, 只 → 只 隻 祇, 面, 里 …).
_ALSO_TRADITIONAL = frozenset(
    "僵熏曲淀漓郁酸适雇雕面采里谷辟荐胄背胜胡苔苹虫跖腊腌范蒙蚝舍芸蔑蝎表耇藤蜡豆象膻致准凌几凶出厂厘划刮制千升卜占卷只台叶吁吃合吊同后向吣布帘席冢冬呆周哄岩岳庵克党具坐坯它家弦回困夫夸娘局咨咸咽尸彩唇奸志念干幸广喂巨征御借堤姜噪狸玩确硷私秋种筑筱症琅矩糊系焰皂穗璇累浚挂挨挽栗核涂涌杆杠杯杰松板沈沾扇才扎托扣极果泛注恤拐拿游折抵戚捆捍据搜斗斤斫旋昆溪愈愿札朱朴梁暗棱欲柜澄檗万丑丰伙了于云亘仆仇价仿俊修余佛佣㐹"
)


@cache
def _script_of(char: str) -> int:
    """1 for a Traditional-only character, -1 for a Simplified-only one, 0 for either or neither."""
    if _converter("t2s").convert(char) != char:
        return 1
    if char in _ALSO_TRADITIONAL:
        return 0
    # Simplified-only: every Traditional standard (generic, Hong Kong, Taiwan) writes it otherwise (秘 and 痴 are
    # written so in Hong Kong and Taiwan, though the generic table changes them).
    if all(_converter(config).convert(char) != char for config in ("s2t", "s2hk", "s2tw")):
        return -1
    return 0


def script_counts(text: str) -> tuple[int, int]:
    """(Traditional-only, Simplified-only) characters among the Han characters of ``text``."""
    traditional = simplified = 0
    for char in text:
        if _is_han(char):
            script = _script_of(char)
            traditional += script == 1
            simplified += script == -1
    return traditional, simplified


def detect_language(text: str) -> Language:
    """zh-Hant, zh-Hans, en or other, by script statistics (see the module's docstring)."""
    folded = fold_width(text)
    han = sum(1 for char in folded if _is_han(char))
    other_script = sum(1 for char in folded if _is_kana_or_hangul(char))
    words = _LATIN_WORD.findall(folded)
    latin = sum(len(word) for word in words)
    if other_script and other_script * 2 >= han:
        return "other"
    if han and han * 5 >= latin:
        traditional, simplified = script_counts(folded)
        return "zh-Hans" if simplified > traditional else "zh-Hant"
    if not words:
        return "other"
    english = sum(1 for word in words if word.lower() in _ENGLISH_WORDS)
    if len(words) <= 3 or english * 5 >= len(words):
        return "en"
    return "other"
