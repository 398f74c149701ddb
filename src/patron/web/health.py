"""Liveness and readiness for load balancers, process managers and orchestrators (`/livez`, `/readyz`).

A server that has just started still loads the comments' analysis and counts the dashboards' roll-ups in
background threads; requests served meanwhile wait behind that work (in the survey-ingest benchmark the load
that started with the server put those pauses into its 99th percentile: 128–360 ms against 29–33 ms once
the server was ready; docs/benchmarks.md, 2026-12-03). `/readyz` says when to send traffic."""

from __future__ import annotations

import logging
import threading

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from patron.core.db import get_engine

log = logging.getLogger("patron.web")
router = APIRouter(include_in_schema=False)


class Readiness:
    """The start-up work still running; thread-safe, since the work runs in threads of its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: set[str] = set()

    def starting(self, work: str) -> None:
        with self._lock:
            self._waiting.add(work)

    def done(self, work: str) -> None:
        with self._lock:
            self._waiting.discard(work)

    def waiting_for(self) -> list[str]:
        with self._lock:
            return sorted(self._waiting)


def _database_answers() -> bool:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database means: not ready; the cause goes to the log
        log.exception("readiness: the database did not answer")
        return False
    return True


@router.get("/livez")
async def live() -> JSONResponse:
    """The process answers requests; nothing else is checked, so a busy database never gets it restarted."""
    return JSONResponse({"status": "alive"}, headers={"Cache-Control": "no-store"})


@router.get("/readyz")
async def ready(request: Request) -> JSONResponse:
    """200 once the start-up work is done and the database answers; 503 with what it waits for otherwise."""
    readiness: Readiness = request.app.state.readiness
    headers = {"Cache-Control": "no-store", "Retry-After": "1"}
    waiting = readiness.waiting_for()
    if waiting:
        return JSONResponse({"status": "starting", "waiting_for": waiting}, status_code=503, headers=headers)
    if not await run_in_threadpool(_database_answers):
        return JSONResponse({"status": "database_unavailable"}, status_code=503, headers=headers)
    return JSONResponse({"status": "ready"}, headers={"Cache-Control": "no-store"})
