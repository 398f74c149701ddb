"""Import N order lines from CSV: Patron (validating every row) vs pandas read_csv + to_sql (validating nothing),
both as a dump into a new table ("pandas") and into Patron's own orders and order_lines ("pandas-tables", where
the rows are of use to Patron; on PostgreSQL also "pandas-copy", the same with the COPY method from pandas' docs).

    python bench/import_orders.py [--lines 1000000] [--backends sqlite,postgresql] [--repeat 1]

Each contender runs in a child process of its own so its peak RSS is its own; with ``--repeat N`` each runs N
times, interleaved, and the median run counts (single runs here vary by a second or two). PostgreSQL is a throwaway
cluster from the Debian server binaries (or PATRON_BENCH_POSTGRES_URL). Prints rows/s, the ratios to both pandas
runs and peak memory, and checks that every contender writing into Patron's tables landed the same orders, lines
and sums; writes nothing outside a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LANDED = ("orders", "lines", "total_minor", "amount_minor")
HEADER = ("order_id", "line_no", "customer_id", "ordered_at", "status", "channel", "store", "currency",
          "product_id", "quantity", "unit_price", "discount")  # fmt: skip


def make_files(folder: Path, lines: int, seed: int = 1) -> dict[str, Path]:
    """Customers, products and an orders file of exactly ``lines`` rows (≈2.5 lines an order)."""
    rng = random.Random(seed)
    customers = max(lines // 20, 10)
    paths = {kind: folder / f"{kind}.csv" for kind in ("customers", "products", "orders")}
    with paths["customers"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("external_id", "name", "email", "city"))
        writer.writerows((f"C{i:07d}", f"顧客{i}", f"c{i}@example.com", "臺北市") for i in range(customers))
    with paths["products"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("external_id", "name", "category", "price"))
        writer.writerows((f"P{i:04d}", f"商品{i}", f"cat{i % 8}", 100 + i) for i in range(200))
    with paths["orders"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        written, order = 0, 0
        while written < lines:
            order += 1
            customer = f"C{rng.randrange(customers):07d}"
            when = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+08:00"
            channel = rng.choice(("web", "app", "store"))
            store = "臺北信義店" if channel == "store" else ""
            for line_no in range(1, min(rng.randint(1, 4), lines - written) + 1):
                price = 100 + rng.randrange(200)
                writer.writerow((f"O{order:08d}", line_no, customer, when, "completed", channel, store, "TWD",
                                 f"P{rng.randrange(200):04d}", rng.randint(1, 3), f"{price}.00", "0"))  # fmt: skip
                written += 1
    return paths


def _database(backend: str, folder: Path, pg_url: str | None) -> str:
    """A new SQLite file for each run, so no run writes into another's tables; one PostgreSQL database."""
    if backend == "sqlite":
        for stale in folder.glob("bench.db*"):
            stale.unlink()
        return f"sqlite:///{folder / 'bench.db'}"
    assert pg_url
    return pg_url


def run_patron(url: str, paths: dict[str, Path]) -> dict[str, float]:
    from patron.importers import import_file

    engine, workspace_id, slug = _workspace_with_people_and_products(url, "bench", paths)
    started = time.perf_counter()
    report = import_file(engine, workspace_slug=slug, kind="orders", path=paths["orders"], rejects_path=False)
    elapsed = time.perf_counter() - started
    assert report.rejected == 0, report.errors[:3]
    return {"seconds": elapsed, "rows": report.inserted, **_landed(engine, workspace_id)}


def run_pandas(url: str, paths: dict[str, Path]) -> dict[str, float]:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url)
    table = f"pandas_orders_{int(time.time() * 1000) % 10**9}"
    started = time.perf_counter()
    rows = 0
    for chunk in pd.read_csv(paths["orders"], chunksize=100_000, dtype={"store": "string"}):
        chunk.to_sql(table, engine, if_exists="append", index=False, chunksize=10_000)
        rows += len(chunk)  # to_sql reports -1 on psycopg
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows": rows}


