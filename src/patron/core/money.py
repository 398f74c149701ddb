"""Money as integer minor units with an ISO 4217 currency; never floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import cache

from babel.numbers import get_currency_precision, list_currencies


@cache
def known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point (TWD 2, JPY 0, KWD 3) from CLDR, which follows ISO 4217."""
    return int(get_currency_precision(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact conversion; raises ValueError when the amount has more decimals than the currency allows."""
    scaled = amount.scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"too many decimal places for {currency}")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_unit_exponent(currency))


def parse_decimal(text: str) -> Decimal:
    """Accepts 1299, 1,299.50, NT$1,299 and full-width digits (already NFKC-normalised by the caller)."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned[:1].isdigit():  # only then can a currency symbol lead
        for symbol in ("NT$", "US$", "HK$", "$", "¥", "￥", "€", "£"):
            cleaned = cleaned.replace(symbol, "")
    cleaned = cleaned.removesuffix("元")
    try:
        value = Decimal(cleaned.strip())
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc
    if not value.is_finite():
        raise ValueError("not a number")
    return value
