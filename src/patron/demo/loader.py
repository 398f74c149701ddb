"""``patron demo load``: generate the demo, write it as ordinary import files, import them like a user would."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import NotFound, PatronError
from patron.core.models import User
from patron.core.security import hash_password
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.demo.catalog import BRAND_NAME
from patron.demo.generator import DemoConfig, DemoData, generate
from patron.importers import IMPORT_ORDER, import_file

DEMO_ADMIN_EMAIL = "admin@demo.patron.example"
_COLUMNS = {
    "customers": ("external_id", "name", "email", "phone", "birthday", "gender", "locale", "city", "segment",
                  "signup_at", "consent_email", "consent_sms", "consent_surveys"),
    "products": ("external_id", "name", "category", "price", "currency"),
    "orders": ("order_id", "line_no", "customer_id", "ordered_at", "status", "channel", "store", "currency",
               "product_id", "quantity", "unit_price", "discount"),
    "interactions": ("external_id", "customer_id", "occurred_at", "type", "channel", "product_id", "order_id", "detail"),
}  # fmt: skip


def demo_has_data(engine: Engine, slug: str) -> bool:
    with transaction(engine) as session:
        try:
            workspace = core_service.get_workspace(session, slug)
        except NotFound:
            return False
        count = session.scalar(select(func.count()).where(Customer.workspace_id == workspace.id))
        return bool(count)


def write_files(data: DemoData, directory: Path) -> dict[str, Path]:
    """The demo as CSV files a user can open, edit and re-import."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = {"customers": data.customers, "products": data.products, "orders": data.order_lines,
            "interactions": data.interactions}  # fmt: skip
    paths: dict[str, Path] = {}
    for kind, columns in _COLUMNS.items():
        path = directory / f"{kind}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows[kind])
        paths[kind] = path
    return paths


def ensure_workspace(engine: Engine, slug: str, admin_password: str) -> None:
    """The demo workspace and its admin exist afterwards; an existing admin gets the new password."""
    with transaction(engine) as session:
        try:
            workspace = core_service.get_workspace(session, slug)
        except NotFound:
            workspace = core_service.create_workspace(
                session, slug=slug, name=BRAND_NAME, timezone="Asia/Taipei", currency="TWD",
                default_locale="zh-Hant", industry="retail",
            )  # fmt: skip
        admin = session.scalar(scoped(User, workspace.id, User.email == DEMO_ADMIN_EMAIL))
        if admin is None:
            core_service.create_user(session, workspace_id=workspace.id, email=DEMO_ADMIN_EMAIL,
                                     password=admin_password, role="admin", display_name="Demo admin")  # fmt: skip
        else:
            admin.password_hash = hash_password(admin_password)


def load_demo(
    engine: Engine,
    *,
    slug: str,
    customers: int,
    seed: int,
    end: date,
    admin_password: str,
    data_dir: Path,
    log: Callable[[str], None] = lambda _: None,
) -> str:
    ensure_workspace(engine, slug, admin_password)
    log(f"generating {customers} customers (seed {seed}, history to {end})…")
    data = generate(DemoConfig(customers=customers, seed=seed, end=end))
    paths = write_files(data, data_dir)
    parts = []
    for kind in IMPORT_ORDER:
        report = import_file(engine, workspace_slug=slug, kind=kind, path=paths[kind], rejects_path=False)
        if report.rejected:
            first = report.errors[0]
            raise PatronError(
                "demo.rejected", kind=kind, count=report.rejected, line=first.line, reason=first.message("en")
            )
        log(f"  {kind}: {report.rows_read} rows ({report.inserted} new, {report.updated} updated)")
        parts.append(f"{report.rows_read} {kind if kind != 'orders' else 'order lines'}")
    return f"{', '.join(parts)} ({data.order_count} orders)"
