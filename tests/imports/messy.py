"""A seeded corpus of messy order, product and customer files: every rule the importers apply, mixed.

Used as a regression oracle: ``expected.json`` in ``messy/`` holds what the importers reported and stored for
it, and every change to the engine must reproduce it exactly (see test_messy_corpus.py)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

CUSTOMERS = [f"C{i:03d}" for i in range(40)]
PRODUCTS = [f"P{i:02d}" for i in range(12)]
ORDER_HEADER = ("order_id", "line_no", "customer_id", "ordered_at", "status", "channel", "store", "currency",
                "product_id", "quantity", "unit_price", "discount")  # fmt: skip


def _pick(rng: random.Random, good: list[str], bad: list[str], bad_share: float = 0.015) -> str:
    return rng.choice(bad) if bad and rng.random() < bad_share else rng.choice(good)


def _messy_customer_cells(rng: random.Random, i: int) -> list[str]:
    wide = f"Ｃ{i:03d}".translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return [
        rng.choice([f"C{i:03d}", f"C{i:03d}", wide, f" C{i:03d} "]),
        f"顧客{i}",
        _pick(rng, [f"c{i}@example.com", f"C{i}@Example.COM", ""], ["not-an-email"]),
        _pick(rng, ["0912-345-678", "+886 2 2345 6789", ""], ["12"]),
        _pick(
            rng,
            ["1990-05-01", "1990/5/1", "民國79年5月1日", "1990年5月1日", ""],
            ["1899-12-31", "31/05/1990"],
        ),
        _pick(rng, ["zh-TW", "zh_CN", "en", ""], ["klingon"]),
        _pick(rng, ["yes", "否", "1", ""], ["maybe"]),
        _pick(
            rng,
            ["2024-01-02 10:00", "2024-01-02T10:00:00Z", "2024/01/02", "２０２４－０１－０２"],
            ["yesterday"],
        ),
    ]


def write_customers(path: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["external_id", "name", "email", "phone", "birthday", "locale", "consent_email", "signup_at"]
        )
        for i in range(len(CUSTOMERS)):
            writer.writerow(_messy_customer_cells(rng, i))
        writer.writerow(_messy_customer_cells(rng, 3))  # a duplicate of C003 (or its full-width twin)
    return path


def write_products(path: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "category", "price", "currency", "active"])
        for i, sku in enumerate(PRODUCTS):
            price = _pick(rng, ["100", "1,299.50", "NT$80", "１２０", ""], ["12.345", "-5", "abc"], 0.05)
            writer.writerow([sku, f"商品{i}" if i != 5 else "", f"cat{i % 3}", price,
                             _pick(rng, ["", "TWD", "NTD"], ["XXQ"], 0.05), _pick(rng, ["", "是", "no"], ["?"], 0.05)])  # fmt: skip
    return path


def write_orders(path: Path, seed: int = 7, orders: int = 400, *, plain: bool = False) -> Path:
    """``plain``: no cell needs quoting and every row is as wide as the header, the files pyarrow may parse."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    for number in range(1, orders + 1):
        order = f"O{number:05d}"
        customer = _pick(rng, CUSTOMERS, ["C999", ""])
        when = _pick(rng, ["2025-03-01T10:00:00+08:00", "2025-03-01 10:00", "2025/03/01", "2025-03-01T02:00:00Z",
                           "２０２５-０３-０１ １０:００", "2025-11-02 01:30", f"2025-05-{number % 28 + 1:02d}T08:00:00+08:00"],
                     ["1969-12-31", "2025-13-01", "soon"])  # fmt: skip
        channel = _pick(rng, ["web", "門市", "app", "online", ""], ["fax"])
        status = _pick(rng, ["", "完成", "cancelled", "returned"], ["lost"])
        currency = _pick(rng, ["", "", "TWD", "NT$", "usd"], ["XXQ", "JPY"])
        numbered = rng.random() < 0.8
        for line_no in range(1, rng.randint(1, 4) + 1):
            cells = [order, str(line_no) if numbered else "", customer, when, status, channel,
                     "信義店" if channel == "門市" else "", currency, _pick(rng, [*PRODUCTS, ""], ["P99"]),
                     _pick(rng, ["1", "2", "０３", "", "1.0"], ["0", "1.5", "x"]),
                     _pick(rng, ["100", "99", "1,000", "１５０", "NT$80", "12.50"], ["", "-1", "12.345", "abc"]),
                     _pick(rng, ["", "0", "10", "0.50"], ["500", "-3"], 0.03)]  # fmt: skip
            if rng.random() < 0.02:
                cells[3] = "2025-04-01T00:00:00+08:00"  # the lines of one order disagree
            if rng.random() < 0.01:
                cells.append("extra")
            elif rng.random() < 0.01:
                cells.append("")  # an empty extra cell is harmless
            if plain:
                cells = [cell.replace(",", "") for cell in cells[: len(ORDER_HEADER)]]
            rows.append(cells)
    if plain:
        rows.append([""] * len(ORDER_HEADER))  # a row of empty cells is skipped
    rows.append(list(rows[5]))  # a repeated line
    rng.shuffle(rows)  # lines of one order far apart, across batches
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_HEADER)
        writer.writerows(rows)
    return path
