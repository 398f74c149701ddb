"""Industry NPS benchmarks: a shipped, sourced table a workspace can override with its own number."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from patron.core.models import Workspace

BENCHMARK_FILE = Path(__file__).resolve().parent / "data" / "nps_benchmarks.yaml"


@dataclass(frozen=True)
class Benchmark:
    nps: float
    #: The industry's name in the reader's language, or None for a workspace's own number.
    industry: str | None
    source: str
    source_url: str | None


@cache
def _table() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(BENCHMARK_FILE.read_text(encoding="utf-8"))
    return data


def industries(locale: str) -> dict[str, str]:
    """Industry key → its name in ``locale``, for a picker."""
    return {key: str(row[locale]) for key, row in _table()["industries"].items()}


def benchmark_for(workspace: Workspace, locale: str) -> Benchmark | None:
    """The workspace's own benchmark when it set one, else its industry's published one, else none."""
    if workspace.nps_benchmark is not None:
        return Benchmark(float(workspace.nps_benchmark), None, "workspace", None)
    row = _table()["industries"].get(workspace.industry or "")
    if row is None:
        return None
    source = _table()["source"]
    return Benchmark(float(row["nps"]), str(row[locale]), str(source["name"]), str(source["url"]))
