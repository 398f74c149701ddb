"""Messages exist in every language for every code the code uses; passwords and keys are handled safely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from patron.core import security
from patron.core.i18n import LOCALES, catalog, negotiate, normalize_locale, translate

SRC = Path(__file__).resolve().parents[2] / "src" / "patron"
CODE = re.compile(
    r"""["']((?:import|workspace|user|auth|apikey|customer|request|demo|ui|clv)\.[a-z_]+)["']"""
)


def _codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in [*SRC.rglob("*.py"), *SRC.rglob("*.html")]:
        found |= set(CODE.findall(path.read_text(encoding="utf-8")))
    return {code for code in found if not code.endswith(".html")}  # template names are not message codes


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_code_is_translated(locale: str) -> None:
    missing = sorted(_codes_in_source() - set(catalog(locale)))
    assert not missing, f"{locale} lacks {missing}"


def test_catalogs_hold_the_same_codes_and_placeholders() -> None:
    english = catalog("en")
    for locale in ("zh-Hant", "zh-Hans"):
        other = catalog(locale)
        assert set(other) == set(english)
        for code, text in english.items():
            assert set(re.findall(r"{(\w+)}", other[code])) == set(re.findall(r"{(\w+)}", text)), (
                locale,
                code,
            )


def test_scripts_are_not_mixed_up() -> None:
    assert translate("ui.customers", "zh-Hant") == "顧客" and translate("ui.customers", "zh-Hans") == "顾客"
    assert translate("no.such_code", "zh-Hant") == "no.such_code"


def test_locale_negotiation() -> None:
    assert normalize_locale("zh-Hant-TW") == "zh-Hant" and normalize_locale("zh-SG") == "zh-Hans"
    assert negotiate("fr-FR,zh-TW;q=0.8,en;q=0.5") == "zh-Hant"
    assert negotiate("en;q=0.3,zh-CN;q=0.9") == "zh-Hans"
    assert negotiate("fr", default="zh-Hant") == "zh-Hant"
    assert negotiate("zh-TW;q=abc,en") == "en"


def test_passwords_are_argon2id_and_verify() -> None:
    digest = security.hash_password("correct horse battery")
    assert digest.startswith("$argon2id$")
    assert security.verify_password(digest, "correct horse battery")
    assert not security.verify_password(digest, "wrong")
    assert not security.verify_password("not a hash", "x")


def test_api_keys_are_stored_only_as_digests() -> None:
    key, prefix, digest = security.mint_api_key()
    assert key.startswith(f"ptr_{prefix}_") and prefix not in digest and key not in digest
    assert security.split_api_key(key) == prefix
    assert security.digest_api_key(key) == digest
    assert security.split_api_key("ptr_short_x") is None and security.split_api_key("garbage") is None


ASCII_AFTER_CJK = re.compile(r"[\u4e00-\u9fff「」][,?!;:(]")


@pytest.mark.parametrize("locale", ["zh-Hant", "zh-Hans"])
def test_chinese_texts_use_full_width_punctuation(locale: str) -> None:
    wrong = {code: text for code, text in catalog(locale).items() if ASCII_AFTER_CJK.search(text)}
    assert not wrong, wrong
