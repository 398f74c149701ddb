"""What the API answers when it refuses, declared once so the OpenAPI spec says what the server really does.

Every refusal has the one shape ``web/errors.py`` gives it (``ErrorAnswer``); each route lists the statuses it
can answer with ``responses=errors(...)``, and ``tests/web/test_contract.py`` (schemathesis over every
operation, with a key, without one and with another workspace's) fails when an answer is not declared or does
not match its schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

#: The largest value a 64-bit signed integer column (ids, offsets) holds on SQLite and PostgreSQL.
INT64_MAX = 2**63 - 1


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable code, also the message-catalog key, e.g. auth.bad_api_key")
    message: str = Field(
        description="What went wrong, in the Accept-Language language (zh-Hant, zh-Hans, en)"
    )
    details: list[dict[str, Any]] = Field(
        description="One entry per problem when several were found (each says where and what), else empty"
    )


class ErrorAnswer(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorInfo


_MEANING = {
    400: "The request is well formed but names something unknown or breaks a rule (the code says which)",
    401: "The API key is missing, malformed, revoked or unknown",
    404: "Nothing with that key or id in this workspace",
    409: "The request conflicts with the current state (a closed survey, a client_key reused differently…)",
    413: "The body is larger than the server accepts",
    422: "A parameter or the body does not match the schema; details lists each problem",
    429: "Too many requests from this client or for this account; Retry-After says when to try again",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route or router: each status with the shared error shape."""
    return {status: {"model": ErrorAnswer, "description": _MEANING[status]} for status in statuses}
