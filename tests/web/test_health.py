"""`/readyz` turns traffic away until the start-up work is done and while the database does not answer."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from patron.feedback import service as feedback_service
from patron.web import app as web_app
from patron.web import health


def test_not_ready_while_the_analysis_loads_then_ready(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    monkeypatch.setattr(feedback_service, "warm_up", lambda: release.wait(30))
    monkeypatch.setattr(feedback_service, "catch_up", lambda: 0)
    with TestClient(web_app.create_app()) as client:
        waiting = client.get("/readyz")
        assert waiting.status_code == 503
        assert waiting.json()["status"] == "starting"
        assert "comments" in waiting.json()["waiting_for"]
        assert waiting.headers["retry-after"] == "1"
        assert client.get("/livez").json() == {"status": "alive"}, "alive all the while"
        release.set()
        readiness: health.Readiness = client.app.state.readiness  # type: ignore[attr-defined]
        for _ in range(300):
            if not readiness.waiting_for():
                break
            threading.Event().wait(0.1)
        answer = client.get("/readyz")
        assert answer.status_code == 200, answer.json()
        assert answer.json() == {"status": "ready"}
        assert answer.headers["cache-control"] == "no-store"


def test_a_backlog_of_comments_does_not_keep_the_server_out_of_traffic(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    backlog = threading.Event()
    monkeypatch.setattr(feedback_service, "warm_up", lambda: None)
    monkeypatch.setattr(feedback_service, "catch_up", lambda: backlog.wait(30) and 0)
    monkeypatch.setattr(web_app, "_warm_dashboards", lambda readiness: readiness.done("dashboards"))
    try:
        with TestClient(web_app.create_app()) as client:
            readiness: health.Readiness = client.app.state.readiness  # type: ignore[attr-defined]
            for _ in range(300):
                if not readiness.waiting_for():
                    break
                threading.Event().wait(0.1)
            assert client.get("/readyz").status_code == 200, "ready while the catch-up still runs"
    finally:
        backlog.set()


def test_not_ready_when_the_database_does_not_answer(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    unreachable = create_engine(f"sqlite:///{tmp_path}/no/such/folder/patron.db")
    monkeypatch.setattr(health, "get_engine", lambda: unreachable)
    client = TestClient(web_app.create_app())  # no start-up work without the lifespan
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "database_unavailable"}
    assert client.get("/livez").status_code == 200
