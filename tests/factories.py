"""Builders for test data: workspaces with unique slugs and import files written the way users write them."""

from __future__ import annotations

import csv
import itertools
import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.models import Workspace

_counter = itertools.count(1)


def make_workspace(engine: Engine, **overrides: str) -> Workspace:
    slug = overrides.pop("slug", f"t{next(_counter)}-{uuid.uuid4().hex[:8]}")
    with transaction(engine) as session:
        workspace = core_service.create_workspace(
            session, slug=slug, name=overrides.pop("name", slug), **overrides
        )
        session.expunge(workspace)
    return workspace


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], encoding: str = "utf-8"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records: Iterable[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


CUSTOMER_HEADER = ("external_id", "name", "email", "locale", "city", "birthday", "signup_at", "consent_email")
ORDER_HEADER = (
    "order_id",
    "line_no",
    "customer_id",
    "ordered_at",
    "status",
    "channel",
    "product_id",
    "quantity",
    "unit_price",
    "discount",
)


def customers_file(path: Path, count: int = 3) -> Path:
    rows = [
        (
            f"C{i:03d}",
            f"顧客{i}",
            f"c{i}@example.com",
            "zh-TW",
            "臺北市",
            "1990-01-0" + str(i % 9 + 1),
            "2024-01-01 10:00",
            "yes",
        )
        for i in range(1, count + 1)
    ]
    return write_csv(path, CUSTOMER_HEADER, rows)


def products_file(path: Path) -> Path:
    return write_csv(path, ("external_id", "name", "category", "price"),
                     [("P1", "高山烏龍茶", "tea", "680"), ("P2", "濾掛咖啡", "coffee", "250.50")])  # fmt: skip
