"""Translated messages for zh-Hant, zh-Hans and en, kept in Babel/gettext ``.po`` catalogs.

Message ids are stable codes (``import.unknown_customer``) so code never depends on wording, and
translators work in ordinary ``.po`` tooling. Catalogs are read with Babel at first use: no compile step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LOCALES: tuple[str, ...] = ("zh-Hant", "zh-Hans", "en")
#: Each language by its own name, as a language menu shows it.
LANGUAGE_NAMES = {"zh-Hant": "繁體中文", "zh-Hans": "简体中文", "en": "English"}
FALLBACK_LOCALE = "en"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_REGION_SCRIPT = {
    "tw": "zh-Hant",
    "hk": "zh-Hant",
    "mo": "zh-Hant",
    "cn": "zh-Hans",
    "sg": "zh-Hans",
    "my": "zh-Hans",
}


def normalize_locale(value: str | None) -> str | None:
    """Map what browsers, CSV files and users write (zh_TW, zh-hant-tw, en-US, 繁體) to a supported locale."""
    if not value:
        return None
    raw = value.strip().replace("_", "-").lower()
    if raw in {"繁體", "繁体", "繁體中文", "繁体中文", "正體中文"}:
        return "zh-Hant"
    if raw in {"简体", "簡體", "简体中文", "簡體中文"}:
        return "zh-Hans"
    parts = raw.split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] == "zh":
        if "hant" in parts:
            return "zh-Hant"
        if "hans" in parts:
            return "zh-Hans"
        for part in parts[1:]:
            if part in _REGION_SCRIPT:
                return _REGION_SCRIPT[part]
        return "zh-Hans"
    return None


def negotiate(accept_language: str | None, default: str = FALLBACK_LOCALE) -> str:
    """Pick the best supported locale from an HTTP Accept-Language header."""
    if not accept_language:
        return default
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = normalize_locale(tag)
        if locale and quality > 0:
            weighted.append((-quality, index, locale))
    return sorted(weighted)[0][2] if weighted else default


@cache
def catalog(locale: str) -> dict[str, str]:
    path = LOCALE_DIR / locale.replace("-", "_") / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        po = read_po(handle)
    return {str(message.id): str(message.string) for message in po if message.id and message.string}


#: How a list given as a message parameter (the choices, the columns that disagree) is written in each language.
LIST_SEPARATORS = {"en": ", ", "zh-Hant": "、", "zh-Hans": "、"}
#: How separate statements (the problems of one row or one document) are run together on one line.
STATEMENT_SEPARATORS = {"en": "; ", "zh-Hant": "；", "zh-Hans": "；"}


def join_list(values: list[Any] | tuple[Any, ...], locale: str | None = None) -> str:
    """``a, b`` or ``a、b``: a list the way the language enumerates."""
    return LIST_SEPARATORS[normalize_locale(locale) or FALLBACK_LOCALE].join(map(str, values))


def join_statements(texts: list[str], locale: str | None = None) -> str:
    """``a; b`` or ``a；b``."""
    return STATEMENT_SEPARATORS[normalize_locale(locale) or FALLBACK_LOCALE].join(texts)


def translate(code: str, locale: str | None = None, /, **params: Any) -> str:
    """The message for ``code`` in ``locale``, falling back to English, then to the code itself. A list or tuple
    parameter is joined the way the language enumerates (``a, b`` or ``a、b``)."""
    chosen = normalize_locale(locale) or FALLBACK_LOCALE
    text = _message(code, chosen)
    try:
        return text.format(
            **{
                name: join_list(value, chosen) if isinstance(value, (list, tuple)) else value
                for name, value in params.items()
            }
        )
    except (KeyError, IndexError, ValueError):
        return text


def _message(code: str, chosen: str) -> str:
    return catalog(chosen).get(code) or catalog(FALLBACK_LOCALE).get(code) or code


def translate_rows(code: str, locale: str | None, params: dict[str, list[str]]) -> list[str]:
    """``translate(code, locale, **row)`` for each row of string parameter columns, the message looked up once
    (a million customers' reasons)."""
    text = _message(code, normalize_locale(locale) or FALLBACK_LOCALE)
    names = list(params)
    made: dict[tuple[str, ...], str] = {}  # rows with the same parameters share their sentence
    out = []
    for row in zip(*params.values(), strict=True):
        said = made.get(row)
        if said is None:
            try:
                said = text.format(**dict(zip(names, row, strict=True)))
            except (KeyError, IndexError, ValueError):
                said = text
            made[row] = said
        out.append(said)
    return out


#: Kinds of stored code shown to people, each with catalogue labels ``label.<kind>.<code>``.
LABEL_KINDS = ("segment", "touchpoint", "channel", "order_status", "interaction", "role")


def humanize(code: str) -> str:
    """A code no catalogue names, made readable: ``post_purchase`` -> "Post purchase"."""
    words = " ".join(code.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:] if words else code


@dataclass(frozen=True)
class Labels:
    """What people read for stored codes (segments, touchpoints, channels, order statuses, interaction types),
    in one language. In order: the workspace's own label in this language (``custom``: kind -> code -> locale
    -> text), the catalogue's ``label.<kind>.<code>``, the workspace's own label in another language, the code
    made readable. Never the raw code."""

    locale: str
    custom: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)

    def __call__(self, kind: str, code: object) -> str:
        if code is None or code == "":
            return ""
        text = str(code)
        own = self.custom.get(kind, {}).get(text) or {}
        chosen = normalize_locale(self.locale) or FALLBACK_LOCALE
        if own.get(chosen):
            return own[chosen]
        key = f"label.{kind}.{text}"
        found = catalog(chosen).get(key) or catalog(FALLBACK_LOCALE).get(key)
        if found:
            return found
        others = [own[locale] for locale in ("zh-Hant", "en", "zh-Hans") if own.get(locale)]
        return others[0] if others else humanize(text)
