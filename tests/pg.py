"""A throwaway PostgreSQL cluster for the test session, started from the Debian server binaries."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binaries() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_cluster() -> Iterator[str | None]:
    """Yields a SQLAlchemy URL, or None when no server binaries are installed. initdb refuses to run as
    root, so as root (CI) the cluster belongs to the ``postgres`` system user."""
    binaries = _binaries()
    if binaries is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="patron-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        root.chmod(0o755)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, cwd=root)

    try:
        run(
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "patron",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        run(
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "start",
        )
        run(str(binaries / "createdb") if (binaries / "createdb").exists() else "createdb",
            "-h", "127.0.0.1", "-p", str(port), "-U", "patron", "patron_test")  # fmt: skip
        yield f"postgresql+psycopg://patron@127.0.0.1:{port}/patron_test"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, cwd=root)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
