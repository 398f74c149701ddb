"""Strict parsers for imported cells. Each raises ``FieldProblem`` naming what is wrong; none guesses silently.

Numbers, dates and codes are NFKC-normalised first, so full-width input typed with a Chinese IME
(``２０２５／０３／０１``, ``１２９９``) parses like its ASCII twin; free text is kept exactly as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from typing import Any

from patron.core.i18n import normalize_locale
from patron.core.money import known_currencies, parse_decimal


class FieldProblem(ValueError):
    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


Parser = Callable[[str], Any]

_ROC = re.compile(r"^(?:民國|民国)\s*(\d{1,3})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?$")
_CJK_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$")
_SLASHED = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS = re.compile(r"[\s\-().]")
_TRUE = {"true", "t", "yes", "y", "1", "是", "對", "对", "同意"}
_FALSE = {"false", "f", "no", "n", "0", "否", "不", "不同意"}


def nfkc(text: str) -> str:
    if text.isascii():  # NFKC leaves ASCII unchanged; most cells are ASCII, so skip the table look-ups
        return text.strip()
    return unicodedata.normalize("NFKC", text).strip()


def text(max_length: int) -> Parser:
    def parse(value: str) -> str:
        value = value.strip()
        if len(value) > max_length:
            raise FieldProblem("import.too_long", maximum=max_length, length=len(value))
        return value

    return parse


def code(max_length: int) -> Parser:
    """Identifiers: NFKC-normalised so a full-width ``Ｃ００１`` matches ``C001``."""

    def parse(value: str) -> str:
        value = nfkc(value)
        if len(value) > max_length:
            raise FieldProblem("import.too_long", maximum=max_length, length=len(value))
        return value

    return parse


def integer(minimum: int | None = None, maximum: int | None = None) -> Parser:
    def parse(value: str) -> int:
        cleaned = nfkc(value).replace(",", "")
        try:
            number = int(cleaned)
        except ValueError:
            try:
                as_decimal = Decimal(cleaned)
            except ArithmeticError:
                raise FieldProblem("import.not_integer", value=value) from None
            if not as_decimal.is_finite() or as_decimal != as_decimal.to_integral_value():
                raise FieldProblem("import.not_integer", value=value) from None
            number = int(as_decimal)
        if minimum is not None and number < minimum:
            raise FieldProblem("import.too_small", value=number, minimum=minimum)
        if maximum is not None and number > maximum:
            raise FieldProblem("import.too_large", value=number, maximum=maximum)
        return number

    return parse


def decimal(minimum: Decimal | None = None) -> Parser:
    def parse(value: str) -> Decimal:
        try:
            number = parse_decimal(nfkc(value))
        except ValueError:
            raise FieldProblem("import.not_number", value=value) from None
        if minimum is not None and number < minimum:
            raise FieldProblem("import.too_small", value=value, minimum=minimum)
        return number

    return parse


def parse_date(value: str) -> date:
    cleaned = nfkc(value)
    try:
        return (
            date.fromisoformat(cleaned[:10])
            if len(cleaned) >= 10 and cleaned[4] == "-"
            else _other_date(cleaned)
        )
    except ValueError:
        raise FieldProblem("import.not_date", value=value) from None


def _other_date(cleaned: str) -> date:
    for pattern, offset in ((_SLASHED, 0), (_CJK_DATE, 0), (_ROC, 1911)):
        match = pattern.match(cleaned)
        if match:
            year, month, day = (int(part) for part in match.groups())
            return date(year + offset, month, day)
    raise ValueError(cleaned)


def date_field(earliest: date = date(1900, 1, 1)) -> Parser:
    def parse(value: str) -> date:
        parsed = parse_date(value)
        if parsed < earliest:
            raise FieldProblem("import.date_too_early", value=value, earliest=earliest.isoformat())
        return parsed

    return parse


def datetime_field(local_zone: tzinfo) -> Parser:
    """ISO 8601 with or without offset; a value without one is in the workspace's time zone. Stored as UTC."""

    def parse(value: str) -> datetime:
        cleaned = nfkc(value).replace("/", "-")
        if cleaned.endswith(("Z", "z")):
            cleaned = cleaned[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(cleaned)
        except ValueError:
            try:
                parsed = datetime.combine(parse_date(value), time())
            except FieldProblem:
                raise FieldProblem("import.not_datetime", value=value) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=local_zone)
        if not 1970 <= parsed.year <= 2200:
            raise FieldProblem("import.datetime_out_of_range", value=value)
        return parsed.astimezone(UTC)

    return parse


def boolean(value: str) -> bool:
    folded = nfkc(value).lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise FieldProblem("import.not_boolean", value=value)


def choice(choices: Iterable[str], aliases: dict[str, str] | None = None) -> Parser:
    allowed = {c.lower(): c for c in choices}
    extra = {k.lower(): v for k, v in (aliases or {}).items()}
    listing = ", ".join(sorted(allowed.values()))

    def parse(value: str) -> str:
        folded = nfkc(value).lower()
        found = allowed.get(folded) or extra.get(folded)
        if found is None:
            raise FieldProblem("import.not_in_choices", value=value, choices=listing)
        return found

    return parse


def slug(max_length: int) -> Parser:
    """Open vocabularies (interaction types): lower-case words joined by underscores."""
    pattern = re.compile(r"^[a-z][a-z0-9_]*$")

    def parse(value: str) -> str:
        folded = "_".join(nfkc(value).lower().replace("-", " ").split())
        if not pattern.match(folded) or len(folded) > max_length:
            raise FieldProblem("import.not_slug", value=value)
        return folded

    return parse


def email(value: str) -> str:
    cleaned = nfkc(value).lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 320:
        raise FieldProblem("import.not_email", value=value)
    return cleaned


def phone(value: str) -> str:
    cleaned = _PHONE_CHARS.sub("", nfkc(value))
    digits = cleaned[1:] if cleaned.startswith("+") else cleaned
    if not digits.isdigit() or not 6 <= len(digits) <= 20:
        raise FieldProblem("import.not_phone", value=value)
    return cleaned


def locale(value: str) -> str:
    normalized = normalize_locale(nfkc(value))
    if normalized is None:
        raise FieldProblem("import.not_locale", value=value, choices="zh-Hant, zh-Hans, en")
    return normalized


def currency(value: str) -> str:
    cleaned = nfkc(value).upper()
    if cleaned in {"NT$", "NTD", "新台幣", "新臺幣"}:
        return "TWD"
    if cleaned in {"RMB", "人民幣", "人民币"}:
        return "CNY"
    if cleaned not in known_currencies():
        raise FieldProblem("import.not_currency", value=value)
    return cleaned
