"""Webhooks cannot reach inside the network: refused at registration and again at delivery, against the address
the request then connects to (DNS rebinding); credentials in URLs refused; secrets never listed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core import outbound
from patron.core.db import transaction
from patron.core.settings import get_settings
from patron.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.web.conftest import Tenant
from tests.webhooks.test_webhooks import Receiver, _deliver, _respond, _setup, allow_loopback, receiver

__all__ = ["allow_loopback", "receiver"]

INSIDE = [
    ("http://127.0.0.1:8000/hook", "loopback"),
    ("http://localhost/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://2130706433/hook", "loopback"),
    ("http://0x7f.1/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://[::ffff:10.0.0.1]/hook", "private"),
    ("http://[64:ff9b::7f00:1]/hook", "loopback"),
    ("http://[2002:a9fe:a9fe::1]/hook", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[fd00::1]/hook", "private"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://100.64.0.1/hook", "private"),
]


def fake_dns(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        return table.get(host) or outbound.system_resolve(host, port)

    return resolve


@pytest.mark.parametrize(("url", "kind"), INSIDE)
def test_addresses_inside_the_network_are_refused(url: str, kind: str) -> None:
    with pytest.raises(outbound.OutboundRefused) as refused:
        outbound.check_url(url, allow=outbound.Allowlist.parse(""))
    assert refused.value.code == "outbound.inside_network"
    assert refused.value.params["kind"] == kind


def test_public_addresses_pass_and_the_allowlist_admits_trusted_receivers() -> None:
    public = fake_dns(
        {"hooks.example.com": ["93.184.215.14"], "mixed.example.com": ["93.184.215.14", "10.0.0.5"]}
    )
    target = outbound.check_url(
        "https://hooks.example.com/in?x=1", allow=outbound.Allowlist.parse(""), resolver=public
    )
    assert (target.host, target.port, target.address) == ("hooks.example.com", 443, "93.184.215.14")
    assert target.pinned() == (
        "https://93.184.215.14/in?x=1",
        {"Host": "hooks.example.com"},
        {"sni_hostname": "hooks.example.com"},
    )
    with pytest.raises(outbound.OutboundRefused, match=r"10\.0\.0\.5"):
        outbound.check_url("http://mixed.example.com/", allow=outbound.Allowlist.parse(""), resolver=public)
    allow = outbound.Allowlist.parse("10.0.0.0/8, hooks.internal ,::1")
    assert (
        outbound.check_url("http://mixed.example.com/", allow=allow, resolver=public).address
        == "93.184.215.14"
    )
    assert outbound.check_url("http://[::1]:9000/x", allow=allow).pinned()[0] == "http://[::1]:9000/x"
    internal = fake_dns({"hooks.internal": ["192.168.7.7"]})
    assert (
        outbound.check_url("http://hooks.internal/", allow=allow, resolver=internal).address == "192.168.7.7"
    )
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url("http://127.0.0.1/", allow=allow)


@pytest.mark.parametrize("url", ["http://user:pass@93.184.215.14/hook", "https://token@93.184.215.14/"])
def test_credentials_in_urls_are_refused(url: str) -> None:
    with pytest.raises(outbound.OutboundRefused) as refused:
        outbound.check_url(url, allow=outbound.Allowlist.parse("0.0.0.0/0"))
    assert refused.value.code == "outbound.credentials_in_url"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/hook", "http://localhost/hook", "http://[::1]/hook", "http://0.0.0.0/hook",
     "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://user:s3cr3t@127.0.0.1/"],
)  # fmt: skip
def test_registration_refuses_inside_addresses_and_credentials(
    client: TestClient, tenant: Tenant, engine: Engine, url: str
) -> None:
    answer = client.post("/api/v1/webhooks", headers=tenant.headers, json={"url": url})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] in ("outbound.inside_network", "outbound.credentials_in_url")
    assert "s3cr3t" not in answer.text
    with transaction(engine) as session:
        stored = session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == tenant.workspace.id)
        )
        assert list(stored) == []


def test_a_name_that_moves_inside_after_registration_is_refused_at_delivery(
    client: TestClient, tenant: Tenant, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"rebind.example.com": ["93.184.215.14"]}
    monkeypatch.setattr(outbound, "resolve", fake_dns(answers))
    _setup(client, tenant, "http://rebind.example.com/hook")
    _respond(client, tenant)
    answers["rebind.example.com"] = ["127.0.0.1"]
    assert _deliver(engine).retrying >= 1  # other tests' deliveries may fall due in the same pass
    with transaction(engine) as session:
        delivery = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.workspace_id == tenant.workspace.id)
        ).one()
        assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("pending", 1, None)
        assert delivery.last_error is not None and "127.0.0.1" in delivery.last_error


def test_delivery_connects_to_the_address_it_checked(
    client: TestClient, tenant: Tenant, engine: Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hooks.patron.test`` exists only in the resolver the check uses: the delivery arriving proves the request
    went to the checked address, with the name in ``Host``."""
    port = receiver.server.server_address[1]
    monkeypatch.setattr(outbound, "resolve", fake_dns({"hooks.patron.test": ["127.0.0.1"]}))
    _setup(client, tenant, f"http://hooks.patron.test:{port}/hooks/patron")
    _respond(client, tenant)
    assert _deliver(engine).delivered == 1
    [(headers, _body)] = receiver.received
    assert headers["Host"] == f"hooks.patron.test:{port}"


def test_the_list_never_shows_secrets_nor_credentials(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    """An endpoint stored with credentials before they were refused is listed without them."""
    with transaction(engine) as session:
        session.add(WebhookEndpoint(workspace_id=tenant.workspace.id, url="https://bob:hunter2@hooks.example.com/x",
                                    events=["response.completed"], secret="whsec_do_not_show"))  # fmt: skip
    listed = client.get("/api/v1/webhooks", headers=tenant.headers)
    assert listed.status_code == 200
    assert [item["url"] for item in listed.json()] == ["https://hooks.example.com/x"]
    assert "hunter2" not in listed.text and "whsec_" not in listed.text


def test_the_allow_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_OUTBOUND_ALLOW", "127.0.0.1,10.0.0.0/8")
    get_settings.cache_clear()
    try:
        assert outbound.check_url("http://127.0.0.1:5000/").address == "127.0.0.1"
        assert outbound.check_url("http://10.9.9.9/").address == "10.9.9.9"
    finally:
        monkeypatch.delenv("PATRON_OUTBOUND_ALLOW")
        get_settings.cache_clear()
