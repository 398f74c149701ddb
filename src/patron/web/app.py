"""The FastAPI application: API routers, pages, static files, sessions and error handling."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from patron import __version__
from patron.analytics.api import router as clv_router
from patron.assistant.api import router as assistant_router
from patron.commerce.api import router as commerce_router
from patron.core.api import router as workspace_router
from patron.core.clock import utcnow
from patron.core.db import get_read_engine, session_factory, transaction
from patron.core.service import SESSION_LIFETIME
from patron.core.settings import get_settings
from patron.customers.api import router as customers_router
from patron.customers.api import segments_router
from patron.dashboard import rollup
from patron.feedback import service as feedback_service
from patron.feedback.api import inbound_router as feedback_inbound_router
from patron.feedback.api import router as feedback_router
from patron.loyalty.api import router as loyalty_router
from patron.metrics.api import router as metrics_router
from patron.metrics.service import operational_connection
from patron.social.api import router as social_router
from patron.surveys.api import responses_router, servqual_router
from patron.surveys.api import router as surveys_router
from patron.web import (
    assistant_pages,
    dashboard_pages,
    deps,
    help_pages,
    loyalty_pages,
    member_pages,
    pages,
    referral_pages,
    survey_pages,
    testimonial_pages,
)
from patron.web.errors import install_error_handlers
from patron.web.express import ExpressLane
from patron.web.headers import SecurityHeaders, policy_allowing_inline_scripts_of
from patron.web.health import Readiness
from patron.web.health import router as health_router
from patron.web.limits import RequestGuard
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


def _warm_dashboards(readiness: Readiness) -> None:
    try:
        counted = rollup.warm_up(operational_connection, session_factory(get_read_engine()))
        log.info("dashboard roll-ups counted for %d workspaces", counted)
    except Exception:  # a failed warm-up only means the first visitor counts it
        log.exception("dashboard warm-up failed")
    finally:
        readiness.done("dashboards")


def _ready_for_comments(catch_up: bool, readiness: Readiness) -> None:
    """Ready once the analysis is loaded; a backlog left by an earlier stop is caught up afterwards, while the
    server takes traffic (a long backlog must not keep it out of a load balancer)."""
    try:
        feedback_service.warm_up()
    except Exception:  # the first comment loads it again; the server must start regardless
        log.exception("loading the comments' analysis failed")
    finally:
        _keep_out_of_collections()
        readiness.done("comments")
    if not catch_up:
        return
    try:
        added = feedback_service.catch_up()
        if added:
            log.info("%d survey comments left unanalysed by an earlier stop were analysed", added)
    except Exception:  # `patron feedback analyze` does the same
        log.exception("catching up on survey comments failed")


def _keep_out_of_collections() -> None:
    """Everything loaded so far (modules, catalogs, compiled statements; after the warm-up, the sentiment model,
    the word lists and OpenCC's tables) lives as long as the process: kept out of the collector's full passes,
    which otherwise walk it all again and again under load (one full pass: 0.17 s). Frozen only at start, the
    models the warm-up thread loads just after were walked each time (docs/benchmarks.md, survey ingest of
    2026-12-03 19:45)."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    interval = settings.webhook_interval_seconds
    task = asyncio.create_task(_deliver_webhooks_forever(interval)) if interval > 0 else None
    readiness: Readiness = app.state.readiness
    if settings.dashboard_warm_up:
        readiness.starting("dashboards")
        threading.Thread(
            target=_warm_dashboards, args=(readiness,), name="dashboard-warm-up", daemon=True
        ).start()
    readiness.starting("comments")
    threading.Thread(
        target=_ready_for_comments,
        args=(settings.feedback_catch_up, readiness),
        name="feedback-ready",
        daemon=True,
    ).start()
    _keep_out_of_collections()  # and again once the comments' analysis is loaded
    yield
    gc.unfreeze()
    await run_in_threadpool(deps.group_commit.close)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(*, express_lane: bool = True) -> FastAPI:
    """``express_lane`` false: every survey response through its FastAPI route (the tests compare the two)."""
    settings = get_settings()
    # /docs is served below from the package's own Swagger UI; FastAPI's default loads it from a CDN, which
    # leaves the page blank on an intranet. ReDoc (also from a CDN) is not offered.
    # FastAPI's OpenTelemetry hooks off: Patron configures no provider, and asking for one took 3 % of a survey
    # response's CPU (docs/benchmarks.md).
    app = FastAPI(title="Patron", version=__version__, description=API_DESCRIPTION, lifespan=_lifespan,
                  docs_url=None, redoc_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False})  # fmt: skip
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key(),
        session_cookie="patron_session",
        same_site="lax",
        max_age=int(SESSION_LIFETIME.total_seconds()),
        https_only=settings.cookies_secure(),
    )
    app.add_middleware(ExpressLane, enabled=express_lane)
    app.add_middleware(RequestGuard)
    app.add_middleware(SecurityHeaders)  # outermost: the guard's 401 and 413 carry the headers too
    install_error_handlers(app)
    app.state.readiness = Readiness()
    app.state.login_throttle = pages.new_login_throttle()

    @app.exception_handler(pages.LoginRequired)
    async def login_required(request: Request, exc: pages.LoginRequired) -> Response:
        return pages.login_redirect(request)

    # The survey-response router first: a request is matched against the routers in this order, and matching
    # POST /api/v1/responses took 38 us of CPU behind five routers, 5 us first (docs/benchmarks.md,
    # 2026-12-03). Its paths are its own (/api/v1/responses…), so no other route is shadowed.
    for router in (
        responses_router,
        health_router,
        workspace_router,
        customers_router,
        segments_router,
        commerce_router,
        surveys_router,
        pages.router,
        loyalty_pages.router,
        dashboard_pages.router,
        survey_pages.router,
        member_pages.router,
        help_pages.router,
        assistant_pages.router,
        webhooks_router,
        metrics_router,
        clv_router,
        loyalty_router,
        assistant_router,
        feedback_router,
        feedback_inbound_router,
        servqual_router,
        social_router,
        referral_pages.router,
        testimonial_pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        page = swagger_ui(app.openapi_url or "/openapi.json", app.title)
        page.headers["Content-Security-Policy"] = policy_allowing_inline_scripts_of(bytes(page.body).decode())
        return page

    return app


def swagger_ui(openapi_url: str, title: str) -> HTMLResponse:
    """The interactive API docs with Swagger UI from ``static/vendor`` (swagger-ui-dist from npm), so the
    page works without internet; the online validator badge (validator.swagger.io) is switched off."""
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} API",
        swagger_js_url="/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None},
    )
