"""Earning points for a big orders import, beside the import itself and beside what a user would otherwise write.

    python bench/loyalty_earn.py [--lines 1000000] [--backends sqlite,postgresql] [--customers 5000]

An orders CSV of ``--lines`` lines (two a order, customers drawn at random, 300 days of 2026, 1–3 units at
NT$120, NT$680 or NT$99.50, all completed) is imported with no program (``patron import`` as the CLI does it),
then a program with one earn-rule version (1 point per NT$100) is added and ``loyalty.orders.sync_orders`` earns
every line's points (members enrolled, entries, lots, moves, balances), then runs again (nothing left to do), then
``patron loyalty check`` recomputes every balance. The baselines compute the same points without a ledger: one
plain SQL ``SELECT`` of ⌊amount × 1 / 10,000⌋ per line summed per customer, and the same with pandas
(``read_sql`` then vectorised integer division and a ``groupby``). They must find the same total as the ledger.

Every phase runs in a fresh process (multiprocessing ``spawn``), so its peak RSS (``ru_maxrss``) is its own: the
interpreter and the imported modules are included (about 90 MB). PostgreSQL is a throwaway cluster (tests/pg.py).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

SLUG = "bench-earn"
RULE = {
    "effective_from": "2025-01-01T00:00:00+08:00",
    "currency": "TWD",
    "points_per_unit": 1,
    "per_amount": "100",
}


def write_orders(path: Path, lines: int, customers: int) -> None:
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "line_no", "customer_id", "ordered_at", "status", "quantity", "unit_price"])
        orders = lines // 2
        for i in range(orders):
            customer, day = f"E{rng.randrange(customers):06d}", i * 300 // orders
            at = f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T12:00:00+08:00"
            for line in (1, 2):
                out.writerow([f"B{i}", line, customer, at, "completed", rng.randint(1, 3),
                              rng.choice(["120", "680", "99.5"])])  # fmt: skip


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _engine(url: str) -> Any:
    from patron.core.db import make_engine

    return make_engine(url)


def phase(name: str, url: str, folder: str, customers: int, queue: Any) -> None:
    """One phase in this (spawned) process; puts (name, seconds, peak MB, result) on ``queue``."""
    from sqlalchemy import text

    from patron.core import migrate
    from patron.core import service as core_service
    from patron.core.db import transaction
    from patron.customers.models import Customer
    from patron.loyalty import orders, service
    from patron.loyalty.schemas import EarnRuleCreate, ProgramUpdate

    if name == "pandas":
        import pandas  # noqa: F401  (loaded before the clock starts, as in a notebook)
    engine = _engine(url)
    result: Any = None
    began = time.perf_counter()
    if name == "setup":
        migrate.upgrade(engine)
        with transaction(engine) as session:
            ws = core_service.create_workspace(session, slug=SLUG, name="bench")
            session.flush()
            session.add_all(Customer(workspace_id=ws.id, external_id=f"E{i:06d}") for i in range(customers))
    elif name == "import":
        from patron.importers import import_file

        report = import_file(engine, workspace_slug=SLUG, kind="orders", path=Path(folder) / "orders.csv",
                             rejects_path=False)  # fmt: skip
        result = f"{report.inserted:,} inserted, {report.rejected} rejected"
    elif name in ("earn", "again"):
        with transaction(engine) as session:
            ws = core_service.get_workspace(session, SLUG)
            if name == "earn":
                service.set_program(session, workspace=ws, data=ProgramUpdate())
                service.add_rule(session, workspace=ws, data=EarnRuleCreate.model_validate(RULE))
        began = time.perf_counter()  # the program and rule are not part of the earning
        with transaction(engine) as session:
            report = orders.sync_orders(session, workspace=ws)
        result = (report.orders, report.entries, report.earned)
    elif name == "check":
        with transaction(engine) as session:
            ws = core_service.get_workspace(session, SLUG)
            result = len(service.check(session, workspace_id=ws.id).differences)
    elif name == "sql":
        # What one would write by hand: each line's points (1 per NT$100 = 10,000 minor units), floored, per
        # customer. Integer division is a floor for these non-negative amounts on both databases.
        statement = text(
            "SELECT o.customer_id, SUM(l.amount_minor * 1 / 10000) FROM order_lines l "
            "JOIN orders o ON o.id = l.order_id WHERE o.status = 'completed' GROUP BY o.customer_id"
        )
        with engine.connect() as connection:
            result = sum(int(points) for _, points in connection.execute(statement))
    elif name == "pandas":
        import pandas as pd

        with engine.connect() as connection:
            frame = pd.read_sql(
                text("SELECT o.customer_id, l.amount_minor FROM order_lines l JOIN orders o ON o.id = l.order_id "
                     "WHERE o.status = 'completed'"),
                connection,
            )  # fmt: skip
        frame["points"] = frame["amount_minor"] * 1 // 10000
        result = int(frame.groupby("customer_id")["points"].sum().sum())
    seconds = time.perf_counter() - began
    engine.dispose()
    queue.put((name, seconds, _peak_mb(), result))


def run(name: str, url: str, folder: str, customers: int) -> tuple[float, float, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=phase, args=(name, url, folder, customers, queue))
    process.start()
    _, seconds, peak, result = queue.get()
    process.join()
    return seconds, peak, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    from tests.pg import throwaway_cluster

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        write_orders(Path(folder) / "orders.csv", args.lines, args.customers)
        print(f"{args.lines:,} order lines, {args.customers:,} customers: CSV written in "
              f"{time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        for backend in args.backends.split(","):
            if backend == "sqlite":
                measure("sqlite", f"sqlite:///{folder}/bench.db", folder, args)
            else:
                with throwaway_cluster() as pg_url:
                    if pg_url is None:
                        print("postgresql: no server binaries; skipped")
                        continue
                    measure("postgresql", pg_url, folder, args)


def measure(backend: str, url: str, folder: str, args: argparse.Namespace) -> None:
    run("setup", url, folder, args.customers)
    figures: dict[str, tuple[float, float, Any]] = {}
    for name in ("import", "earn", "again", "check", "sql", "pandas"):
        figures[name] = run(name, url, folder, args.customers)
        seconds, peak, result = figures[name]
        print(f"  {backend} {name:>7}: {seconds:8.1f} s  peak {peak:6.0f} MB  {result}  "
              f"(load average {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
    orders, entries, earned = figures["earn"][2]
    earn_s, sql_s, pandas_s = figures["earn"][0], figures["sql"][0], figures["pandas"][0]
    print(f"  {backend}: earning {args.lines / earn_s:,.0f} lines/s ({orders:,} orders, {entries:,} entries, "
          f"{earned:,} points); {earn_s / sql_s:,.0f}× the plain SQL, {earn_s / pandas_s:,.1f}× pandas; "
          f"same total: SQL {figures['sql'][2] == earned}, pandas {figures['pandas'][2] == earned}; "
          f"again: {figures['again'][2][1]} entries; check: {figures['check'][2]} differences")  # fmt: skip


if __name__ == "__main__":
    main()
