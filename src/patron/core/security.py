"""Password hashing (argon2id) and API key minting/verification."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
API_KEY_PREFIX = "ptr"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_stand_in_hash: str | None = None


def waste_password_time(password: str) -> None:
    """Spend what checking ``password`` against a stored hash costs, for an account that does not exist, so the
    answer time does not tell whether it does (account enumeration by timing)."""
    global _stand_in_hash
    if _stand_in_hash is None:
        _stand_in_hash = _hasher.hash(secrets.token_urlsafe(16))
    verify_password(_stand_in_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def mint_api_key() -> tuple[str, str, str]:
    """Returns ``(full_key, lookup_prefix, digest)``; the full key is shown once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    full_key = f"{API_KEY_PREFIX}_{prefix}_{secret}"
    return full_key, prefix, digest_api_key(full_key)


def digest_api_key(full_key: str) -> str:
    # Keys carry 256 bits of entropy, so a fast digest is safe; argon2 here would slow every API call.
    return hashlib.sha256(full_key.encode("utf-8")).hexdigest()


def split_api_key(full_key: str) -> str | None:
    """The lookup prefix of a well-formed key, or None."""
    parts = full_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
