"""Survey responses accepted per second over HTTP on loopback, with concurrent clients.

    python bench/survey_ingest.py [--seconds 20] [--concurrency 32] [--backends sqlite,postgresql]

The server (one uvicorn process) and the load generator share this machine's two cores. The load generator is
wrk (Debian package ``wrk``, written in C, so it takes little of the CPU the server needs), driven by
``bench/ingest.lua``; without wrk, a slower asyncio + httpx client is used. Each request is a complete relationship-NPS response with a unique client key. After the
run the database is counted: every accepted response must be there exactly once. The baseline is what an
integrator might hand-write: a bare Starlette endpoint that inserts the raw JSON into one table with no
validation, no authentication and no idempotency, on the same server settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COMMENTS = [
    "送貨很快，茶很好喝",
    "包裝破損",
    "价格有点贵",
    "Great coffee, friendly staff",
    "客服回覆太慢了",
    "",
]


def body(index: int, rng: random.Random) -> dict[str, object]:
    score = rng.randint(0, 10)
    answers: dict[str, object] = {
        "nps": score,
        "reason": rng.choice(COMMENTS) or None,
        "value_most": rng.choice(["product_quality", "price_value", "convenience"]),
    }
    if score <= 6:
        answers["went_wrong"] = "送貨太慢"
    return {"survey": "relationship_nps", "client_key": f"bench-{index}", "locale": "zh-TW",
            "customer_id": f"C{rng.randint(1, 500):05d}", "answers": {k: v for k, v in answers.items() if v is not None}}  # fmt: skip


async def load(
    url: str, headers: dict[str, str], total: int, concurrency: int
) -> tuple[list[float], int, float]:
    rng = random.Random(1)
    bodies = [body(i, rng) for i in range(total)]
    latencies: list[float] = []
    failures = 0
    queue = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal failures
            for index in queue:
                started = time.perf_counter()
                answer = await client.post("/api/v1/responses", json=bodies[index])
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    failures += 1
                    if failures <= 3:
                        print("  failed:", answer.status_code, answer.text[:200], file=sys.stderr)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, failures, elapsed


def run_wrk(port: int, key: str, seconds: int, concurrency: int) -> tuple[int, int, float, float, float]:
    """(accepted, failed, p50 ms, p99 ms, seconds) from one wrk run with one load thread."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(ROOT / "bench" / "ingest.lua"),
         f"http://127.0.0.1:{port}", "--", key],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    ok, bad, p50, p99, elapsed = line.split()[1:]
    return int(ok), int(bad), float(p50), float(p99), float(elapsed)


