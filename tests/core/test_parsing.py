"""Cell parsers: what users type in Taiwan, China and elsewhere parses exactly, or fails with a named reason."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from patron.core import parsing as p
from patron.core.money import from_minor, minor_unit_exponent, to_minor

TAIPEI = ZoneInfo("Asia/Taipei")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01", date(2025, 3, 1)),
        ("2025/3/1", date(2025, 3, 1)),
        ("２０２５／０３／０１", date(2025, 3, 1)),
        ("2025年3月1日", date(2025, 3, 1)),
        ("民國114年3月1日", date(2025, 3, 1)),
        ("民国114/03/01", date(2025, 3, 1)),
        ("2025-03-01T10:00:00", date(2025, 3, 1)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert p.parse_date(text) == expected


@pytest.mark.parametrize("text", ["2025-02-30", "03/01/2025", "yesterday", "民國114年13月1日"])
def test_bad_dates_name_the_value(text: str) -> None:
    with pytest.raises(p.FieldProblem) as caught:
        p.parse_date(text)
    assert caught.value.code == "import.not_date" and caught.value.params["value"] == text


def test_datetimes_without_offset_are_in_the_workspace_zone_and_stored_as_utc() -> None:
    parse = p.datetime_field(TAIPEI)
    assert parse("2025-03-01 08:00") == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
    assert parse("2025-03-01T08:00:00Z") == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    assert parse("2025-03-01T08:00:00-05:00") == datetime(2025, 3, 1, 13, 0, tzinfo=UTC)
    assert parse("2025/03/01") == datetime(2025, 2, 28, 16, 0, tzinfo=UTC)
    with pytest.raises(p.FieldProblem, match=r"import\.datetime_out_of_range"):
        parse("1900-01-01")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,299", Decimal(1299)),
        ("NT$1,299.50", Decimal("1299.50")),
        ("１２９９", Decimal(1299)),
        ("￥88", Decimal(88)),
    ],
)
def test_decimals(text: str, expected: Decimal) -> None:
    assert p.decimal()(text) == expected


def test_decimal_rejects_nan_and_negative_when_bounded() -> None:
    for text in ("NaN", "Infinity", "1.2.3"):
        with pytest.raises(p.FieldProblem, match=r"import\.not_number"):
            p.decimal()(text)
    with pytest.raises(p.FieldProblem, match=r"import\.too_small"):
        p.decimal(Decimal(0))("-1")


def test_integers() -> None:
    parse = p.integer(1, 10)
    assert parse("３") == 3 and parse("4.0") == 4
    for text, code in (("4.5", "import.not_integer"), ("0", "import.too_small"), ("11", "import.too_large")):
        with pytest.raises(p.FieldProblem, match=code):
            parse(text)


def test_codes_are_width_folded_but_free_text_is_kept_as_written() -> None:
    assert p.code(10)("Ｃ００１") == "C001"
    assert p.text(20)(" 好喝！ＡＢＣ ") == "好喝！ＡＢＣ"
    with pytest.raises(p.FieldProblem, match=r"import\.too_long"):
        p.text(3)("太長的文字")


def test_booleans_choices_phones_emails_locales_currencies() -> None:
    assert p.boolean("是") is True and p.boolean("N") is False
    assert p.choice(["store", "web"], {"門市": "store"})("門市") == "store"
    assert p.phone("0912-345-678") == "0912345678" and p.phone("+886 912 345 678") == "+886912345678"
    assert p.email("Ａ@Example.COM") == "a@example.com"
    assert [p.locale(x) for x in ("zh_TW", "zh-HK", "zh-CN", "繁體", "en-GB")] == [
        "zh-Hant",
        "zh-Hant",
        "zh-Hans",
        "zh-Hant",
        "en",
    ]
    assert [p.currency(x) for x in ("twd", "NT$", "人民幣")] == ["TWD", "TWD", "CNY"]
    for parser, text in (
        (p.boolean, "maybe"),
        (p.phone, "12"),
        (p.email, "a@b"),
        (p.locale, "fr"),
        (p.currency, "XYZ"),
    ):
        with pytest.raises(p.FieldProblem):
            parser(text)


def test_money_minor_units_follow_iso_4217() -> None:
    assert minor_unit_exponent("JPY") == 0 and minor_unit_exponent("KWD") == 3
    assert to_minor(Decimal("1550.50"), "TWD") == 155_050
    assert to_minor(Decimal(500), "JPY") == 500
    assert from_minor(155_050, "TWD") == Decimal("1550.50")
    with pytest.raises(ValueError, match="too many decimal places"):
        to_minor(Decimal("1.5"), "JPY")
