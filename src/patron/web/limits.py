"""Who is calling is checked before a body is read, and every body is bounded per route (issue 18).

Why a middleware: FastAPI reads and parses a route's JSON body before it solves the route's dependencies, so
a 216 MB body sent without a key was parsed (1.4 GB RSS) before the answer 401. Here, for the API's writing
methods, the key is checked from the headers first; then the body is counted as it arrives and refused with
413 past the route's limit: imports ``PATRON_MAX_UPLOAD_BYTES`` (streamed to disk by the route itself), every
other body ``PATRON_MAX_BODY_BYTES``. A declared ``Content-Length`` past the limit is refused before any byte
is read.

The signed inbound webhook (``feedback.inbound``) carries no key: on its receiving path the source, the
signature header and its time are checked from the headers first; then the body is read here, within the same
limit, and its signature checked before the route parses a byte of it. The route finds the verified source in
the request's state (``INBOUND_STATE``).
"""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.core.errors import PatronError
from patron.core.settings import get_settings
from patron.feedback import inbound
from patron.web.deps import workspace_for_key
from patron.web.errors import error_response

_WRITING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UPLOADS = "/api/v1/imports/"
#: The key of the verified inbound source in ``request.state``.
INBOUND_STATE = "patron_inbound_source"


class PayloadTooLarge(PatronError):
    status = 413


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit. An HTTPException, because FastAPI turns any other
    error met while reading a body into a 400; the app's handler answers with ``error``."""

    def __init__(self, error: PatronError) -> None:
        super().__init__(status_code=413, detail=error.code)
        self.error = error


def body_limit(path: str) -> int:
    settings = get_settings()
    return settings.max_upload_bytes if path.startswith(_UPLOADS) else settings.max_body_bytes


def _too_large(path: str, limit: int) -> PatronError:
    if path.startswith(_UPLOADS):
        return PayloadTooLarge("import.file_too_large", limit=limit)
    return PayloadTooLarge("request.body_too_large", limit_mb=f"{limit / 1024 / 1024:g}")


def api_key_of(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key")


class RequestGuard:
    """Pure ASGI middleware: the key before the body on the API's writing methods, and a bounded body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path: str = scope["path"]
        limit = body_limit(path)
        receiving = inbound.RECEIVING_PATH.match(path) if scope["method"] == "POST" else None
        if receiving is not None:
            await self._inbound(scope, receive, send, request, receiving.group(1), limit)
            return
        if scope["method"] in _WRITING and path.startswith("/api/"):
            try:
                await workspace_for_key(api_key_of(request))
            except PatronError as exc:
                await error_response(request, exc)(scope, receive, send)
                return
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await error_response(request, _too_large(path, limit))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(_too_large(path, limit))
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await error_response(request, _too_large(path, limit))(scope, receive, send)

    async def _inbound(
        self, scope: Scope, receive: Receive, send: Send, request: Request, public_id: str, limit: int
    ) -> None:
        """The signed inbound webhook: the headers, then the body read whole within ``limit``, then its
        signature; the app gets the body only when it matched."""
        path: str = scope["path"]
        try:
            pending = await run_in_threadpool(
                inbound.check_headers, public_id, request.headers.get(inbound.SIGNATURE_HEADER)
            )
        except PatronError as exc:
            await error_response(request, exc)(scope, receive, send)
            return
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await error_response(request, _too_large(path, limit))(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await error_response(request, _too_large(path, limit))(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            verified = pending.verify(body)
        except PatronError as exc:
            await error_response(request, exc)(scope, receive, send)
            return
        scope.setdefault("state", {})[INBOUND_STATE] = verified
        await self.app(scope, replaying(body, receive), send)


def replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for an app downstream of a middleware that has read the whole body already."""
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