def prepare(url: str, var: Path) -> str:
    """Schema, a workspace with 500 customers, the NPS survey and an API key; returns the key."""
    env = {**os.environ, "PATRON_DATABASE_URL": url, "PATRON_VAR_DIR": str(var)}
    code = """
import csv, sys
from pathlib import Path
from patron.core import migrate, service
from patron.core.db import get_engine, transaction
from patron.importers import import_file
from patron.surveys.service import save_survey, templates
engine = get_engine(); migrate.upgrade(engine)
with transaction() as s:
    ws = service.create_workspace(s, slug="bench", name="bench")
    save_survey(s, workspace_id=ws.id, definition=templates()["relationship_nps"])
    _, key = service.create_api_key(s, workspace_id=ws.id, name="bench")
path = Path(sys.argv[1]) / "customers.csv"
with path.open("w", newline="") as h:
    w = csv.writer(h); w.writerow(["external_id", "name"]); w.writerows([f"C{i:05d}", f"c{i}"] for i in range(1, 501))
import_file(engine, workspace_slug="bench", kind="customers", path=path, rejects_path=False)
print(key)
"""
    out = subprocess.run(
        [sys.executable, "-c", code, str(var)], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


BASELINE_APP = """
import json, os, sqlite3
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
url = os.environ["BASELINE_URL"]
if url.startswith("sqlite"):
    path = url.split("///", 1)[1]
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL"); conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS raw_responses (id INTEGER PRIMARY KEY, body TEXT)")
    def insert(text):
        conn.execute("INSERT INTO raw_responses (body) VALUES (?)", (text,))
else:
    import psycopg
    conn = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    conn.execute("CREATE TABLE IF NOT EXISTS raw_responses (id BIGSERIAL PRIMARY KEY, body TEXT)")
    def insert(text):
        conn.execute("INSERT INTO raw_responses (body) VALUES (%s)", (text,))
async def receive(request):
    text = (await request.body()).decode()
    json.loads(text)
    insert(text)
    return JSONResponse({"ok": True})
app = Starlette(routes=[Route("/api/v1/responses", receive, methods=["POST"])])
"""


def serve(kind: str, url: str, var: Path, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PATRON_DATABASE_URL": url, "PATRON_VAR_DIR": str(var), "BASELINE_URL": url}
    if kind == "patron":
        target = ["patron.web.app:create_app", "--factory"]
    else:
        (var / "baseline_app.py").write_text(BASELINE_APP, encoding="utf-8")
        target = ["baseline_app:app", "--app-dir", str(var)]
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log", "--workers", str(workers if kind == "patron" else 1)],
        env=env,
    )  # fmt: skip
    # Patron's server is given traffic once /readyz says so, as a load balancer would: load started during its
    # start-up work put those pauses into the 99th percentile (docs/benchmarks.md, 2026-12-03 22:22).
    ready = "/readyz" if kind == "patron" else "/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{kind} server did not start")


