"""Texts in three languages: Traditional and Simplified are derived from each other with OpenCC when only one
is written (Taiwan phrasing for Traditional), and a missing language falls back in a fixed order."""

from __future__ import annotations

from functools import cache
from typing import Any

import opencc
from pydantic_core import PydanticCustomError

from patron.core.i18n import LOCALES, normalize_locale

LocalizedText = dict[str, str]
FALLBACK_ORDER: tuple[str, ...] = ("zh-Hant", "en", "zh-Hans")


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    return str(_converter("t2s").convert(text))


def to_traditional(text: str) -> str:
    """Simplified to Traditional with Taiwan vocabulary (软件 → 軟體), as Taiwanese respondents expect."""
    return str(_converter("s2twp").convert(text))


def complete(value: Any) -> LocalizedText:
    """A text given as a plain string or a mapping of locales, with the other Chinese script filled in.

    Raises a ValueError (a PydanticCustomError with a message code) naming the problem; used as a Pydantic
    before-validator."""
    if isinstance(value, str):
        value = {"zh-Hant": value}
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "survey.text_shape", "a text is a string or a mapping of zh-Hant / zh-Hans / en to strings"
        )
    texts: LocalizedText = {}
    for raw_locale, text in value.items():
        locale = normalize_locale(str(raw_locale))
        if locale not in LOCALES:
            raise PydanticCustomError(
                "survey.text_language", "unknown language '{language}'; use zh-Hant, zh-Hans or en",
                {"language": str(raw_locale)},
            )  # fmt: skip
        if not isinstance(text, str) or not text.strip():
            raise PydanticCustomError(
                "survey.text_empty", "the {language} text is empty", {"language": locale}
            )
        texts[locale] = text.strip()
    if not texts:
        raise PydanticCustomError("survey.text_none", "the text is empty")
    if "zh-Hant" in texts and "zh-Hans" not in texts:
        texts["zh-Hans"] = to_simplified(texts["zh-Hant"])
    elif "zh-Hans" in texts and "zh-Hant" not in texts:
        texts["zh-Hant"] = to_traditional(texts["zh-Hans"])
    return texts


def pick(texts: LocalizedText, locale: str | None) -> str:
    """The text in ``locale``, else the first present in the fallback order."""
    chosen = normalize_locale(locale)
    if chosen and chosen in texts:
        return texts[chosen]
    for candidate in FALLBACK_ORDER:
        if candidate in texts:
            return texts[candidate]
    return next(iter(texts.values()), "")


def missing_languages(texts: LocalizedText) -> list[str]:
    return [locale for locale in LOCALES if locale not in texts]
