"""A real SMTP server on loopback that keeps what it receives, for the tests that send mail."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import Message as EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from patron.core.settings import get_settings
from tests.pg import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


def serving_inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """Points the settings at the server. A port found free can be taken before the server binds it (another
    connection's ephemeral port), so a refused bind is tried again on a new port."""
    handler = Inbox()
    for attempt in range(5):
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        try:
            controller.start()
            break
        except OSError:
            if attempt == 4:
                raise
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "public_base_url", "http://testserver")
    yield handler
    controller.stop()
