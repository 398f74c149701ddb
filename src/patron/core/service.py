"""Workspaces, users and API keys. Functions take a session and never commit: the caller owns the transaction."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patron.core import security
from patron.core.clock import utcnow
from patron.core.errors import Conflict, NotFound, PatronError, Unauthorized
from patron.core.i18n import LOCALES, normalize_locale
from patron.core.keycache import recent_keys
from patron.core.models import ApiKey, LoginSession, Role, User, Workspace
from patron.core.money import known_currencies
from patron.core.tenancy import scoped

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: How long a login lasts without logging in again (the cookie's max-age too).
SESSION_LIFETIME = timedelta(days=14)


def create_workspace(
    session: Session,
    *,
    slug: str,
    name: str,
    timezone: str = "Asia/Taipei",
    currency: str = "TWD",
    default_locale: str = "zh-Hant",
    industry: str | None = None,
) -> Workspace:
    if not SLUG_PATTERN.match(slug):
        raise PatronError("workspace.bad_slug", slug=slug)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PatronError("workspace.bad_timezone", timezone=timezone) from exc
    if currency not in known_currencies():
        raise PatronError("workspace.bad_currency", currency=currency)
    locale = normalize_locale(default_locale)
    if locale not in LOCALES:
        raise PatronError("workspace.bad_locale", locale=default_locale, choices=list(LOCALES))
    if session.scalar(select(Workspace.id).where(Workspace.slug == slug)) is not None:
        raise Conflict("workspace.exists", slug=slug)
    workspace = Workspace(
        slug=slug, name=name, timezone=timezone, currency=currency, default_locale=locale, industry=industry
    )
    session.add(workspace)
    session.flush()
    return workspace


def get_workspace(session: Session, slug: str) -> Workspace:
    workspace = session.scalar(select(Workspace).where(Workspace.slug == slug))
    if workspace is None:
        raise NotFound("workspace.not_found", slug=slug)
    return workspace


def list_workspaces(session: Session) -> list[Workspace]:
    return list(session.scalars(select(Workspace).order_by(Workspace.slug)))


def create_user(
    session: Session,
    *,
    workspace_id: int,
    email: str,
    password: str,
    role: str = Role.ADMIN.value,
    display_name: str = "",
    locale: str | None = None,
) -> User:
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise PatronError("user.bad_email", email=email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PatronError("user.short_password", minimum=MIN_PASSWORD_LENGTH)
    if role not in {r.value for r in Role}:
        raise PatronError("user.bad_role", role=role, choices=[r.value for r in Role])
    if session.scalar(scoped(User, workspace_id, User.email == email)) is not None:
        raise Conflict("user.exists", email=email)
    user = User(
        workspace_id=workspace_id,
        email=email,
        password_hash=security.hash_password(password),
        role=role,
        display_name=display_name,
        locale=normalize_locale(locale),
    )
    session.add(user)
    session.flush()
    return user


def authenticate_user(session: Session, *, workspace_id: int, email: str, password: str) -> User:
    """An unknown or disabled account costs the same password-hash time as a known one."""
    user = session.scalar(scoped(User, workspace_id, User.email == email.strip().lower()))
    if user is None or user.disabled:
        security.waste_password_time(password)
        raise Unauthorized("auth.bad_credentials")
    if not security.verify_password(user.password_hash, password):
        raise Unauthorized("auth.bad_credentials")
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    user.last_login_at = utcnow()
    return user


def _session_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_login_session(session: Session, *, user: User) -> str:
    """A new server-side login for ``user``; returns the token its cookie carries (stored only as a digest).
    The user's expired logins are removed on the way."""
    now = utcnow()
    session.execute(
        delete(LoginSession).where(
            LoginSession.workspace_id == user.workspace_id,
            LoginSession.user_id == user.id,
            LoginSession.expires_at <= now,
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(digest=_session_digest(token), workspace_id=user.workspace_id, user_id=user.id,
                             created_at=now, expires_at=now + SESSION_LIFETIME))  # fmt: skip
    session.flush()
    return token


def login_session_user(session: Session, *, token: str) -> User | None:
    """The active user a live login token belongs to, or None (logged out, expired, unknown, user disabled)."""
    if not token:
        return None
    return session.scalar(
        select(User)
        .join(LoginSession, (LoginSession.user_id == User.id) & (LoginSession.workspace_id == User.workspace_id))
        .where(LoginSession.digest == _session_digest(token), LoginSession.expires_at > utcnow(),
               User.disabled.is_(False))
    )  # fmt: skip


def end_login_session(session: Session, *, token: str) -> None:
    """Logging out: the token opens nothing from now on, whoever holds a copy."""
    if token:
        session.execute(delete(LoginSession).where(LoginSession.digest == _session_digest(token)))


def get_user(session: Session, *, workspace_id: int, user_id: int) -> User | None:
    return session.scalar(scoped(User, workspace_id, User.id == user_id, User.disabled.is_(False)))


def create_api_key(
    session: Session, *, workspace_id: int, name: str, created_by_id: int | None = None
) -> tuple[ApiKey, str]:
    """Returns the stored key row and the full secret, which exists only in this return value."""
    full_key, prefix, digest = security.mint_api_key()
    api_key = ApiKey(
        workspace_id=workspace_id, name=name, prefix=prefix, key_digest=digest, created_by_id=created_by_id
    )
    session.add(api_key)
    session.flush()
    return api_key, full_key


def list_api_keys(session: Session, *, workspace_id: int) -> list[ApiKey]:
    return list(session.scalars(scoped(ApiKey, workspace_id).order_by(ApiKey.id)))


def revoke_api_key(session: Session, *, workspace_id: int, prefix: str) -> ApiKey:
    api_key = session.scalar(scoped(ApiKey, workspace_id, ApiKey.prefix == prefix))
    if api_key is None:
        raise NotFound("apikey.not_found", prefix=prefix)
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
    recent_keys.forget_all()
    return api_key


def authenticate_api_key(session: Session, full_key: str) -> ApiKey:
    """The key's row if the key is valid and live. The workspace comes from the key, never from the request."""
    prefix = security.split_api_key(full_key.strip())
    api_key = None if prefix is None else session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if (
        api_key is None
        or api_key.revoked_at is not None
        or not security.digests_match(api_key.key_digest, security.digest_api_key(full_key.strip()))
    ):
        raise Unauthorized("auth.bad_api_key")
    now = utcnow()
    # Written at most once a minute: a write on every call would serialise all API traffic on SQLite.
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        api_key.last_used_at = now
    return api_key
