"""How long a failed login takes for a known account, an unknown e-mail and an unknown workspace (median ms).

    python bench/login_timing.py [--runs 15]

Runs the real app in-process (Starlette's TestClient) on a throwaway SQLite database under a temporary
``PATRON_VAR_DIR``; login throttling is switched off (``PATRON_LOGIN_FAILURES_PER_*=0``) so every attempt is
answered. Equal medians mean the answer time no longer tells which accounts or workspaces exist.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ["PATRON_VAR_DIR"] = tempfile.mkdtemp(prefix="patron-login-bench-")
os.environ["PATRON_WEBHOOK_INTERVAL_SECONDS"] = "0"
os.environ["PATRON_DASHBOARD_WARM_UP"] = "0"
os.environ["PATRON_LOGIN_FAILURES_PER_ACCOUNT"] = "0"
os.environ["PATRON_LOGIN_FAILURES_PER_ADDRESS"] = "0"
os.environ.pop("PATRON_DATABASE_URL", None)

from fastapi.testclient import TestClient  # noqa: E402

from patron.core import migrate  # noqa: E402
from patron.core import service as core_service  # noqa: E402
from patron.core.db import get_engine, transaction  # noqa: E402
from patron.web.app import create_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    engine = get_engine()
    migrate.upgrade(engine)
    with transaction(engine) as session:
        workspace = core_service.create_workspace(session, slug="bench", name="bench")
        core_service.create_user(session, workspace_id=workspace.id, email="known@example.com",
                                 password="the right password")  # fmt: skip
    cases = {
        "known account, wrong password": ("bench", "known@example.com"),
        "unknown e-mail": ("bench", "nobody@example.com"),
        "unknown workspace": ("no-such-workspace", "known@example.com"),
    }
    with TestClient(create_app()) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token
        timings: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (slug, email) in cases.items():
                form = {
                    "workspace": slug,
                    "email": email,
                    "password": "wrong password",
                    "csrf": token.group(1),
                }
                started = time.perf_counter()
                answer = client.post("/login", data=form)
                timings[name].append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 401, answer.status_code
    for name, values in timings.items():
        print(
            f"{name:32} median {statistics.median(values):7.1f} ms  (min {min(values):.1f}, max {max(values):.1f})"
        )


if __name__ == "__main__":
    main()
