"""Sending email over SMTP. Other channels (SMS, LINE, push) will implement the same ``Mailer`` shape."""

from __future__ import annotations

import contextlib
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Protocol

from patron.core.settings import Settings, get_settings


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    to_name: str = ""


class Mailer(Protocol):
    def send(self, message: Message) -> None: ...


class MailError(Exception):
    """The server refused or could not be reached; the caller records it and moves on."""


class SmtpMailer:
    """One connection per batch (``with mailer:``) so a thousand invitations are not a thousand handshakes."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpMailer:
        s = self.settings
        try:
            self._smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            if s.smtp_starttls:
                self._smtp.starttls()
            if s.smtp_username:
                self._smtp.login(s.smtp_username, s.smtp_password)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"cannot reach the mail server {s.smtp_host}:{s.smtp_port}: {exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None

    def send(self, message: Message) -> None:
        if self._smtp is None:
            raise MailError("SmtpMailer.send outside 'with mailer:'")
        email = EmailMessage()
        email["From"] = self.settings.mail_from
        email["To"] = formataddr((message.to_name, message.to)) if message.to_name else message.to
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain="patron.local")
        for name, value in message.headers.items():
            email[name] = value
        email.set_content(message.text)
        email.add_alternative(message.html, subtype="html")
        try:
            self._smtp.send_message(email)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(str(exc)) from exc
