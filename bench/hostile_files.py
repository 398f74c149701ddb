"""The hostile files of issue 18 at full size: how much memory and time each takes, through the CLI and the API.

    python bench/hostile_files.py [--only NAME,...] [--keep] [--postgresql]

Builds each file in a temporary folder (streamed: the 400 MB string is never in this process's memory), then
imports it with ``patron import`` in a child process of its own on a fresh SQLite database (or, with
``--postgresql``, a throwaway PostgreSQL cluster of ``tests/pg.py``), and sends the API's
bodies straight to the ASGI app in a child process, so each peak RSS (``wait4``'s ``ru_maxrss``) is that run's
alone. Prints one row per file: size, exit code or HTTP status, the answer's code or counts, seconds and peak RSS.
The probe before the fix measured 3.2 GB for the 400 MB string, 351 s of CPU for the 2,000 × 16,384 sheet, a
traceback for the nested JSON and 1.4 GB for the 216 MB JSON body sent without a key.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.hostile import (  # noqa: E402
    deep_jsonl,
    nul_past_the_sample,
    xlsx_of,
    xlsx_with_one_huge_string,
)

CLI = "import sys; from patron.cli import app; sys.argv = ['patron', *sys.argv[1:]]; app()"
API = """
import asyncio, json, sys, time
from patron.core import service
from patron.core.db import transaction
from patron.web.app import create_app

path, route, body_file, body_mb, with_key = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
with transaction() as session:
    workspace = service.get_workspace(session, "bench")
    _, key = service.create_api_key(session, workspace_id=workspace.id, name="bench")
headers = [(b"content-type", b"application/json")]
if with_key:
    headers.append((b"authorization", b"Bearer " + key.encode()))
piece = b'{"survey": "x", "answers": [' if not body_file else b""
chunk = b"1," * 32768
sent, total = [], body_mb * 1024 * 1024
state = {"given": 0, "file": open(body_file, "rb") if body_file else None}

async def receive():
    if state["file"] is not None:
        data = state["file"].read(65536)
        state["given"] += len(data)
        return {"type": "http.request", "body": data, "more_body": bool(data)}
    if state["given"] >= total:
        return {"type": "http.request", "body": b"1]}", "more_body": False}
    data = (piece if state["given"] == 0 else b"") + chunk
    state["given"] += len(data)
    return {"type": "http.request", "body": data, "more_body": True}

async def send(message):
    sent.append(message)

scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
         "path": route, "raw_path": route.encode(), "query_string": path.encode(), "root_path": "", "headers": headers,
         "client": ("127.0.0.1", 1), "server": ("bench", 80)}
