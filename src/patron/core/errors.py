"""One error base with stable codes; the web layer turns it into a translated JSON or page answer."""

from __future__ import annotations

from typing import Any


class PatronError(Exception):
    """A failure the user can act on. ``code`` is stable and is also the message-catalog key."""

    status: int = 400

    def __init__(self, code: str, status: int | None = None, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        if status is not None:
            self.status = status
        self.params = params

    def message(self, locale: str | None = None) -> str:
        from patron.core.i18n import translate

        return translate(self.code, locale, **self.params)

    def details(self, locale: str | None = None) -> list[dict[str, Any]]:
        """Per-item problems (each with where and what), for errors that cover several at once."""
        return []

    def __str__(self) -> str:
        return self.message("en")


class NotFound(PatronError):
    status = 404


class Conflict(PatronError):
    status = 409


class Unauthorized(PatronError):
    status = 401


class Forbidden(PatronError):
    status = 403
