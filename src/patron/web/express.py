"""The express lane for ``POST /api/v1/responses``, the one route integrators call thousands of times a minute.

On one server process the survey-ingest bar (≥ 1,000 responses/s, issue 18) is set by CPU per request, and
most of a response's CPU went to the framework rather than to the response: FastAPI's routing, dependency
solving, request and response validation and middleware layers (docs/benchmarks.md, "Survey ingest"). Here the
common case — a JSON body that is a valid ``ResponseSubmit``, from a caller whose key ``RequestGuard`` has just
verified — is handled in a few lines: the same model checks the body, the same group-committed service stores
it, the same error answers go out, and the reply is the same JSON (tested byte for byte against the route).
Anything else (no JSON, a body the model refuses) goes on, body and all, to the route, which answers as the
OpenAPI spec declares; so the route stays the definition and the spec, and this lane only shortens its path.

The loyalty ledger's ``POST /api/v1/loyalty/members/{customer_id}/redeem`` and ``…/adjust`` (issue 15's bar:
≥ 500 operations/s over HTTP) take the same lane for the same reason: a server process spent about 1.9 ms of CPU
per operation, a quarter of the event loop's of it matching the route (docs/benchmarks.md, "Loyalty ledger").
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from patron.core.errors import PatronError
from patron.loyalty import grouped
from patron.loyalty.schemas import PointsChange
from patron.surveys import service
from patron.surveys.schemas import ResponseSubmit
from patron.web.deps import in_group_commit, workspace_for_key
from patron.web.errors import error_response
from patron.web.limits import api_key_of, replaying

PATH = "/api/v1/responses"
#: The ledger's two routes; ``[^/]+`` is the route's own ``{customer_id}`` (Starlette's ``str`` convertor).
LEDGER = re.compile(r"/api/v1/loyalty/members/([^/]+)/(redeem|adjust)")
_Model = TypeVar("_Model", bound=BaseModel)


class ExpressLane:
    """Pure ASGI middleware, inside ``RequestGuard`` (which has checked the key and bounds the body)."""

    def __init__(self, app: ASGIApp, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (self.enabled and scope["type"] == "http" and scope["method"] == "POST"):
            await self.app(scope, receive, send)
            return
        if scope["path"] == PATH:
            await self._response(scope, receive, send)
            return
        ledger = LEDGER.fullmatch(scope["path"])
        if ledger is not None:
            await self._ledger(scope, receive, send, ledger[1], ledger[2])
            return
        await self.app(scope, receive, send)

    async def _response(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        body = await _whole_body(receive)
        if body is None:  # the client went away
            return
        submission = _submission(request, body)
        if submission is None:
            await self.app(scope, replaying(body, receive), send)
            return
        try:
            workspace = await workspace_for_key(api_key_of(request))  # from memory: the guard just checked it
            read = await in_group_commit(
                service.submit_response, workspace_id=workspace.id, submission=submission
            )
        except PatronError as exc:
            await error_response(request, exc)(scope, receive, send)
            return
        reply = Response(read.model_dump_json().encode(), media_type="application/json")
        await reply(scope, receive, send)

    async def _ledger(self, scope: Scope, receive: Receive, send: Send, customer_id: str, kind: str) -> None:
        """``loyalty.api.redeem`` or ``adjust``: the same call of ``grouped.operation`` in the group commit."""
        request = Request(scope)
        body = await _whole_body(receive)
        if body is None:  # the client went away
            return
        change = _parsed(request, body, PointsChange)
        if change is None:
            await self.app(scope, replaying(body, receive), send)
            return
        by = {"actor": "api"} if kind == grouped.ADJUST else {}
        try:
            workspace = await workspace_for_key(api_key_of(request))  # from memory: the guard just checked it
            read = await in_group_commit(
                grouped.operation, workspace=workspace, kind=kind, customer_external_id=customer_id,
                points=change.points, reason=change.reason, idempotency_key=change.idempotency_key, **by,
            )  # fmt: skip
        except PatronError as exc:
            await error_response(request, exc)(scope, receive, send)
            return
        reply = Response(read.model_dump_json().encode(), media_type="application/json")
        await reply(scope, receive, send)


def _submission(request: Request, body: bytes) -> ResponseSubmit | None:
    return _parsed(request, body, ResponseSubmit)


def _parsed(request: Request, body: bytes, model: type[_Model]) -> _Model | None:
    """The body as the route would read it (``json.loads``, then the model in Python mode), or None for the
    route to answer."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return None
    try:
        value: Any = json.loads(body)
        return model.model_validate(value)
    except (ValueError, RecursionError, ValidationError):
        return None


async def _whole_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
