"""The FastAPI application: API routers, pages, static files, sessions and error handling."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from patron import __version__
from patron.commerce.api import router as commerce_router
from patron.core.api import router as workspace_router
from patron.core.settings import get_settings
from patron.customers.api import router as customers_router
from patron.surveys.api import responses_router
from patron.surveys.api import router as surveys_router
from patron.web import pages, survey_pages
from patron.web.errors import install_error_handlers
from patron.web.templating import STATIC_DIR

API_DESCRIPTION = """Patron's REST API. Authenticate with an API key (`patron apikeys create NAME`) sent as
`Authorization: Bearer <key>` or `X-API-Key: <key>`; every answer is scoped to the key's workspace.
Errors are `{"error": {"code", "message", "details"}}` with the message in the `Accept-Language` language."""


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(title="Patron", version=__version__, description=API_DESCRIPTION)
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
        survey_pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
