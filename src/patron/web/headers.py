"""Security headers on every answer (a plain ASGI middleware: nothing is buffered, the ingest path stays fast).

- ``Content-Security-Policy``: scripts, styles, images, fonts and connections from this origin only; no
  inline script (the pages have none: chart data travels as ``application/json`` blocks, which do not run;
  /docs sends its own policy naming the hash of Swagger UI's one inline start-up script). Inline *styles*
  are allowed: templates size tiles and charts with ``style`` attributes and htmx adds its indicator style;
  they cannot run code.
- Framing: ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` (no clickjacking of the admin pages), except
  the respondent pages asked for with ``embed=1`` (``/p/…`` and ``/s/…``), which a shop frames on its
  checkout page (the snippet ``GET /api/v1/surveys/{key}/embed`` gives), and the help centre with ``embed=1``
  (``/help/…``), the chat widget ``static/assistant-widget.js`` frames on a shop's pages, and the testimonials
  page with ``embed=1`` (``/t/…``), which a shop frames on its site.
- ``X-Content-Type-Options: nosniff``; ``Referrer-Policy: same-origin`` (survey links carry their token
  in the path: other sites are not told it).
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'"
)
POLICY = f"{BASE_POLICY}; frame-ancestors 'none'"
EMBEDDABLE_POLICY = f"{BASE_POLICY}; frame-ancestors *"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def policy_allowing_inline_scripts_of(html: str) -> str:
    """The policy, with the hash of each inline script ``html`` holds allowed to run (and nothing else)."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return POLICY.replace("script-src 'self'", " ".join(["script-src 'self'", *hashes]))


def embeddable(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    if not path.startswith(("/p/", "/s/", "/help/", "/t/")):
        return False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query.get("embed", [""])[-1] in ("1", "true")


def add_security_headers(headers: MutableHeaders, *, framed: bool = False) -> None:
    """The headers above, where the answer does not set its own. Also used by the handler of unexpected
    errors, whose answer Starlette sends from outside every middleware."""
    headers.setdefault("Content-Security-Policy", EMBEDDABLE_POLICY if framed else POLICY)
    if not framed:
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framed = embeddable(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(MutableHeaders(scope=message), framed=framed)
            await send(message)

        await self.app(scope, receive, send_with_headers)
