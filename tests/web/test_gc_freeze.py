"""The server keeps what it loads at start out of the garbage collector's full passes, the comments' models too."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.feedback import service as feedback_service
from patron.web import app as web_app


def test_the_analysis_models_are_frozen_after_the_warm_up_loads_them(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    happened: list[str] = []
    warmed = threading.Event()

    def warm_up() -> None:
        happened.append("warm-up")

    def freeze() -> None:
        happened.append("freeze")
        if "warm-up" in happened:
            warmed.set()

    monkeypatch.setattr(feedback_service, "warm_up", warm_up)
    monkeypatch.setattr(web_app, "_keep_out_of_collections", freeze)
    with TestClient(web_app.create_app()):
        assert warmed.wait(30), happened
    assert happened.count("freeze") == 2, "once at start, once when the warm-up thread is done"
    assert happened.index("warm-up") < len(happened) - 1 - happened[::-1].index("freeze"), "after the warm-up"
