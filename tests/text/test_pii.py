"""PII masking: hand-checked examples, the check digits, and recall/precision on the seeded generated set."""

from __future__ import annotations

from collections import Counter

import pytest

from patron.text.pii import KINDS, card_brand_ok, cn_id_ok, find_pii, luhn_ok, mask, tw_id_ok
from tests.text.pii_cases import generate


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("聯絡我 0912-345-678 或 amy.chen@example.com.tw", "聯絡我 [PHONE] 或 [EMAIL]"),
        ("请联系amy824@gmail.com，尽快回复", "请联系[EMAIL]，尽快回复"),
        ("電話 (02) 2345-6789", "電話 [PHONE]"),
        ("市話 02-2345-6789 分機 12", "市話 [PHONE] 分機 12"),
        ("+886 912 345 678", "[PHONE]"),
        ("+886-2-2345-6789", "[PHONE]"),
        ("手機13812345678", "手機[PHONE]"),
        ("+86 138 1234 5678", "[PHONE]"),
        ("+44 20 7946 0958", "[PHONE]"),
        ("+1 (415) 555-0132", "[PHONE]"),
        ("０９１２３４５６７８", "[PHONE]"),  # full-width digits
        ("卡號 4111 1111 1111 1111 謝謝", "卡號 [CARD] 謝謝"),
        ("卡號 4111 1111 1111 1112", "卡號 4111 1111 1111 1112"),  # wrong Luhn digit: not a card
        ("amex 3782-822463-10005", "amex [CARD]"),
        ("身分證 A123456789", "身分證 [TW_ID]"),
        ("身分證 A123456788", "身分證 A123456788"),  # wrong check digit
        ("證號A800000014", "證號[TW_ID]"),
        ("身份证 11010519491231002X 号", "身份证 [CN_ID] 号"),
        ("身份证 110105194912310021", "身份证 110105194912310021"),  # wrong check character
        ("訂單 20241124001234 金額 1,280 元", "訂單 20241124001234 金額 1,280 元"),
        ("no personal data here", "no personal data here"),
        ("", ""),
    ],
)
def test_mask(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_spans_are_the_original_texts_positions() -> None:
    text = "電話０９１２－３４５－６７８，信箱 a@b.co"
    spans = find_pii(text)
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [
        ("phone", "０９１２－３４５－６７８"),
        ("email", "a@b.co"),
    ]


def test_check_digits_by_hand() -> None:
    # A123456789: A = 10 → 1×1 + 0×9; then 1×8 2×7 3×6 4×5 5×4 6×3 7×2 8×1 and the check 9: 130, divisible by 10.
    assert tw_id_ok("A123456789")
    assert not tw_id_ok("A123456780")
    # New ARC, second digit 8: A800000014 → 1 + 0 + 8×8 + 0 … + 1×1 + 4 = 70.
    assert tw_id_ok("A800000014")
    # Old ARC, the second letter's code's last digit: AC (C = 12 → 2), digits 0123456, check 7:
    # 1 + 0×9 + 2×8 + (0×7 + 1×6 + 2×5 + 3×4 + 4×3 + 5×2 + 6×1 = 56) + 7 = 80.
    assert tw_id_ok("AC01234567")
    # 11010519491231002X: Σ digit × weight = 167, 167 mod 11 = 2 → "X".
    assert cn_id_ok("11010519491231002X")
    assert not cn_id_ok("110105194912310020")
    # 4111 1111 1111 1111: every second digit from the right doubled: 4×2 + 7 × (1×2) + 8 × 1 = 30.
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert card_brand_ok("4111111111111111")
    assert not card_brand_ok("41111111111111")  # Visa has 13, 16 or 19 digits
    assert not card_brand_ok("9111111111111111")


def test_generated_set_recall_and_precision_per_kind() -> None:
    """docs/text.md quotes these numbers: seed 20261202, 2,000 cases a kind, 2,000 look-alikes."""
    true_positive: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    false_positive: Counter[str] = Counter()
    for text, truth in generate():
        found = {(s.kind, s.start, s.end) for s in find_pii(text)}
        expected = set(truth)
        true_positive.update(kind for kind, _, _ in expected & found)
        missed.update(kind for kind, _, _ in expected - found)
        false_positive.update(kind for kind, _, _ in found - expected)
    for kind in KINDS:
        recall = true_positive[kind] / (true_positive[kind] + missed[kind])
        assert recall >= 0.99, kind
    assert dict(true_positive) == dict.fromkeys(KINDS, 2000)
    assert sum(missed.values()) == 0
    # One 14-digit order number starting 38 (a Diners card's shape) passes Luhn: precision 2000 / 2001.
    assert dict(false_positive) == {"card": 1}
