"""Settings read from the environment (prefix ``PATRON_``) so one build runs on a laptop and in production."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def local_url(host: str, port: int) -> str:
    """The address a browser on this machine uses for a server listening on ``host:port`` (one listening on every
    interface is reached at the loopback address)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATRON_", env_file=".env", extra="ignore")

    var_dir: Path = DEFAULT_VAR_DIR
    database_url: str = ""
    secret_key: str = ""
    default_workspace: str = "demo"
    default_locale: str = "zh-Hant"
    # Uploads above this size are refused before they are read into the importer.
    max_upload_bytes: int = 1024 * 1024 * 1024
    #: Every other request body (JSON, forms) above this size is refused with 413 before it is parsed.
    max_body_bytes: int = 16 * 1024 * 1024
    #: Bounds on what one imported file may hold, so a hostile file cannot take the server's memory or CPU
    #: (issue 18): a cell's characters, a physical line's characters, how many lines one quoted CSV record may
    #: span, columns, cells of a spreadsheet (rows × columns) and the unzipped size of a workbook.
    import_max_cell_chars: int = 32 * 1024
    import_max_line_chars: int = 1024 * 1024
    import_max_record_lines: int = 32
    import_max_columns: int = 1024
    import_max_sheet_cells: int = 20_000_000
    import_max_unzipped_bytes: int = 1024 * 1024 * 1024
    #: On SQLite an import holds the one write lock for its whole transaction: files above this size get a
    #: notice from the CLI to run them off-hours.
    sqlite_large_import_bytes: int = 50 * 1024 * 1024
    echo_sql: bool = False
    #: Transactions the server's group committer (``core.groupcommit``) keeps in flight at once on PostgreSQL:
    #: while one waits for the server, the next group is prepared. SQLite has one writer whatever this says.
    group_commit_writers: int = Field(2, ge=1, le=16)
    #: Where respondents reach this server: the base of survey and unsubscribe links in emails
    #: (``PATRON_BASE_URL``; ``PATRON_PUBLIC_BASE_URL`` is its older name). Empty: the address ``patron serve``
    #: listens on, which it passes to its workers as ``PATRON_BASE_URL`` (``base_url``).
    public_base_url: str = Field(
        "", validation_alias=AliasChoices("PATRON_BASE_URL", "PATRON_PUBLIC_BASE_URL")
    )
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 20.0
    mail_from: str = "Patron <no-reply@localhost>"
    #: How often the server's background dispatcher sends due webhook deliveries; 0 turns it off (use cron
    #: with ``patron webhooks deliver`` instead).
    webhook_interval_seconds: float = 5.0
    #: Count every workspace's dashboard roll-up when the server starts, in the background, so the first
    #: visitor does not wait for it (seconds at a million responses).
    dashboard_warm_up: bool = True
    #: At start, analyse survey comments an earlier stop left unanalysed (``feedback.service.catch_up``).
    feedback_catch_up: bool = True
    #: The FAQ assistant's semantic re-rank (multilingual-e5, docs/assistant.md): each knowledge base's vectors
    #: are computed in the background after it changes (about 0.2 s an entry on one core), the lexical ranking
    #: answering meanwhile.
    assistant_semantic: bool = True
    #: English sentiment's second look (docs/text.md): the English texts the fast model is least sure of (about
    #: one in seven) are read again by the same sentence encoder, about 10 ms a short text on one core. Off: every
    #: text is scored by the fast model alone (about 20,000 English texts/s), less accurate on new domains.
    sentiment_second_look: bool = True
    #: New browsers one network address may start on one public survey link per 10 minutes (each becomes an
    #: invitation and counts in the response rate); 0 turns the limit off. A shop whose customers share its
    #: Wi-Fi address may need more.
    public_link_starts_per_address: int = 60
    #: Internal receivers an administrator trusts for outbound calls (webhooks): host names, addresses and
    #: CIDR networks, comma-separated (``hooks.internal,10.1.2.0/24``). Everything else inside the network
    #: (loopback, private, link-local, multicast, unspecified) is refused (``core/outbound.py``).
    outbound_allow: str = ""
    #: Reverse proxies whose ``X-Forwarded-For`` is believed (addresses or CIDR networks, comma-separated).
    #: Empty (the default): the client address is the peer's, whatever the header says.
    trusted_proxies: str = ""
    #: Send cookies with ``Secure`` (HTTPS only). Unset: on when the base URL (``PATRON_BASE_URL``) is https.
    secure_cookies: bool | None = None
    #: Failed logins before an account (per workspace and e-mail) or a client address is locked for a while;
    #: each further failure doubles the lock, up to 15 minutes.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20

    def base_url(self) -> str:
        """The configured public base URL, else the default address of ``patron serve``; no trailing slash."""
        return (self.public_base_url or local_url(DEFAULT_HOST, DEFAULT_PORT)).rstrip("/")

    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.base_url().lower().startswith("https://")

    def resolved_database_url(self) -> str:
        """The embedded SQLite file under ``var/`` unless a server URL is configured."""
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.var_dir / 'patron.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """A configured key, or one generated once and kept under ``var/`` so sessions survive restarts."""
        if self.secret_key:
            return self.secret_key
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.var_dir / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48), encoding="utf-8")
            key_file.chmod(0o600)
        return key_file.read_text(encoding="utf-8").strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