def run_pandas_tables(url: str, paths: dict[str, Path], method: Any = None) -> dict[str, float]:
    """What a pandas user writes to land the same rows where Patron can use them: its own tables. read_csv, ids
    looked up by ``map``, one row an order by ``groupby``, then ``to_sql`` into orders, their new ids read back,
    and ``to_sql`` into order_lines, in one transaction. Validates nothing, and appends (a second run fails on
    the unique keys instead of updating)."""
    import pandas as pd
    from sqlalchemy import text

    engine, workspace_id, _ = _workspace_with_people_and_products(url, "pandas-tables", paths)
    started = time.perf_counter()
    codes = {"order_id": "string", "customer_id": "string", "product_id": "string", "store": "string"}
    df = pd.read_csv(paths["orders"], dtype=codes)
    with engine.begin() as connection:
        ids = {
            table: pd.read_sql(text(f"SELECT external_id, id FROM {table} WHERE workspace_id = :w"), connection,
                               params={"w": workspace_id}, index_col="external_id")["id"]
            for table in ("customers", "products")
        }  # fmt: skip
        unit = (df["unit_price"] * 100).round().astype("int64")
        discount = (df["discount"] * 100).round().astype("int64")
        df["amount_minor"] = unit * df["quantity"] - discount
        ordered_at = pd.to_datetime(df["ordered_at"], utc=True)
        df["ordered_at"] = ordered_at.dt.tz_localize(None) if engine.dialect.name == "sqlite" else ordered_at
        df["customer_id"] = df["customer_id"].map(ids["customers"])
        orders = (
            df.groupby("order_id", sort=False)
            .agg(
                customer_id=("customer_id", "first"), ordered_at=("ordered_at", "first"),
                status=("status", "first"), channel=("channel", "first"), store=("store", "first"),
                currency=("currency", "first"), total_minor=("amount_minor", "sum"),
            )
            .reset_index()
            .rename(columns={"order_id": "external_id"})
        )  # fmt: skip
        now = pd.Timestamp.now(tz="UTC")
        orders = orders.assign(workspace_id=workspace_id, created_at=now, updated_at=now)
        orders.to_sql("orders", connection, if_exists="append", index=False, chunksize=10_000, method=method)
        order_ids = pd.read_sql(
            text("SELECT external_id, id FROM orders WHERE workspace_id = :w"), connection,
            params={"w": workspace_id}, index_col="external_id",
        )["id"]  # fmt: skip
        lines = pd.DataFrame(
            {
                "workspace_id": workspace_id, "order_id": df["order_id"].map(order_ids), "line_no": df["line_no"],
                "product_id": df["product_id"].map(ids["products"]), "quantity": df["quantity"],
                "unit_price_minor": unit, "discount_minor": discount, "amount_minor": df["amount_minor"],
            }
        )  # fmt: skip
        lines.to_sql(
            "order_lines", connection, if_exists="append", index=False, chunksize=10_000, method=method
        )
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows": len(lines), **_landed(engine, workspace_id)}


def run_pandas_copy(url: str, paths: dict[str, Path]) -> dict[str, float]:
    """pandas-tables with the ``COPY`` insert method from the pandas documentation (PostgreSQL only): what a user
    who knows PostgreSQL well writes."""
    return run_pandas_tables(url, paths, method=_copy_rows)


def _copy_rows(table: Any, connection: Any, keys: list[str], rows: Any) -> None:
    """``psql_insert_copy`` from the pandas ``to_sql`` documentation, on psycopg 3."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    columns = ", ".join(f'"{key}"' for key in keys)
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN WITH CSV") as copy,
    ):
        copy.write(buffer.getvalue())


def _workspace_with_people_and_products(url: str, name: str, paths: dict[str, Path]) -> tuple[Any, int, str]:
    """A new workspace with the benchmark's customers and products imported (untimed)."""
    from patron.core import migrate
    from patron.core.db import make_engine, transaction
    from patron.core.service import create_workspace
    from patron.importers import import_file

    engine = make_engine(url)
    migrate.upgrade(engine)
    slug = f"{name}-{int(time.time() * 1000) % 10**9}"
    with transaction(engine) as session:
        workspace_id = create_workspace(session, slug=slug, name=name).id
    for kind in ("customers", "products"):
        import_file(engine, workspace_slug=slug, kind=kind, path=paths[kind], rejects_path=False)
    return engine, workspace_id, slug


def _landed(engine: Any, workspace_id: int) -> dict[str, float]:
    """What a contender left in Patron's tables, so the bench can check that they all landed the same."""
    from sqlalchemy import text

    with engine.connect() as connection:
        orders, total = connection.execute(
            text("SELECT count(*), sum(total_minor) FROM orders WHERE workspace_id = :w"), {"w": workspace_id}
        ).one()
        lines, amount = connection.execute(
            text("SELECT count(*), sum(amount_minor) FROM order_lines WHERE workspace_id = :w"),
            {"w": workspace_id},
        ).one()
    return dict(zip(LANDED, (orders, lines, int(total or 0), int(amount or 0)), strict=True))