def count_rows(url: str, var: Path) -> int:
    env = {**os.environ, "PATRON_DATABASE_URL": url, "PATRON_VAR_DIR": str(var)}
    code = (
        "from sqlalchemy import func, select\nfrom patron.core.db import transaction\n"
        "from patron.surveys.models import SurveyResponse\n"
        "with transaction() as s: print(s.scalar(select(func.count()).select_from(SurveyResponse)))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def analysis_lag(url: str, var: Path, timeout: float = 180) -> tuple[int, float | None]:
    """(comments, seconds after the load stopped until every one of them was an analysed feedback item, or None
    if that took longer than ``timeout``): the analysis runs after each group commit, off the replies' path."""
    env = {**os.environ, "PATRON_DATABASE_URL": url, "PATRON_VAR_DIR": str(var)}
    code = f"""
import time
from sqlalchemy import func, select
from patron.core.db import transaction
from patron.feedback.models import FeedbackItem
from patron.surveys.models import SurveyAnswer
started = time.monotonic()
while True:
    with transaction() as s:
        wanted = s.scalar(select(func.count()).where(SurveyAnswer.question_type == "text"))
        done = s.scalar(select(func.count()).where(FeedbackItem.analyzed_with.is_not(None)))
    if done >= wanted or time.monotonic() - started > {timeout}:
        print(wanted, done >= wanted, time.monotonic() - started)
        break
    time.sleep(0.2)
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    wanted, caught_up, seconds = out.stdout.split()
    return int(wanted), float(seconds) if caught_up == "True" else None


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(url: str) -> float:
    """CPU used so far by the PostgreSQL cluster serving ``url``: its postmaster, the children it has reaped and
    the ones alive (backends, WAL writer, …). The server's own CPU per response is half the cost on PostgreSQL."""
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stats[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().split(b"\0"),
                    (entry / "stat").read_text().rsplit(")", 1)[1].split(),
                )
    postmasters = [pid for pid, (argv, _) in stats.items() if b"-p" in argv and port.encode() in argv]
    total = 0.0
    for pid, (_, fields) in stats.items():
        if pid in postmasters:
            total += sum(int(f) for f in fields[11:15]) / ticks
        elif int(fields[1]) in postmasters:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def peak_rss_mb(pid: int) -> float:
    """Peak RSS of the server process and its workers, summed."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000, help="for the httpx client")
    parser.add_argument("--seconds", type=int, default=20, help="for wrk")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1, help="server processes for Patron")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="sample Patron's server with py-spy during the load (collapsed stacks)",
    )
    args = parser.parse_args()
    from tests.pg import free_port, throwaway_cluster

    print(f"{args.requests:,} responses, {args.concurrency} concurrent clients, one server process")
    print(
        f"{'backend':<11}{'server':<10}{'resp/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'failed':>8}{'in db':>8}{'server RSS':>12}{'CPU ms/resp':>13}{'PG ms/resp':>12}"
    )
    with throwaway_cluster() as pg_url:
        for backend in args.backends.split(","):
            if backend == "postgresql" and not pg_url:
                print("postgresql: no server binaries; skipped")
                continue
            for kind in ("baseline", "patron"):
                with tempfile.TemporaryDirectory(prefix="patron-ingest-") as tmp:
                    var = Path(tmp)
                    if backend == "sqlite":
                        url = f"sqlite:///{var / 'bench.db'}"
                    else:
                        assert pg_url
                        url = pg_url
                    key = prepare(url, var) if kind == "patron" else ""
                    if kind == "baseline" and backend == "postgresql":
                        subprocess.run([sys.executable, "-c", f"import psycopg; c = psycopg.connect({url.replace('postgresql+psycopg', 'postgresql')!r}, autocommit=True); c.execute('DROP TABLE IF EXISTS raw_responses')"], check=True)  # fmt: skip
                    port = free_port()
                    server = serve(kind, url, var, port, args.workers)
                    sampler = None
                    if args.profile and kind == "patron" and shutil.which("py-spy"):
                        sampler = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--format", "raw",
                                                    "--threads", "--duration", str(args.seconds), "--rate", "200",
                                                    "--output", f"{args.profile}.{backend}", "--nonblocking"],
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
                    cpu_before = cpu_seconds(server.pid)
                    pg_before = postgres_cpu_seconds(url) if backend == "postgresql" else 0.0
                    try:
                        if shutil.which("wrk"):
                            accepted, failures, p50, p99, elapsed = run_wrk(
                                port, key, args.seconds, args.concurrency
                            )
                        else:
                            latencies, failures, elapsed = asyncio.run(
                                load(
                                    f"http://127.0.0.1:{port}",
                                    {"Authorization": f"Bearer {key}"} if key else {},
                                    args.requests,
                                    args.concurrency,
                                )
                            )
                            cuts = statistics.quantiles(latencies, n=100)
                            accepted, p50, p99 = len(latencies) - failures, cuts[49] * 1000, cuts[98] * 1000
                        cpu_ms = (cpu_seconds(server.pid) - cpu_before) * 1000 / max(accepted, 1)
                        pg_ms = (
                            (postgres_cpu_seconds(url) - pg_before) * 1000 / max(accepted, 1)
                            if backend == "postgresql"
                            else float("nan")
                        )
                        if sampler is not None:
                            sampler.wait(timeout=60)
                        lag = analysis_lag(url, var) if kind == "patron" else None
                        rss = peak_rss_mb(server.pid)
                    finally:
                        server.terminate()
                        server.wait(timeout=30)
                    stored = count_rows(url, var) if kind == "patron" else accepted
                    print(f"{backend:<11}{kind:<10}{accepted / elapsed:>8,.0f}{p50:>8.1f}{p99:>8.1f}"
                          f"{failures:>8}{stored:>8}{rss:>9.0f} MB{cpu_ms:>13.2f}{pg_ms:>12.2f}")  # fmt: skip
                    if kind == "patron" and lag is not None:
                        comments, seconds = lag
                        print(f"  {comments:,} comments: every one analysed "
                              + (f"{seconds:.1f} s after the load stopped" if seconds is not None else "NOT within 180 s"))  # fmt: skip
                    if kind == "patron" and stored < accepted:
                        print(f"  LOST: {accepted - stored} accepted responses are not in the database")
                    elif kind == "patron" and stored > accepted:
                        print(
                            f"  {stored - accepted} stored responses were still in flight when the load generator stopped"
                        )
    print(f"load generator peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
