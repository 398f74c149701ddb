"""Shared FastAPI dependencies: the request's session, its workspace (from the API key) and its language."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from patron.core import service as core_service
from patron.core.db import get_read_engine, session_factory, transaction
from patron.core.errors import Unauthorized
from patron.core.groupcommit import GroupCommitter
from patron.core.i18n import negotiate, normalize_locale
from patron.core.keycache import recent_keys
from patron.core.models import User, Workspace
from patron.core.security import digest_api_key
from patron.core.settings import get_settings


def get_session() -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back when it raises."""
    with session_factory()() as session, session.begin():
        yield session


#: ``scope="function"``: the transaction ends when the route returns, before the response is sent. FastAPI's
#: default ("request") commits only after the response has gone out: a browser following a form's 303 redirect
#: could read the page before the answer it had just sent was committed (the survey's next page showed the same
#: question again; a handled post still waited), and a commit that failed came after a success was sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session() -> Iterator[Session]:
    """For pages that only read: on SQLite a snapshot outside the writer queue, so a slow page never holds
    writers (survey answers) back."""
    with session_factory(get_read_engine())() as session, session.begin():
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
T = TypeVar("T")


async def in_transaction(work: Callable[..., T], /, **kwargs: Any) -> T:
    """Run ``work(session, **kwargs)`` in one worker thread inside one transaction that begins and ends there.

    API routes use this instead of ``SessionDep``. With a yield-dependency session, FastAPI serialises a sync
    route's ``response_model`` in another worker thread before the dependency commits; under load every worker
    was waiting for a database connection (or SQLite's writer lock) held by a request that was waiting for a
    worker: the server stopped answering at 64 concurrent clients. Measured and fixed (docs/benchmarks.md)."""

    def run() -> T:
        with transaction() as session:
            return work(session, **kwargs)

    return await run_in_threadpool(run)


#: The process's group committer for small API writes that arrive many at a time (survey responses).
group_commit = GroupCommitter()


async def in_group_commit(work: Callable[..., T], /, **kwargs: Any) -> T:
    """Like ``in_transaction``, but ``work`` shares a transaction with the writes that arrive beside it
    (``core.groupcommit``); the reply still waits for the commit that holds this write."""
    result: T = await asyncio.wrap_future(group_commit.submit(work, **kwargs))
    return result


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The API key, as an alternative header"
)


def _verify_api_key(raw: str) -> Workspace:
    with transaction() as session:
        api_key = core_service.authenticate_api_key(session, raw)
        workspace = session.get_one(Workspace, api_key.workspace_id)
        session.expunge(workspace)
    return workspace


async def api_workspace(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> Workspace:
    """The workspace the API key belongs to. Nothing in the request can name another workspace.

    A key verified in the last 2 seconds (``keycache.KEY_TTL_SECONDS``) is answered from memory on the event
    loop; otherwise it is checked in a worker thread, in its own short transaction, so a long request (an
    upload) never holds the write lock that recording the key's last use takes on SQLite."""
    return await workspace_for_key(bearer.credentials if bearer else header_key)


async def workspace_for_key(raw: str | None) -> Workspace:
    """The workspace of API key ``raw``, from memory when verified in the last 2 seconds; Unauthorized
    otherwise. Also called before a request body is read (``web.limits``)."""
    if not raw:
        raise Unauthorized("auth.bad_api_key")
    digest = digest_api_key(raw.strip())
    cached = recent_keys.recall(digest)
    if isinstance(cached, Workspace):
        return cached
    # One check per key at a time: when a busy key's 2 s were up, every request in flight (32 under the ingest
    # bench) ran its own check at once, queued for database connections, and made the 99th percentile.
    loop = asyncio.get_running_loop()
    checking = _checking.get((loop, digest))
    if checking is None:
        checking = _checking[(loop, digest)] = loop.create_task(_check_and_remember(raw, digest))
        checking.add_done_callback(lambda _: _checking.pop((loop, digest), None))
    return await asyncio.shield(checking)


_checking: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Task[Workspace]] = {}


async def _check_and_remember(raw: str, digest: str) -> Workspace:
    workspace = await run_in_threadpool(_verify_api_key, raw)
    recent_keys.remember(digest, workspace)
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


@lru_cache(maxsize=8)
def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in text.replace(" ", ",").split(","):
        if item.strip():
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return tuple(networks)


def _within(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed.version == net.version and parsed in net for net in networks)


def client_address(request: Request) -> str:
    """The caller's network address: the peer's, unless the peer is a proxy named in ``PATRON_TRUSTED_PROXIES``;
    then the nearest address in ``X-Forwarded-For`` that is not one of those proxies (the ones further left
    were written by the client and prove nothing). ``patron serve`` tells uvicorn to leave the header alone."""
    peer = request.client.host if request.client else "unknown"
    trusted = _networks(get_settings().trusted_proxies)
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop if _is_address(hop) else peer
    return peer


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
