"""Masking personal data before text reaches analysis: e-mail addresses, phone numbers, payment cards, Taiwan
national ID and resident certificate (ARC) numbers, mainland China resident ID numbers.

Numbers with a check digit (cards: Luhn; Taiwan IDs and ARCs; mainland IDs: ISO 7064 MOD 11-2) are masked only
when it holds, so order numbers and the like stay. Matching runs on the width-folded text (０９１２ is 0912), which
has the same length, so the spans are the original text's. Measured recall and precision: docs/text.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from patron.text.normalise import fold_width

Kind = Literal["email", "phone", "card", "tw_id", "cn_id"]
KINDS: tuple[Kind, ...] = ("email", "phone", "card", "tw_id", "cn_id")
MASKS: dict[Kind, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "card": "[CARD]",
    "tw_id": "[TW_ID]",
    "cn_id": "[CN_ID]",
}


@dataclass(frozen=True)
class Span:
    kind: Kind
    start: int
    end: int


# No letter or digit may touch a match on either side (a match inside a longer number is no match).
_L = r"(?<![0-9A-Za-z])"
_R = r"(?![0-9A-Za-z])"
_SEP = r"[ \-.]?"

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9_.+\-])[A-Za-z0-9_.+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9_\-])"
)
_TW_ID = re.compile(_L + r"[A-Z][12ABCD89][0-9]{8}" + _R)
_CN_ID = re.compile(_L + r"[1-9][0-9]{16}[0-9Xx]" + _R)
_CARD = re.compile(r"(?<![0-9A-Za-z+])" + r"[0-9](?:[ \-]?[0-9]){12,18}" + _R)
_PHONES = (
    # International: +CC then 6 to 14 more digits, grouped by spaces, hyphens, dots or one pair of brackets
    re.compile(r"\+[1-9][0-9]{0,2}[ \-.]?(?:\([0-9]{1,4}\)[ \-.]?)?[0-9](?:[ \-.]?[0-9]){5,13}" + _R),
    # Taiwan mobile: 0912-345-678, 0912 345 678, 0912345678, +886 912 345 678, +886-9-1234-5678
    re.compile(r"(?:\+886" + _SEP + r"|(?<![0-9+])0)9" + r"(?:" + _SEP + r"[0-9]){8}" + _R),
    # Taiwan landline: (02) 2345-6789, 02-2345-6789, (037) 123-456, +886 2 2345 6789, +886-2-2345-6789
    re.compile(
        r"(?:\(0[2-8][0-9]{0,2}\)\s?|(?<![0-9+])0[2-8][0-9]{0,2}[ \-]|\+886" + _SEP + r"\(?[2-8][0-9]{0,2}\)?"
        r"[ \-]?)[0-9]{3,4}[ \-]?[0-9]{3,4}" + _R
    ),
    # Mainland China mobile: 13812345678, 138-1234-5678, +86 138 1234 5678
    re.compile(
        r"(?:\+86" + _SEP + r"|(?<![0-9+]))1[3-9][0-9]" + _SEP + r"[0-9]{4}" + _SEP + r"[0-9]{4}" + _R
    ),
)

_TW_LETTERS = "ABCDEFGHJKLMNPQRSTUVXYWZIO"  # A=10 … Z=33 in this order (I=34, O=35)


def _letter_value(letter: str) -> int:
    return _TW_LETTERS.index(letter) + 10


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_brand_ok(digits: str) -> bool:
    """A length and leading digits some card network issues (Visa, Mastercard, Amex, Discover, JCB, UnionPay,
    Diners): a Luhn-valid order number of another shape (one in ten is) is not a card."""
    length, head = len(digits), int(digits[:4])
    if digits[0] == "4":
        return length in (13, 16, 19)
    if 5100 <= head <= 5599 or 2221 <= head <= 2720:
        return length == 16
    if digits[:2] in ("34", "37"):
        return length == 15
    if digits[:2] in ("30", "36", "38"):
        return length in (14, 16)
    if digits[:2] in ("35", "62", "65") or digits[:4] == "6011" or 644 <= head // 10 <= 649:
        return 16 <= length <= 19
    return False


def tw_id_ok(number: str) -> bool:
    """Taiwan national ID (A123456789), new ARC (A800000014: 8 or 9 second) or old ARC (AB12345677: letter second)."""
    number = number.upper()
    if len(number) != 10 or number[0] not in _TW_LETTERS or not number[2:].isdigit():
        return False
    first = _letter_value(number[0])
    second_char = number[1]
    if second_char in "12" or second_char in "89":
        second = int(second_char)
    elif second_char in "ABCD":
        second = _letter_value(second_char) % 10  # old ARC: the second letter's code's last digit
    else:
        return False
    weights = (8, 7, 6, 5, 4, 3, 2, 1)
    total = first // 10 + (first % 10) * 9 + second * 8
    total += sum(int(d) * w for d, w in zip(number[2:9], weights[1:], strict=True))
    total += int(number[9])
    return total % 10 == 0


def cn_id_ok(number: str) -> bool:
    """Mainland resident ID: 17 digits and an ISO 7064 MOD 11-2 check character (0–9 or X)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def find_pii(text: str) -> list[Span]:
    """The personal data in ``text``, as non-overlapping spans in text order."""
    folded = fold_width(text)
    taken = bytearray(len(folded))
    spans: list[Span] = []

    def claim(kind: Kind, start: int, end: int) -> None:
        if not any(taken[start:end]):
            taken[start:end] = b"\x01" * (end - start)
            spans.append(Span(kind, start, end))

    for match in _EMAIL.finditer(folded):
        claim("email", match.start(), match.end())
    for match in _TW_ID.finditer(folded):
        if tw_id_ok(match.group()):
            claim("tw_id", match.start(), match.end())
    for match in _CN_ID.finditer(folded):
        if cn_id_ok(match.group()):
            claim("cn_id", match.start(), match.end())
    for match in _CARD.finditer(folded):
        digits = re.sub(r"[ \-]", "", match.group())
        if card_brand_ok(digits) and luhn_ok(digits) and not _looks_like_phone(match.group()):
            claim("card", match.start(), match.end())
    for pattern in _PHONES:
        for match in pattern.finditer(folded):
            claim("phone", match.start(), match.end())
    return sorted(spans, key=lambda span: span.start)


def _looks_like_phone(candidate: str) -> bool:
    """A Luhn-valid run that is written as a phone number (0912-345-678 passes Luhn one time in ten)."""
    return any(pattern.fullmatch(candidate) for pattern in _PHONES)


def mask(text: str) -> str:
    """``text`` with each piece of personal data replaced by its kind's mask ([EMAIL], [PHONE], …)."""
    pieces: list[str] = []
    position = 0
    for span in find_pii(text):
        pieces.append(text[position : span.start])
        pieces.append(MASKS[span.kind])
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)
