"""Amounts as people pay them: whole amounts in the currency's cash digits, others in its own digits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from patron.web.templating import format_money


@pytest.mark.parametrize(
    ("value", "currency", "locale", "shown"),
    [
        ("10020", "TWD", "zh_Hant_TW", "$10,020"),  # Taiwan pays in whole dollars: no ".00"
        ("10020.00", "TWD", "zh_Hans_CN", "NT$10,020"),
        ("1550.50", "TWD", "en_US", "NT$1,550.50"),  # not whole: nothing rounded away
        ("-30", "TWD", "en_US", "-NT$30"),
        ("1200", "JPY", "zh_Hans_CN", "JP¥1,200"),
        ("10020", "USD", "en_US", "$10,020.00"),  # cents are cash in USD
        ("12.5", "USD", "en_US", "$12.50"),
        ("99", "CNY", "zh_Hans_CN", "¥99.00"),
    ],
)
def test_whole_amounts_in_cash_digits(value: str, currency: str, locale: str, shown: str) -> None:
    assert format_money(Decimal(value), currency, locale) == shown


def test_amount_cells_keep_their_cents_and_money_cells_are_whole() -> None:
    from patron.web.templating import formatters

    cell = formatters("en")["cell"]
    assert (cell(183.75, "amount"), cell(25.0, "amount"), cell(1234567.5, "amount")) == (
        "183.75",
        "25",
        "1,234,567.50",
    )
    assert cell(183.75, "money") == "184", "estimates such as CLV stay in whole units"
