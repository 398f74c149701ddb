"""Server time of the dashboard's overview page on SQLite: the demo workspace and a workspace with 1,000,000
survey responses, next to the hand-written SQL a developer would otherwise run for the same numbers.

    python bench/dashboard.py [--responses 1000000] [--requests 30] [--only demo|large]

"After a new response" is the median of three requests each made just after one more response was stored
(the cached daily roll-up recounts that day, dashboard/rollup.py); "after a customer change" of three made
just after one customer row changed (a segment may have: the days of that customer's responses and
invitations are recounted); "after a full recount" of three made just after a survey row changed (a key may
have: everything is recounted). That is what the first visitor after new data waits. Before timing, every
row's ``updated_at`` is set back one day ("loaded yesterday"): rows changed in the five minutes before a
count are looked at again (dashboard/rollup.py, LATE_COMMIT), so right after an import the next view
recounts as much as the import touched.

Each workspace lives in its own fresh SQLite file and is measured in its own process (so peak RSS is per
workspace). The page is requested in-process through the ASGI app (TestClient, logged in): the time is the
server's, from request to rendered HTML, without a network. Two warm-up requests are not counted.

The baseline ("plain SQL") computes only the raw numbers of the page's headline tiles (NPS, CSAT, CES and
response-rate counts for the period and the previous one, plus the monthly NPS/CSAT/CES trend) in three
hand-written SQLite statements: no intervals, significance, segments, rendering or charts.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
PASSWORD = "bench password 123"
EMAIL = "admin@bench.example.com"

# One response per row of a recursive sequence; a multiplicative hash makes the spread deterministic.
GENERATE = {
    "customers": """
        WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :customers)
        INSERT INTO customers (workspace_id, external_id, name, locale, city, segment, consent_email, consent_sms,
                               consent_surveys,
                               created_at, updated_at)
        SELECT :ws, 'B' || i, 'bench ' || i, 'zh-Hant',
               CASE i % 5 WHEN 0 THEN '臺北市' WHEN 1 THEN '新北市' WHEN 2 THEN '臺中市' WHEN 3 THEN '臺南市' ELSE '高雄市' END,
               CASE WHEN i % 10 < 2 THEN 'vip' WHEN i % 10 < 8 THEN 'member' ELSE 'new' END, 1, 0, 1, :now, :now
        FROM seq""",
    "responses": """
        WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :responses)
        INSERT INTO survey_responses (id, workspace_id, survey_id, survey_version, customer_id, touchpoint, channel,
                                      locale, status, publish_consent, started_at, completed_at, created_at, updated_at)
        SELECT i, :ws, CASE WHEN i % 20 < 6 THEN :nps WHEN i % 20 < 17 THEN :csat ELSE :ces END, 1,
               :first_customer + (i * 2654435761) % :customers,
               CASE WHEN i % 20 < 6 THEN 'relationship' WHEN i % 20 < 17 THEN 'post_purchase' ELSE 'support_closed' END,
               'email', 'zh-Hant', 'completed', 0, t, t, t, t
        FROM (SELECT i, datetime(:start, '+' || ((i * 40503) % :seconds) || ' seconds') AS t FROM seq)""",
    "answers": """
        INSERT INTO survey_answers (workspace_id, response_id, survey_id, question_key, question_type, item_key, score)
        SELECT workspace_id, id, survey_id, q, q,  '',
               CASE q WHEN 'nps' THEN (id * 7919) % 11 WHEN 'csat' THEN 1 + (id * 7919) % 5 ELSE 1 + (id * 7919) % 7 END
        FROM (SELECT id, workspace_id, survey_id,
                     CASE survey_id WHEN :nps THEN 'nps' WHEN :csat THEN 'csat' ELSE 'ces' END AS q
              FROM survey_responses WHERE workspace_id = :ws)""",
    "invitations": """
        WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :invitations)
        INSERT INTO survey_invitations (workspace_id, survey_id, customer_id, subject, touchpoint, nonce, locale, status,
                                        send_after, expires_at, sent_at, answered_at, created_at, updated_at)
        SELECT :ws, CASE WHEN i % 20 < 6 THEN :nps WHEN i % 20 < 17 THEN :csat ELSE :ces END,
               :first_customer + (i * 2654435761) % :customers, 'bench ' || i, 'post_purchase', 'bench' || i,
               'zh-Hant', CASE WHEN i % 2 = 0 THEN 'answered' ELSE 'sent' END, t, t, t,
               CASE WHEN i % 2 = 0 THEN t END, t, t
        FROM (SELECT i, datetime(:start, '+' || ((i * 40503) % :seconds) || ' seconds') AS t FROM seq)""",
}

BASELINE = {
    "tiles": """
        SELECT a.question_type, r.completed_at >= :since AS current, count(*),
               sum(a.score >= 9), sum(a.score <= 6), sum(a.score >= 4), sum(a.score)
        FROM survey_answers a JOIN survey_responses r ON r.id = a.response_id
        WHERE a.workspace_id = :ws AND r.workspace_id = :ws AND r.status = 'completed'
          AND a.question_type IN ('nps', 'csat', 'ces') AND a.score IS NOT NULL
          AND r.completed_at >= :previous AND r.completed_at < :until
        GROUP BY 1, 2""",
    "rate": """
        SELECT sent_at >= :since, count(*), sum(answered_at IS NOT NULL) FROM survey_invitations
        WHERE workspace_id = :ws AND sent_at IS NOT NULL AND sent_at >= :previous AND sent_at < :until GROUP BY 1""",
    "trend": """
        SELECT a.question_type, strftime('%Y-%m', r.completed_at), count(*), sum(a.score >= 9), sum(a.score <= 6),
               sum(a.score >= 4), sum(a.score)
        FROM survey_answers a JOIN survey_responses r ON r.id = a.response_id
        WHERE a.workspace_id = :ws AND r.workspace_id = :ws AND r.status = 'completed'
          AND a.question_type IN ('nps', 'csat', 'ces') AND a.score IS NOT NULL AND r.completed_at >= :trend
        GROUP BY 1, 2""",
}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_large(engine: object, responses: int) -> int:
    from sqlalchemy import Engine, text

    from patron.core import service as core_service
    from patron.core.db import transaction
    from patron.surveys import service as surveys

    assert isinstance(engine, Engine)
    with transaction(engine) as session:
        workspace = core_service.create_workspace(session, slug="bench", name="Bench", industry="retail")
        core_service.create_user(session, workspace_id=workspace.id, email=EMAIL, password=PASSWORD)
        ids = {}
        for key in ("relationship_nps", "post_purchase_csat", "support_ces"):
            survey, _ = surveys.save_survey(
                session, workspace_id=workspace.id, definition=surveys.templates()[key]
            )
            ids[key.split("_")[-1]] = survey.id
        workspace_id = workspace.id
    customers = max(responses // 10, 1000)
    today = datetime.now(UTC).date()
    params = {
        "ws": workspace_id, "customers": customers, "responses": responses, "invitations": 2 * responses,
        "now": datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "), "start": str(today - timedelta(days=730)),
        "seconds": 730 * 86_400, **ids,
    }  # fmt: skip
    with engine.begin() as connection:
        connection.execute(text(GENERATE["customers"]), params)
        params["first_customer"] = connection.execute(
            text("SELECT min(id) FROM customers WHERE workspace_id = :ws"), params
        ).scalar_one()
        for step in ("responses", "answers", "invitations"):
            started = time.perf_counter()
            connection.execute(text(GENERATE[step]), params)
            print(f"  generated {step} in {time.perf_counter() - started:.1f} s", flush=True)
    return workspace_id


def build_demo(engine: object, folder: Path) -> int:
    from sqlalchemy import Engine, select

    from patron.core.db import transaction
    from patron.core.models import Workspace
    from patron.demo.loader import DEMO_ADMIN_EMAIL, load_demo

    assert isinstance(engine, Engine)
    global EMAIL
    EMAIL = DEMO_ADMIN_EMAIL
    load_demo(engine, slug="bench", customers=5_000, seed=20_251_123, end=date.today() - timedelta(days=1),
              admin_password=PASSWORD, data_dir=folder / "demo")  # fmt: skip
    with transaction(engine) as session:
        return int(session.scalars(select(Workspace.id).where(Workspace.slug == "bench")).one())


def time_page(requests: int, database: Path, colds: int = 3) -> dict[str, list[float]]:
    """Warm requests (the data unchanged since the previous one), requests just after a new response (the
    roll-up recounts that day) and just after a customer changed (a segment may have: a full recount)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from patron.core.db import transaction
    from patron.customers.models import Customer
    from patron.surveys import service as surveys
    from patron.surveys.schemas import ResponseSubmit
    from patron.web.app import create_app

    client = TestClient(create_app())
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    landed = client.post("/login", data={"workspace": "bench", "email": EMAIL, "password": PASSWORD,
                                         "csrf": csrf.group(1)})  # fmt: skip
    assert 'data-page="overview"' in landed.text, landed.text[:500]

    def timed() -> float:
        started = time.perf_counter()
        answer = client.get("/dashboard")
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200 and 'data-kpi="nps"' in answer.text
        return elapsed

    with sqlite3.connect(database) as connection:  # the data was loaded yesterday, not a minute ago
        for table in ("customers", "surveys", "survey_responses", "survey_invitations"):
            connection.execute(f"UPDATE {table} SET updated_at = datetime(updated_at, '-1 day')")
    warm = [timed() for _ in range(requests + 2)][2:]
    with transaction() as session:
        workspace_id, customer = session.execute(
            select(Customer.workspace_id, Customer.external_id).limit(1)
        ).one()
    after_response = []
    for index in range(colds):
        with transaction() as session:
            submission = ResponseSubmit(survey="post_purchase_csat", customer_id=customer,
                                        client_key=f"bench-{index}", answers={"csat": 5})  # fmt: skip
            surveys.submit_response(session, workspace_id=workspace_id, submission=submission)
        after_response.append(timed())
    after_customer = []
    for index in range(colds):
        with sqlite3.connect(database) as connection:
            connection.execute(
                "UPDATE customers SET updated_at = ? WHERE id = (SELECT min(id) FROM customers)",
                (f"{datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=index + 1)}",),
            )
        after_customer.append(timed())
    full = []
    for index in range(colds):
        with sqlite3.connect(
            database
        ) as connection:  # a survey's key may have changed: everything is recounted
            connection.execute(
                "UPDATE surveys SET updated_at = ? WHERE id = (SELECT min(id) FROM surveys)",
                (f"{datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=index + 1)}",),
            )
        full.append(timed())
    return {"warm": warm, "response": after_response, "customer": after_customer, "full": full}


