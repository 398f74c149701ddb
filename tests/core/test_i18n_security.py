"""Messages exist in every language for every code the code uses; passwords and keys are handled safely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from patron.core import security
from patron.core.i18n import LOCALES, catalog, negotiate, normalize_locale, translate

SRC = Path(__file__).resolve().parents[2] / "src" / "patron"
CODE = re.compile(
    r"""["']((?:import|workspace|user|auth|apikey|customer|request|demo|ui|cli|validation|message|survey|metrics|dashboard|dash|alerts|link|mail|page|webhook|clv|loyalty)\.[a-z_]+)["']"""
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


#: What Chinese text may quote as it is: 「…」 and “…” literals and {placeholders}.
_LITERALS = re.compile(r"「[^」]*」|“[^”]*”|\{\w+\}")
#: Half-width marks in Chinese text: , ; ! ? ( ) anywhere; a colon unless inside Latin text (14:30, segment:vip,
#: "public: true"); a full stop after Chinese unless a file name goes on (檔名.parquet), or at the end.
_HALF_WIDTH = re.compile(
    r"[,;!?()]|(?<![A-Za-z0-9]):|:(?![A-Za-z0-9]| [A-Za-z0-9])|(?<=[^\x00-\x7f])\.(?![A-Za-z])|\.$"
)


def half_width_punctuation(text: str) -> list[str]:
    """The half-width marks a Chinese text uses where it should use full-width ones (，；！？（）：。).

    The first version only caught a mark right after a Chinese character, so "{slug},請", "）,所有",
    "“{kind}”,请", "YAML/JSON:{reason}" and "JSON Lines(每行…)" all passed."""
    return _HALF_WIDTH.findall(_LITERALS.sub("〇", text))


@pytest.mark.parametrize(
    ("text", "marks"),
    [
        ("找不到工作區 {slug},請建立。", [","]),
        ("（首次在第 {first_line} 行）,所有重複列皆被拒絕。", [","]),
        ("未知的格式“{format}”;请选择 {choices}。", [";"]),
        ("{file} 不是有效的 YAML/JSON:{reason}。", [":"]),
        ("讀取的是 JSON Lines(每行一個物件)。", ["(", ")"]),
        ("能否填写“{survey}”?", ["?"]),
        ("資料已匯入.", ["."]),
        ("「{value}」不是日期時間（請用 ISO 8601，例如 2025-03-01T14:30:00+08:00）。", []),
        ("篩選條件「{filter}」的格式應為 attribute:value（例如 segment:vip）。", []),
        ("請在定義中設定 settings.public: true。", []),
        ("請以 --output 檔名.parquet 指定。", []),
        ("請以「Authorization: Bearer <金鑰>」傳送。", []),
    ],
)
def test_the_punctuation_check_finds_half_width_marks(text: str, marks: list[str]) -> None:
    assert half_width_punctuation(text) == marks


@pytest.mark.parametrize("locale", ["zh-Hant", "zh-Hans"])
def test_chinese_texts_use_full_width_punctuation(locale: str) -> None:
    wrong = {code: text for code, text in catalog(locale).items() if half_width_punctuation(text)}
    assert not wrong, wrong


def test_a_list_parameter_is_enumerated_the_way_the_language_does() -> None:
    choices = ["customers", "orders"]
    assert translate("import.unknown_kind", "en", kind="pets", choices=choices).endswith("customers, orders.")
    assert translate("import.unknown_kind", "zh-Hans", kind="pets", choices=choices) == (
        "未知的导入类型“pets”，请选择 customers、orders。"
    )
