"""A route's transaction ends before its response is sent, so a browser that follows a form's redirect reads what
it has just written (FastAPI's default runs a yield dependency's exit code after the response has gone out)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import get_read_engine
from patron.core.models import Workspace
from patron.web.deps import SessionDep


def test_a_form_post_is_committed_before_its_response_is_sent(engine: Engine) -> None:
    app = FastAPI()

    @app.post("/make")
    def make(session: SessionDep) -> Response:
        core_service.create_workspace(session, slug="scoped-commit", name="scoped")
        return RedirectResponse("/after", status_code=303)

    seen: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":  # what a redirected browser would read now
            with get_read_engine().connect() as connection:
                query = select(func.count()).select_from(Workspace).where(Workspace.slug == "scoped-commit")
                seen.append(connection.execute(query).scalar_one())

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/make", "raw_path": b"/make", "query_string": b"", "root_path": "", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
    with ThreadPoolExecutor(max_workers=1) as runner:  # its own loop: a browser test's may run in this thread
        runner.submit(asyncio.run, app(scope, receive, send)).result()
    assert seen == [1]