def time_baseline(path: Path, workspace_id: int, requests: int) -> list[float]:
    today = datetime.now(UTC).date()
    since = today - timedelta(days=89)
    params = {"ws": workspace_id, "since": f"{since} 00:00:00", "previous": f"{since - timedelta(days=90)} 00:00:00",
              "until": f"{today + timedelta(days=1)} 00:00:00", "trend": f"{today.replace(day=1) - timedelta(days=335)}"}  # fmt: skip
    connection = sqlite3.connect(path)
    times = []
    for index in range(requests + 2):
        started = time.perf_counter()
        for statement in BASELINE.values():
            connection.execute(statement, params).fetchall()
        if index >= 2:
            times.append(time.perf_counter() - started)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def child(kind: str, responses: int, requests: int) -> None:
    from patron.core import migrate
    from patron.core.db import get_engine

    engine = get_engine()
    migrate.upgrade(engine)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        workspace_id = build_demo(engine, Path(folder)) if kind == "demo" else build_large(engine, responses)
    with engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM survey_responses").scalar_one()
    print(f"  {kind}: {count:,} responses loaded in {time.perf_counter() - started:.1f} s", flush=True)
    database = Path(engine.url.database or "")
    times = time_page(requests, database)
    page = times["warm"]
    baseline = time_baseline(database, workspace_id, requests)
    page_p95, base_p95 = p95(page), p95(baseline)
    print(f"RESULT|{kind}|{count}|{statistics.median(page) * 1000:.0f}|{page_p95 * 1000:.0f}|{max(page) * 1000:.0f}|"
          f"{statistics.median(times['response']) * 1000:.0f}|{statistics.median(times['customer']) * 1000:.0f}|"
          f"{statistics.median(times['full']) * 1000:.0f}|"
          f"{statistics.median(baseline) * 1000:.0f}|{base_p95 * 1000:.0f}|{page_p95 / base_p95:.2f}|{rss_mb():.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--only", choices=("demo", "large"))
    parser.add_argument("--child", choices=("demo", "large"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.responses, args.requests)
        return
    rows = []
    for kind in ("demo", "large"):
        if args.only and kind != args.only:
            continue
        with tempfile.TemporaryDirectory() as folder:
            env = {**os.environ, "PATRON_DATABASE_URL": f"sqlite:///{folder}/bench.db", "PATRON_VAR_DIR": folder,
                   "PATRON_WEBHOOK_INTERVAL_SECONDS": "0"}  # fmt: skip
            run = subprocess.run(
                [sys.executable, __file__, "--child", kind, "--responses", str(args.responses),
                 "--requests", str(args.requests)],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            print(run.stdout.replace("RESULT|", "# "), end="")
            if run.returncode != 0:
                print(run.stderr[-3000:])
                raise SystemExit(f"{kind} failed")
            rows += [line.split("|")[1:] for line in run.stdout.splitlines() if line.startswith("RESULT|")]
    print(
        f"\nGET /dashboard (overview, last 90 days, all segments), {args.requests} requests after 2 warm-ups, SQLite"
    )
    print("| workspace | responses | page p50 ms | page p95 ms | page max ms | after a new response ms "
          "| after a customer change ms | after a full recount ms | plain SQL p50 ms | plain SQL p95 ms "
          "| page/SQL at p95 | peak RSS MB |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, count, p50, page95, worst, response, customer, full, b50, b95, ratio, rss in rows:
        print(f"| {kind} | {int(count):,} | {p50} | {page95} | {worst} | {response} | {customer} | {full} | {b50} "
              f"| {b95} | {ratio}× | {rss} |")  # fmt: skip


if __name__ == "__main__":
    main()
