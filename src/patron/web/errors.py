"""One place that turns failures into answers: JSON for the API, a page for people, never a traceback."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from patron.core.errors import PatronError
from patron.core.i18n import translate
from patron.web.deps import api_locale, page_locale
from patron.web.headers import add_security_headers, embeddable
from patron.web.openapi import ErrorAnswer, ErrorInfo
from patron.web.templating import render

log = logging.getLogger("patron.web")
#: Every route of the app, those of included routers too (FastAPI keeps an included router whole since 0.13x).
_ROUTES_OF: Callable[[Any], Iterable[Any]] = getattr(fastapi.routing, "iter_route_contexts", iter)


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
    *,
    message: Callable[[str], str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer in the shape the OpenAPI spec declares (``web.openapi.ErrorAnswer``), or a page for people;
    ``message`` words it when the error composes its own text (``PatronError.message``)."""

    def word(locale: str) -> str:
        return message(locale) if message is not None else translate(code, locale, **params)

    if _wants_page(request):
        locale = page_locale(request)
        page = render(request, "error.html", {"message": word(locale), "status": status},
                      locale=locale, status_code=status)  # fmt: skip
        page.headers.update(headers or {})
        return page
    locale = api_locale(request)
    body = ErrorAnswer(error=ErrorInfo(code=code, message=word(locale), details=details or []))
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status,
        headers={**(headers or {}), "Content-Language": locale},
    )


def error_response(request: Request, exc: PatronError) -> Response:
    """The answer to a PatronError raised outside the routes (a middleware)."""
    return _answer(request, exc.status, exc.code, exc.params, exc.details(api_locale(request)))


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    location = ".".join(str(part) for part in error.get("loc", ()))
    return {"location": location, "message": str(error.get("msg", "")), "type": str(error.get("type", ""))}


def _allow(request: Request, headers: Mapping[str, str] | None) -> dict[str, str]:
    """``Allow`` for a 405 (RFC 9110 requires it): every method some route takes on this path. Starlette names
    only the first route's, so a path with GET and POST routes answered ``Allow: GET``."""
    methods: set[str] = set()
    for route in _ROUTES_OF(request.app.router.routes):
        taken = getattr(route, "methods", None)
        if taken and route.matches(request.scope)[0] is not Match.NONE:
            methods |= set(taken)
    if not methods:
        return dict(headers or {})
    return {**(headers or {}), "Allow": ", ".join(sorted(methods))}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PatronError)
    async def patron_error(request: Request, exc: PatronError) -> Response:
        return _answer(request, exc.status, exc.code, exc.params, exc.details(api_locale(request)),
                       message=exc.message)  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = [_describe(e) for e in exc.errors()]
        summary = "; ".join(f"{d['location']}: {d['message']}" for d in details[:5])
        return _answer(request, 422, "request.invalid", {"details": summary}, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error = getattr(exc, "error", None)  # web.limits.BodyTooLarge: the body passed its route's limit
        if isinstance(error, PatronError):
            return _answer(request, error.status, error.code, error.params)
        if exc.status_code == 404:
            return _answer(request, 404, "request.not_found", {"path": request.url.path})
        if exc.status_code == 405:
            return _answer(
                request,
                405,
                "request.method_not_allowed",
                {"method": request.method, "path": request.url.path},
                headers=_allow(request, exc.headers),
            )
        return _answer(request, exc.status_code, "request.invalid", {"details": str(exc.detail)},
                       headers=exc.headers)  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        reference = secrets.token_hex(4)
        log.exception("unhandled error %s on %s %s", reference, request.method, request.url.path)
        answer = _answer(request, 500, "request.internal", {"reference": reference})
        add_security_headers(answer.headers, framed=embeddable(request.scope))
        return answer
