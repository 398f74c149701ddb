"""A seeded generated test set for PII masking: sentences in zh-Hant, zh-Hans and English carrying valid
personal data of every kind, written the ways people write them (spaces, hyphens, full-width digits, +886),
and look-alikes that must stay (order numbers, prices, dates, numbers with a wrong check digit)."""

from __future__ import annotations

import random

from patron.text.pii import Kind, cn_id_ok, luhn_ok, tw_id_ok

Case = tuple[str, list[tuple[Kind, int, int]]]

_TW_LETTERS = "ABCDEFGHJKLMNPQRSTUVXYWZIO"
_FULL = {ord(d): ord(d) + 0xFEE0 for d in "0123456789-"}


def _tw_id(rng: random.Random, second: str) -> str:
    while True:
        number = rng.choice(_TW_LETTERS) + second + "".join(rng.choice("0123456789") for _ in range(8))
        if tw_id_ok(number):
            return number


def _cn_id(rng: random.Random) -> str:
    body = (
        rng.choice(["110101", "310104", "440305", "330106", "510107"])
        + f"{rng.randint(1950, 2010)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        + f"{rng.randint(0, 999):03d}"
    )
    for check in "0123456789X":
        if cn_id_ok(body + check):
            return body + check
    raise AssertionError(body)


def _card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "55", "37", "6011", "35"])
    length = 15 if prefix == "37" else 16
    while True:
        digits = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
        if luhn_ok(digits):
            break
    style = rng.randrange(3)
    if style == 0:
        return digits
    sep = " " if style == 1 else "-"
    if length == 15:
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


def _phone(rng: random.Random) -> str:
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    style = rng.randrange(9)
    if style == 0:
        return f"09{d(2)}-{d(3)}-{d(3)}"
    if style == 1:
        return f"09{d(8)}"
    if style == 2:
        return f"+886 9{d(2)} {d(3)} {d(3)}"
    if style == 3:
        return f"(0{rng.choice('2345678')}) {d(4)}-{d(4)}"
    if style == 4:
        return f"0{rng.choice('2345678')}-{d(4)}-{d(4)}"
    if style == 5:
        return f"+886-{rng.choice('2345678')}-{d(4)}-{d(4)}"
    if style == 6:
        return f"1{rng.choice('3456789')}{d(9)}"
    if style == 7:
        return f"+86 1{rng.choice('3456789')}{d(1)} {d(4)} {d(4)}"
    return rng.choice(
        [f"+44 20 {d(4)} {d(4)}", f"+1 ({d(3)}) {d(3)}-{d(4)}", f"+81 3-{d(4)}-{d(4)}", f"+65 {d(4)} {d(4)}"]
    )


def _email(rng: random.Random) -> str:
    user = rng.choice(["amy", "chen.wei", "li_na", "john.smith", "wang+promo", "kk2024"])
    return (
        f"{user}{rng.randint(1, 999)}@{rng.choice(['gmail.com', 'example.com.tw', 'qq.com', 'yahoo.co.uk'])}"
    )


_MAKERS = {
    "email": _email,
    "phone": _phone,
    "card": _card,
    "tw_id": lambda rng: _tw_id(rng, rng.choice("1289ABCD")),
    "cn_id": _cn_id,
}

_TEMPLATES = [
    "請聯絡我：{}，謝謝。",
    "我的資料是 {} 麻煩處理",
    "请联系{}，尽快回复",
    "Please call me back at {} regarding my order.",
    "contact: {}",
    "{}",
    "訂單編號 2024112400{} 已取消，請回覆 {}",
]

_DECOYS = [
    "訂單編號 {}".format,
    "總金額 NT$ {:,} 元".format,
    "order #{} shipped".format,
]


def _decoy(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return f"訂單編號 {rng.randint(10**13, 10**14)}"  # 14 digits, often Luhn-valid: not 13–19 grouped? see below
    if kind == 1:
        return f"總金額 NT$ {rng.randint(100, 99999):,} 元，{rng.randint(1, 12)}/{rng.randint(1, 28)} 到貨"
    if kind == 2:
        # a card number with a wrong check digit
        while True:
            digits = "4" + "".join(rng.choice("0123456789") for _ in range(15))
            if not luhn_ok(digits):
                return f"card {digits}"
    if kind == 3:
        while True:
            number = rng.choice(_TW_LETTERS) + "1" + "".join(rng.choice("0123456789") for _ in range(8))
            if not tw_id_ok(number):
                return f"證號 {number}"
    if kind == 4:
        return f"會員編號 M{rng.randint(10**7, 10**8)}，積分 {rng.randint(0, 5000)} 點"
    return f"The flight on 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} was {rng.randint(1, 9)} hours late"


def generate(seed: int = 20261202, per_kind: int = 2000, decoys: int = 2000) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    for kind, maker in _MAKERS.items():
        for _ in range(per_kind):
            value = maker(rng)
            if kind in ("phone", "card") and rng.random() < 0.15:
                value = value.translate(_FULL)  # full-width digits, as IMEs type them
            template = rng.choice(_TEMPLATES[:6])
            start = template.index("{}")
            cases.append((template.format(value), [(kind, start, start + len(value))]))  # type: ignore[list-item]
    for _ in range(decoys):
        cases.append((_decoy(rng), []))
    rng.shuffle(cases)
    return cases
