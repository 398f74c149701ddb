"""One place that turns failures into answers: JSON for the API, a page for people, never a traceback."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from patron.core.errors import PatronError
from patron.core.i18n import translate
from patron.web.deps import api_locale, page_locale
from patron.web.headers import add_security_headers, embeddable
from patron.web.templating import render

log = logging.getLogger("patron.web")


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return not (
        path.startswith("/api/") or path in ("/openapi.json",)
    ) and "text/html" in request.headers.get("accept", "")


def _answer(
    request: Request,
    status: int,
    code: str,
    params: dict[str, Any],
    details: list[dict[str, Any]] | None = None,
) -> Response:
    if _wants_page(request):
        locale = page_locale(request)
        return render(request, "error.html", {"message": translate(code, locale, **params), "status": status},
                      locale=locale, status_code=status)  # fmt: skip
    locale = api_locale(request)
    body = {"error": {"code": code, "message": translate(code, locale, **params), "details": details or []}}
    return JSONResponse(body, status_code=status, headers={"Content-Language": locale})


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    location = ".".join(str(part) for part in error.get("loc", ()))
    return {"location": location, "message": str(error.get("msg", "")), "type": str(error.get("type", ""))}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PatronError)
    async def patron_error(request: Request, exc: PatronError) -> Response:
        return _answer(request, exc.status, exc.code, exc.params, exc.details(api_locale(request)))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = [_describe(e) for e in exc.errors()]
        summary = "; ".join(f"{d['location']}: {d['message']}" for d in details[:5])
        return _answer(request, 422, "request.invalid", {"details": summary}, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _answer(request, 404, "request.not_found", {"path": request.url.path})
        if exc.status_code == 405:
            return _answer(
                request,
                405,
                "request.method_not_allowed",
                {"method": request.method, "path": request.url.path},
            )
        return _answer(request, exc.status_code, "request.invalid", {"details": str(exc.detail)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        reference = secrets.token_hex(4)
        log.exception("unhandled error %s on %s %s", reference, request.method, request.url.path)
        answer = _answer(request, 500, "request.internal", {"reference": reference})
        add_security_headers(answer.headers, framed=embeddable(request.scope))
        return answer
