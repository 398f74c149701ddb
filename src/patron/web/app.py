"""The FastAPI application: API routers, pages, static files, sessions and error handling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from patron import __version__
from patron.commerce.api import router as commerce_router
from patron.core.api import router as workspace_router
from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.settings import get_settings
from patron.customers.api import router as customers_router
from patron.metrics.api import router as metrics_router
from patron.surveys.api import responses_router
from patron.surveys.api import router as surveys_router
from patron.web import dashboard_pages, pages, survey_pages
from patron.web.errors import install_error_handlers
from patron.web.templating import STATIC_DIR
from patron.webhooks import service as webhooks
from patron.webhooks.api import router as webhooks_router

log = logging.getLogger("patron.web")
API_DESCRIPTION = """Patron's REST API. Authenticate with an API key (`patron apikeys create NAME`) sent as
`Authorization: Bearer <key>` or `X-API-Key: <key>`; every answer is scoped to the key's workspace.
Errors are `{"error": {"code", "message", "details"}}` with the message in the `Accept-Language` language."""


async def _deliver_webhooks_forever(interval: float) -> None:
    """The server's own webhook dispatcher; a failure is logged and the loop goes on."""
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(_deliver_once)
        except Exception:  # the loop must outlive any one bad delivery round
            log.exception("webhook delivery round failed")


def _deliver_once() -> None:
    with transaction() as session:
        webhooks.deliver_due(session, post=webhooks.http_post, now=utcnow())


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    interval = get_settings().webhook_interval_seconds
    task = asyncio.create_task(_deliver_webhooks_forever(interval)) if interval > 0 else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(title="Patron", version=__version__, description=API_DESCRIPTION, lifespan=_lifespan)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key(),
        session_cookie="patron_session",
        same_site="lax",
        max_age=14 * 86400,
    )
    install_error_handlers(app)

    @app.exception_handler(pages.LoginRequired)
    async def login_required(request: Request, exc: pages.LoginRequired) -> Response:
        return pages.login_redirect(request)

    for router in (
        workspace_router,
        customers_router,
        commerce_router,
        surveys_router,
        responses_router,
        pages.router,
        dashboard_pages.router,
        survey_pages.router,
        webhooks_router,
        metrics_router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
