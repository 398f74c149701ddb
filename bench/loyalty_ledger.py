"""Loyalty ledger operations per second, earn and redeem mixed, from concurrent clients through the service.

    python bench/loyalty_ledger.py [--ops 4000] [--clients 16] [--members 200] [--backends sqlite,postgresql]
                                   [--import-lines 100000] [--http [--seconds 10]] [--alone]

Each client is a thread that hands one operation at a time to the process's group committer and waits for its
reply, as an API request does (``loyalty.grouped``: the operations waiting are written in one transaction,
set-wise): half earn (a manual credit of 1–50 points, which fills a lot and repays any debt), half redeem (1–50
points from the lots expiring first, refused when short), on members drawn at random, each with a unique
idempotency key. ``--alone`` also runs the mix with one transaction per operation (before group commit). The
baseline is what one might hand-write: one plain ``INSERT`` of a (member, points, key) row per transaction, no
lock, no lots, no balance. After the run the ledger is checked (``service.check``): zero differences, exactly
one entry per accepted operation, no negative balance. PostgreSQL is a throwaway cluster (tests/pg.py)."""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from patron.core import migrate  # noqa: E402
from patron.core import service as core_service  # noqa: E402
from patron.core.db import get_group_engine, make_engine, set_engine, transaction  # noqa: E402
from patron.core.errors import PatronError  # noqa: E402
from patron.core.groupcommit import GroupCommitter  # noqa: E402
from patron.customers.models import Customer  # noqa: E402
from patron.loyalty import grouped, service  # noqa: E402
from patron.loyalty.models import Entry, Member  # noqa: E402
from patron.loyalty.schemas import EarnRuleCreate, ProgramUpdate  # noqa: E402


def engine_for(url: str, clients: int) -> Engine:
    if url.startswith("sqlite"):
        return make_engine(url)  # the process's writer queue is the point on SQLite
    return create_engine(url, pool_size=clients, max_overflow=4, pool_pre_ping=True)


def setup(engine: Engine, members: int) -> str:
    migrate.upgrade(engine)
    with transaction(engine) as session:
        ws = core_service.create_workspace(session, slug="bench-loyalty", name="bench")
        session.flush()
        session.add_all(Customer(workspace_id=ws.id, external_id=f"M{i:05d}") for i in range(members))
        service.set_program(session, workspace=ws, data=ProgramUpdate())
        service.add_rule(
            session, workspace=ws, data=EarnRuleCreate(currency="TWD", points_per_unit=1, per_amount="100")
        )
        for i in range(members):
            service.adjust(session, workspace=ws, customer_external_id=f"M{i:05d}", points=100, reason="start",
                           idempotency_key=f"start-{i}", actor="bench")  # fmt: skip
        return ws.slug


def run(
    clients: int, ops: int, work: Callable[[int, random.Random], str]
) -> tuple[float, dict[str, int], list[float]]:
    counts: dict[str, int] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = ops // clients

    def client(number: int) -> None:
        rng = random.Random(number)
        mine: dict[str, int] = {}
        times: list[float] = []
        for i in range(per_client):
            began = time.perf_counter()
            outcome = work(number * per_client + i, rng)
            times.append(time.perf_counter() - began)
            mine[outcome] = mine.get(outcome, 0) + 1
        with lock:
            for key, value in mine.items():
                counts[key] = counts.get(key, 0) + value
            latencies.extend(times)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, counts, latencies


def ledger(engine: Engine, slug: str, members: int, clients: int, ops: int, *, alone: bool = False) -> None:
    """The mix through the service: by default each operation handed to a group committer (as the API does),
    which writes every operation waiting in one transaction, set-wise (``loyalty.grouped``); with ``alone``,
    each operation in its own transaction (as before group commit)."""
    with transaction(engine) as session:
        ws = core_service.get_workspace(session, slug)
        session.expunge(ws)
    prefix = "alone-" if alone else "op-"
    # The committer's engine is the API's (``core.db.get_group_engine``: on PostgreSQL a pool that does not ping
    # a connection each time it is taken, a round trip fewer a group).
    set_engine(engine)
    committer = GroupCommitter(get_group_engine)
    committer.together(grouped.operation, grouped.operations, savepoint=False, single=True)  # as the API

    def work(index: int, rng: random.Random) -> str:
        customer = f"M{rng.randrange(members):05d}"
        kind = grouped.ADJUST if index % 2 else grouped.REDEEM
        request = {"workspace": ws, "kind": kind, "customer_external_id": customer, "points": rng.randint(1, 50),
                   "reason": "earn" if index % 2 else "redeem", "idempotency_key": f"{prefix}{index}",
                   "actor": "bench"}  # fmt: skip
        try:
            if alone:
                with transaction(engine) as session:
                    grouped.operation(session, **request)
            else:
                committer.submit(grouped.operation, **request).result()
        except PatronError as error:
            return error.code
        return "earned" if index % 2 else "redeemed"

    try:
        elapsed, counts, latencies = run(clients, ops, work)
    finally:
        committer.close()
    done = sum(counts.values())
    with transaction(engine) as session:
        report = service.check(session, workspace_id=ws.id)
        entries = session.scalar(
            select(func.count()).where(Entry.workspace_id == ws.id, Entry.idempotency_key.like(f"{prefix}%"))
        )
        negative = session.scalar(select(func.count()).where(Member.workspace_id == ws.id, Member.points < 0))
    accepted = counts.get("earned", 0) + counts.get("redeemed", 0)
    label = "service, a transaction each" if alone else "service, group commit"
    print(f"  {label}: {done / elapsed:,.0f} ops/s ({done} in {elapsed:.1f} s, p50 {1000 * statistics.median(latencies):.1f} ms, "
          f"p99 {1000 * sorted(latencies)[int(len(latencies) * 0.99)]:.1f} ms) {counts}")  # fmt: skip
    print(f"  check: {len(report.differences)} differences; entries {entries} for {accepted} accepted "
          f"(lost or doubled: {abs(int(entries or 0) - accepted)}); negative balances {negative}")  # fmt: skip


