"""Jinja2 environment with translation and locale-aware number/date formatting."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import get_global
from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_currency, format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from patron.core.i18n import LANGUAGE_NAMES, LOCALES, translate
from patron.metrics.service import means_text

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: CLDR locales used for formatting: Taiwan conventions for Traditional, mainland for Simplified.
BABEL_LOCALE = {"zh-Hant": "zh_Hant_TW", "zh-Hans": "zh_Hans_CN", "en": "en_US"}

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def format_money(value: Decimal | float, currency: str, cldr: str) -> str:
    """An amount as people pay it: in cash digits when it is whole in them (NT$10,020, ¥1,200, not NT$10,020.00),
    otherwise in the currency's own digits, so nothing is rounded away (NT$1,550.50)."""
    value = value if isinstance(value, Decimal) else Decimal(str(value))
    digits, _, cash_digits, _ = get_global("currency_fractions").get(
        currency, get_global("currency_fractions")["DEFAULT"]
    )
    if cash_digits < digits and value == value.quantize(Decimal(1).scaleb(-cash_digits)):
        pattern = Locale.parse(cldr).currency_formats["standard"].pattern.split(";")[0]
        whole = pattern.replace(".00", "." + "0" * cash_digits if cash_digits else "")
        return format_currency(value, currency, format=whole, locale=cldr, currency_digits=False)
    return format_currency(value, currency, locale=cldr)


def formatters(locale: str, timezone: str = "Asia/Taipei") -> dict[str, Any]:
    cldr = BABEL_LOCALE[locale]
    zone = ZoneInfo(timezone)

    def number(value: int | float | Decimal) -> str:
        return format_decimal(value, locale=cldr)

    def money(value: Decimal, currency: str) -> str:
        return format_money(value, currency, cldr)

    def when(value: datetime | None) -> str:
        return "" if value is None else format_datetime(value.astimezone(zone), "short", locale=cldr)

    def day(value: datetime | None) -> str:
        return "" if value is None else format_date(value.astimezone(zone).date(), "medium", locale=cldr)

    def t(code: str, **params: Any) -> str:
        return translate(code, locale, **params)

    def fixed(value: float | int | None, digits: int = 1, *, sign: bool = False) -> str:
        """A measured number with a fixed number of decimals; "—" where there is no number."""
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        shown = round(value, digits) + 0.0  # one that rounds to zero is 0.0, never "−0.0" or "+0.0"
        text = format_decimal(shown, format=pattern, locale=cldr)
        return ("+" + text) if sign and shown > 0 else text.replace("-", "−")

    def cell(value: Any, kind: str) -> str:
        """A dashboard table cell as its column's kind says (dashboard.tables.Column)."""
        if value is None:
            return "—"
        if kind == "flag":
            return t("dash.yes") if value else t("dash.no")
        if kind in ("score", "percent"):
            return fixed(value, 1) + ("%" if kind == "percent" else "")
        if kind == "mean":
            return fixed(value, 2)
        if kind == "int":
            return number(value)
        if kind == "money":
            return fixed(value, 0)
        if kind == "amount":  # money a finance team reconciles: whole amounts plain, cents never rounded away
            return fixed(value, 0 if float(value).is_integer() else 2)
        if isinstance(value, date):
            if kind == "month":
                return format_skeleton("yMMM", value, locale=cldr)
            return format_date(value, "medium", locale=cldr)
        return str(value)

    def means(pairs: Any) -> str:
        """CSAT's mean score per scale and on 0–100, in the page's language."""
        return means_text(dict(pairs), locale)

    def day_of(value: date) -> str:
        return format_date(value, "medium", locale=cldr)

    return {"number": number, "money": money, "when": when, "day": day, "day_of": day_of, "t": t, "fixed": fixed,
            "cell": cell, "means": means}  # fmt: skip


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    locale: str,
    timezone: str = "Asia/Taipei",
    status_code: int = 200,
) -> HTMLResponse:
    full = {
        **formatters(locale, timezone),
        "locale": locale,
        "locales": LOCALES,
        "language_names": LANGUAGE_NAMES,
        **context,
    }
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    response.headers["Content-Language"] = locale
    return response