def run_floor(url: str, paths: dict[str, Path]) -> dict[str, float]:
    """What only writing the rows costs: the file's rows, read untimed and trusted as valid, inserted into Patron's
    real tables (orders, then lines, with their indexes and foreign keys) by plain SQL in one transaction —
    executemany on SQLite, COPY on PostgreSQL — with no parsing, checks, upserts or rejects. The clock covers
    only the writes, so Patron, which also reads and validates the file, cannot beat it."""
    from sqlalchemy import text

    engine, workspace_id, _ = _workspace_with_people_and_products(url, "floor", paths)
    with engine.begin() as connection:
        ids = {
            table: dict(connection.execute(text(f"SELECT external_id, id FROM {table} WHERE workspace_id = :w"), {"w": workspace_id}).all())
            for table in ("customers", "products")
        }  # fmt: skip
        now = "2026-01-01 00:00:00"
        orders: dict[str, tuple[object, ...]] = {}
        lines: list[tuple[str, int, int, int, int]] = []
        with paths["orders"].open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                amount = int(float(row["unit_price"]) * 100) * int(row["quantity"])
                orders.setdefault(row["order_id"], (workspace_id, row["order_id"], ids["customers"][row["customer_id"]],
                                  row["ordered_at"], row["status"], row["channel"], row["store"] or None, row["currency"], 0, now, now))  # fmt: skip
                lines.append(
                    (
                        row["order_id"],
                        int(row["line_no"]),
                        ids["products"][row["product_id"]],
                        int(row["quantity"]),
                        amount,
                    )
                )
        started = time.perf_counter()
        columns = "workspace_id, external_id, customer_id, ordered_at, status, channel, store, currency, total_minor, created_at, updated_at"
        _bulk_insert(connection, "orders", columns, list(orders.values()))
        order_ids = dict(
            connection.execute(
                text("SELECT external_id, id FROM orders WHERE workspace_id = :w"), {"w": workspace_id}
            ).all()
        )
        rows = [(workspace_id, order_ids[o], n, p, q, a // q, 0, a) for o, n, p, q, a in lines]
        _bulk_insert(
            connection,
            "order_lines",
            "workspace_id, order_id, line_no, product_id, quantity, unit_price_minor, discount_minor, amount_minor",
            rows,
        )
    return {"seconds": time.perf_counter() - started, "rows": len(lines)}  # the commit included


def _bulk_insert(connection: Any, table: str, columns: str, rows: list[tuple[object, ...]]) -> None:
    if connection.dialect.name == "postgresql":
        with (
            connection.connection.driver_connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns.split(","))
    connection.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


CONTENDERS: dict[str, Callable[[str, dict[str, Path]], dict[str, float]]] = {
    "patron": run_patron,
    "pandas": run_pandas,
    "pandas-tables": run_pandas_tables,
    "pandas-copy": run_pandas_copy,
    "floor": run_floor,
}


def child(args: argparse.Namespace) -> None:
    paths = {kind: Path(args.folder) / f"{kind}.csv" for kind in ("customers", "products", "orders")}
    result = CONTENDERS[args.contender](args.url, paths)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(contender: str, url: str, folder: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", contender, "--url", url, "--folder", str(folder)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contender; the median counts")
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.child:
        args.contender = args.child
        child(args)
        return
    import os

    from tests.pg import throwaway_cluster

    with tempfile.TemporaryDirectory(prefix="patron-bench-") as tmp, throwaway_cluster() as started_pg:
        folder = Path(tmp)
        made = time.perf_counter()
        make_files(folder, args.lines)
        size_mb = (folder / "orders.csv").stat().st_size / 1e6
        print(
            f"orders.csv: {args.lines:,} lines, {size_mb:.0f} MB (generated in {time.perf_counter() - made:.1f} s)"
        )
        pg_url = os.environ.get("PATRON_BENCH_POSTGRES_URL") or started_pg
        print(
            f"{'backend':<11}{'contender':<14}{'seconds':>9}{'rows/s':>11}{'peak RSS':>10}  ratio vs pandas, vs pandas-tables"
        )
        for backend in args.backends.split(","):
            if backend == "postgresql" and not pg_url:
                print("postgresql: no server binaries; skipped")
                continue
            contenders = ("pandas", "pandas-tables", *(("pandas-copy",) if backend == "postgresql" else ()), "floor",
                          "patron")  # fmt: skip
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
            for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits every contender
                for name in contenders:
                    runs[name].append(measure(name, _database(backend, folder, pg_url), folder))
            results = {
                name: sorted(done, key=lambda r: r["seconds"])[len(done) // 2] for name, done in runs.items()
            }
            base, tables = (results[n]["rows"] / results[n]["seconds"] for n in ("pandas", "pandas-tables"))
            for name, result in results.items():
                rate = result["rows"] / result["seconds"]
                ratio = f"{rate / base:.2f}×, {rate / tables:.2f}×"
                spread = (
                    ""
                    if args.repeat == 1
                    else "  runs: " + " ".join(f"{r['seconds']:.2f}" for r in runs[name])
                )
                print(
                    f"{backend:<11}{name:<14}{result['seconds']:>9.2f}{rate:>11,.0f}{result['peak_rss_mb']:>8.0f} MB  {ratio}{spread}"
                )
            landed = {
                name: tuple(result[k] for k in LANDED)
                for name, result in results.items()
                if "orders" in result
            }
            same = "the same" if len(set(landed.values())) == 1 else "DIFFERENT"
            print(f"{backend:<11}orders, lines, Σ totals, Σ amounts landed: {same} {landed}")


if __name__ == "__main__":
    main()
