"""Stored codes read as words in every language; a workspace's own segment names come first."""

from __future__ import annotations

import pytest

from patron.commerce.models import Channel, OrderStatus
from patron.core.i18n import LOCALES, Labels, catalog, humanize
from patron.core.models import Role
from patron.surveys.schemas import SurveyChannel, Touchpoint


@pytest.mark.parametrize("locale", LOCALES)
def test_every_code_patron_defines_has_a_label_in_every_language(locale: str) -> None:
    codes = {"touchpoint": list(Touchpoint), "channel": [*Channel, *SurveyChannel], "order_status": list(OrderStatus),
             "role": list(Role)}  # fmt: skip
    missing = [f"label.{kind}.{code}" for kind, values in codes.items() for code in values
               if f"label.{kind}.{code}" not in catalog(locale)]  # fmt: skip
    assert not missing, missing


def test_labels_in_three_languages_and_unknown_codes_humanised() -> None:
    assert [Labels(locale)("touchpoint", "post_purchase") for locale in LOCALES] == [
        "購買後",
        "购买后",
        "After purchase",
    ]
    assert [Labels(locale)("order_status", "completed") for locale in LOCALES] == [
        "已完成",
        "已完成",
        "Completed",
    ]
    assert [Labels(locale)("interaction", "app_open") for locale in LOCALES] == [
        "開啟 App",
        "打开 App",
        "Opened the app",
    ]
    assert [Labels(locale)("channel", "email") for locale in LOCALES] == ["電子郵件", "电子邮件", "Email"]
    assert [Labels(locale)("segment", "member") for locale in LOCALES] == ["一般會員", "普通会员", "Members"]
    assert Labels("zh-Hant")("interaction", "wishlist_add") == "Wishlist add", (
        "no catalogue label: made readable"
    )
    assert humanize("gold-tier__members") == "Gold tier members"
    assert Labels("en")("segment", None) == "" and Labels("en")("segment", "") == ""


def test_a_workspaces_own_segment_name_comes_first_then_the_catalogue_then_its_other_languages() -> None:
    own = {
        "segment": {"vip": {"zh-Hant": "金卡會員", "zh-Hans": "金卡会员"}, "gold": {"zh-Hant": "黃金會員"}}
    }
    assert Labels("zh-Hant", own)("segment", "vip") == "金卡會員"
    assert Labels("zh-Hans", own)("segment", "vip") == "金卡会员"
    assert Labels("en", own)("segment", "vip") == "VIP", "no English name of its own: the catalogue's"
    assert Labels("en", own)("segment", "gold") == "黃金會員", (
        "no catalogue label either: its own in another language"
    )
    assert Labels("en", own)("touchpoint", "vip") == "Vip", "own names are for segments only"