asyncio.run(create_app()(scope, receive, send))
status = next(m["status"] for m in sent if m["type"] == "http.response.start")
answer = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
print(json.dumps({"status": status, "answer": answer, "body_read_mb": round(state["given"] / 1048576, 1)}))
"""


def run_child(args: list[str], env: dict[str, str]) -> tuple[int, str, float, float]:
    """Runs a child process; returns its exit code, its output, wall seconds and peak RSS in MB."""
    started = time.perf_counter()
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as child:
        assert child.stdout is not None
        output = child.stdout.read().decode("utf-8", "replace")
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, output, time.perf_counter() - started, usage.ru_maxrss / 1024


def _unclosed_quote(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:  # 1M rows; the third opens a quote for good
        handle.write("external_id,name,email\n")
        for i in range(1, 1_000_001):
            name = f'"name {i}' if i == 3 else f"name {i}"
            handle.write(f"Q{i:07d},{name},q{i}@example.com\n")
    return path


def _baseline(path: Path) -> Path:
    path.write_text("external_id,name\nB1,one\nB2,two\n", encoding="utf-8")
    return path


#: name -> (import kind, file name, how to build it)
FILES: dict[str, tuple[str, str, Callable[[Path], Path]]] = {
    "baseline_3_rows": ("customers", "baseline.csv", _baseline),
    "unclosed_quote_1M_rows": ("customers", "unclosed_quote.csv", _unclosed_quote),
    "nested_json_100k": ("customers", "deep.jsonl", lambda p: deep_jsonl(p, 100_000)),
    "nul_past_256KB": ("customers", "nul.csv", nul_past_the_sample),
    "xlsx_400MB_string": (
        "customers",
        "string.xlsx",
        lambda p: xlsx_with_one_huge_string(p, 400 * 1024 * 1024),
    ),
    "xlsx_2000x16384": ("customers", "wide.xlsx", lambda p: xlsx_of(p, rows=2_000, columns=16_384)),
    "xlsx_2000x16384_no_refs": (
        "customers",
        "bare.xlsx",
        lambda p: xlsx_of(p, rows=2_000, columns=16_384, references=False),
    ),
}


def summary(output: str) -> str:
    text = output.strip()
    try:
        report = json.loads(text[text.index("{") :])
    except ValueError:
        return " ".join(text.splitlines()[-1:])[:110]
    codes = sorted({e["code"] for e in report["errors"]})
    return f"read {report['rows_read']}, inserted {report['inserted']}, rejected {report['rejected']} {codes}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated names to run")
    parser.add_argument("--keep", action="store_true", help="keep the folder of files")
    parser.add_argument(
        "--postgresql", action="store_true", help="a throwaway PostgreSQL cluster, not SQLite"
    )
    options = parser.parse_args()
    if options.postgresql:
        from tests.pg import throwaway_cluster

        with throwaway_cluster() as url:
            if not url:
                raise SystemExit("postgresql: no server binaries")
            run(options, url)
    else:
        run(options, None)


def run(options: argparse.Namespace, database_url: str | None) -> None:
    only = {name for name in options.only.split(",") if name}
    folder = Path(tempfile.mkdtemp(prefix="patron-hostile-"))
    env = {**os.environ, "PATRON_VAR_DIR": str(folder / "var"), "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    env.pop("PATRON_DATABASE_URL", None)
    if database_url:
        env["PATRON_DATABASE_URL"] = database_url
    for setup in (["db", "upgrade"], ["workspaces", "create", "bench"]):
        code, output, _, _ = run_child([sys.executable, "-c", CLI, *setup], env)
        assert code == 0, output
    rows: list[tuple[str, ...]] = []
    for name, (kind, file_name, make) in FILES.items():
        if only and name not in only:
            continue
        path = make(folder / file_name)
        args = [sys.executable, "-c", CLI, "import", kind, str(path), "-w", "bench", "--json", "--lang", "en"]
        code, output, seconds, peak = run_child(args, env)
        rows.append(("CLI", name, f"{path.stat().st_size / 1048576:.1f} MB", f"exit {code}", summary(output),
                     f"{seconds:.1f} s", f"{peak:.0f} MB"))  # fmt: skip
        if name.startswith("xlsx"):  # the same file uploaded to the API
            fmt = "format=xlsx"
            api = [sys.executable, "-c", API, fmt, f"/api/v1/imports/{kind}", str(path), "0", "1"]
            code, output, seconds, peak = run_child(api, env)
            answer: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
            rows.append(("API", name, f"{path.stat().st_size / 1048576:.1f} MB", f"HTTP {answer['status']}",
                         answer["answer"].get("error", {}).get("code", ""), f"{seconds:.1f} s", f"{peak:.0f} MB"))  # fmt: skip
    for name, with_key in (("json_body_216MB_no_key", "0"), ("json_body_216MB_with_key", "1")):
        if only and name not in only:
            continue
        api = [sys.executable, "-c", API, "", "/api/v1/responses/batch", "", "216", with_key]
        code, output, seconds, peak = run_child(api, env)
        answer = json.loads(output.strip().splitlines()[-1])
        rows.append(("API", name, "216 MB", f"HTTP {answer['status']}",
                     f"{answer['answer']['error']['code']}, {answer['body_read_mb']} MB read", f"{seconds:.1f} s",
                     f"{peak:.0f} MB"))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(7)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    if options.keep:
        print(f"files kept in {folder}")
    else:
        subprocess.run(["rm", "-rf", str(folder)], check=False)


if __name__ == "__main__":
    main()