def baseline(engine: Engine, members: int, clients: int, ops: int) -> float:
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_points"))
        connection.execute(text("CREATE TABLE bench_points (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL, "
                                "points INTEGER NOT NULL, key VARCHAR(200) NOT NULL UNIQUE)"))  # fmt: skip
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("CREATE SEQUENCE IF NOT EXISTS bench_points_id"))
            connection.execute(
                text("ALTER TABLE bench_points ALTER COLUMN id SET DEFAULT nextval('bench_points_id')")
            )
    statement = text("INSERT INTO bench_points (member_id, points, key) VALUES (:m, :p, :k)")

    def work(index: int, rng: random.Random) -> str:
        with engine.begin() as connection:
            connection.execute(
                statement, {"m": rng.randrange(members), "p": rng.randint(-50, 50), "k": f"op-{index}"}
            )
        return "inserted"

    elapsed, counts, _ = run(clients, ops, work)
    rate = sum(counts.values()) / elapsed
    print(f"  plain SQL inserts: {rate:,.0f} ops/s")
    return rate


def import_and_earn(engine: Engine, folder: str, lines: int) -> None:
    """An orders import of ``lines`` lines (two a order, 5,000 customers) with no program, then the sync that
    earns their points, then the sync again (nothing left to do)."""
    import csv

    from patron.importers import import_file
    from patron.loyalty import orders

    migrate.upgrade(engine)
    with transaction(engine) as session:
        ws = core_service.create_workspace(session, slug=f"bench-earn-{lines}", name="bench")
        session.flush()
        session.add_all(Customer(workspace_id=ws.id, external_id=f"E{i:05d}") for i in range(5000))
        session.expunge(ws)
    path = Path(folder) / f"orders-{lines}.csv"
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "line_no", "customer_id", "ordered_at", "status", "quantity", "unit_price"])
        for i in range(lines // 2):
            customer, day = f"E{rng.randrange(5000):05d}", 1 + i * 300 // (lines // 2)
            at = f"2026-{1 + day // 31:02d}-{1 + day % 28:02d}T12:00:00+08:00"
            for line in (1, 2):
                out.writerow(
                    [
                        f"B{i}",
                        line,
                        customer,
                        at,
                        "completed",
                        rng.randint(1, 3),
                        rng.choice(["120", "680", "99.5"]),
                    ]
                )
    began = time.perf_counter()
    import_file(engine, workspace_slug=ws.slug, kind="orders", path=path, rejects_path=False)
    imported = time.perf_counter() - began
    with transaction(engine) as session:
        service.set_program(session, workspace=ws, data=ProgramUpdate())
        service.add_rule(session, workspace=ws, data=EarnRuleCreate(
            effective_from="2025-01-01T00:00:00+08:00", currency="TWD", points_per_unit=1, per_amount="100"))  # type: ignore[arg-type]  # fmt: skip
    began = time.perf_counter()
    with transaction(engine) as session:
        report = orders.sync_orders(session, workspace=ws)
    earned = time.perf_counter() - began
    began = time.perf_counter()
    with transaction(engine) as session:
        again = orders.sync_orders(session, workspace=ws)
    idle = time.perf_counter() - began
    with transaction(engine) as session:
        differences = len(service.check(session, workspace_id=ws.id).differences)
    print(f"  {lines:,} order lines: import {imported:.1f} s; earning {earned:.1f} s ({report.orders:,} orders, "
          f"{report.entries:,} entries, {report.earned:,} points; {lines / earned:,.0f} lines/s); "
          f"again {idle:.1f} s ({again.entries} entries); check: {differences} differences")  # fmt: skip


def over_http(engine: Engine, url: str, folder: str, slug: str, members: int, clients: int, ops: int,
              seconds: int) -> None:  # fmt: skip
    """The same mix over the REST API: one uvicorn process (bench/survey_ingest.py's launcher) and ``clients``
    concurrent connections from wrk (``bench/loyalty_ledger.lua``, ``seconds`` long), or, without wrk, ``ops``
    requests from asyncio + httpx in this process (a Python client on the same two cores: it measured 150–170
    requests/s even for ``GET /program``, where wrk measured 450)."""
    import asyncio

    import httpx
    from bench.survey_ingest import serve
    from tests.pg import free_port

    with transaction(engine) as session:
        ws = core_service.get_workspace(session, slug)
        _, key = core_service.create_api_key(session, workspace_id=ws.id, name="bench")
        workspace_id = ws.id
    port = free_port()
    server = serve("patron", url, Path(folder), port)
    if shutil.which("wrk"):
        try:
            out = subprocess.run(
                ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s",
                 str(ROOT / "bench" / "loyalty_ledger.lua"), f"http://127.0.0.1:{port}", "--", key, str(members)],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
        line = next(line for line in out.splitlines() if line.startswith("RESULT"))
        ok, refused, other = (int(n) for n in line.split()[1:4])
        p50, p99, elapsed = (float(n) for n in line.split()[4:])
        with transaction(engine) as session:
            report = service.check(session, workspace_id=workspace_id)
            entries = session.scalar(
                select(func.count()).where(
                    Entry.workspace_id == workspace_id, Entry.idempotency_key.like("wrk-%")
                )
            )
        done = ok + refused + other
        print(f"  HTTP (wrk): {done / elapsed:,.0f} ops/s ({done} in {elapsed:.1f} s, p50 {p50:.1f} ms, p99 {p99:.1f} ms); "
              f"200: {ok}, 409: {refused}, other: {other}; check: {len(report.differences)} differences; "
              f"entries {entries} for {ok} accepted (at most {clients} more: in flight when wrk stopped)")  # fmt: skip
        return
    counts: dict[int, int] = {}
    latencies: list[float] = []

    async def load() -> float:
        queue = iter(range(ops))
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key},
                                     limits=limits, timeout=60) as client:  # fmt: skip

            async def worker(number: int) -> None:
                rng = random.Random(1000 + number)
                for index in queue:
                    customer = f"M{rng.randrange(members):05d}"
                    kind = "adjust" if index % 2 else "redeem"
                    body = {"points": rng.randint(1, 50), "reason": kind, "idempotency_key": f"http-{index}"}
                    began = time.perf_counter()
                    answer = await client.post(f"/api/v1/loyalty/members/{customer}/{kind}", json=body)
                    latencies.append(time.perf_counter() - began)
                    counts[answer.status_code] = counts.get(answer.status_code, 0) + 1

            began = time.perf_counter()
            await asyncio.gather(*(worker(n) for n in range(clients)))
            return time.perf_counter() - began

    try:
        elapsed = asyncio.run(load())
    finally:
        server.terminate()
        server.wait(timeout=30)
    with transaction(engine) as session:
        report = service.check(session, workspace_id=workspace_id)
        entries = session.scalar(
            select(func.count()).where(
                Entry.workspace_id == workspace_id, Entry.idempotency_key.like("http-%")
            )
        )
    latencies.sort()
    print(f"  HTTP: {ops / elapsed:,.0f} ops/s ({ops} in {elapsed:.1f} s, p50 {1000 * latencies[len(latencies) // 2]:.1f} ms, "
          f"p99 {1000 * latencies[int(len(latencies) * 0.99)]:.1f} ms) by status {counts}; check: "
          f"{len(report.differences)} differences; entries {entries} for {counts.get(200, 0)} accepted")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--import-lines", type=int, default=0, help="Also time earning for an import this big"
    )
    parser.add_argument("--http", action="store_true", help="Also run the mix over the REST API")
    parser.add_argument("--seconds", type=int, default=10, help="How long wrk runs the mix over HTTP")
    parser.add_argument(
        "--alone",
        action="store_true",
        help="Also run the mix with a transaction per operation (no group commit)",
    )
    args = parser.parse_args()
    from tests.pg import throwaway_cluster

    with tempfile.TemporaryDirectory() as folder, throwaway_cluster() as pg_url:
        for backend in args.backends.split(","):
            url = f"sqlite:///{folder}/bench.db" if backend == "sqlite" else pg_url
            if url is None:
                print(f"{backend}: no server binaries; skipped")
                continue
            engine = engine_for(url, args.clients)
            print(f"{backend}: {args.clients} clients, {args.ops} operations, {args.members} members")
            if args.ops:
                slug = setup(engine, args.members)
                if args.alone:
                    ledger(engine, slug, args.members, args.clients, args.ops, alone=True)
                ledger(engine, slug, args.members, args.clients, args.ops)
                baseline(engine, args.members, args.clients, args.ops)
                if args.http:
                    over_http(engine, url, folder, slug, args.members, args.clients, args.ops, args.seconds)
            if args.import_lines:
                import_and_earn(engine, folder, args.import_lines)
            engine.dispose()


if __name__ == "__main__":
    main()
