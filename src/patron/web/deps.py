"""Shared FastAPI dependencies: the request's session, its workspace (from the API key) and its language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from patron.core import service as core_service
from patron.core.db import session_factory, transaction
from patron.core.errors import Unauthorized
from patron.core.i18n import negotiate, normalize_locale
from patron.core.models import User, Workspace


def get_session() -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back when it raises."""
    with session_factory()() as session, session.begin():
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The API key, as an alternative header"
)


def api_workspace(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> Workspace:
    """The workspace the API key belongs to. Nothing in the request can name another workspace.

    Checked in its own short transaction, so a long request (an upload) never holds the write lock that
    recording the key's last use takes on SQLite."""
    raw = bearer.credentials if bearer else header_key
    if not raw:
        raise Unauthorized("auth.bad_api_key")
    with transaction() as session:
        api_key = core_service.authenticate_api_key(session, raw)
        workspace = session.get_one(Workspace, api_key.workspace_id)
        session.expunge(workspace)
    return workspace


ApiWorkspaceDep = Annotated[Workspace, Depends(api_workspace)]


def api_locale(request: Request) -> str:
    """API messages follow Accept-Language; English when it names nothing we speak."""
    return negotiate(request.headers.get("accept-language"))


LocaleDep = Annotated[str, Depends(api_locale)]


def page_locale(request: Request, user: User | None = None, workspace: Workspace | None = None) -> str:
    """Pages: an explicit ?lang=, then the remembered choice, the user's, the browser's, the workspace's."""
    for candidate in (
        request.query_params.get("lang"),
        request.cookies.get("patron_lang"),
        user.locale if user else None,
    ):
        locale = normalize_locale(candidate)
        if locale:
            return locale
    default = workspace.default_locale if workspace else "zh-Hant"
    return negotiate(request.headers.get("accept-language"), default=default)
