"""Outbound HTTP that cannot be turned against the network Patron runs in (server-side request forgery).

Every URL Patron will call on a user's say-so (webhooks today; connectors and bots later) goes through
``check_url``: the scheme is http or https, the URL carries no credentials (``user:pass@``), and the host is
resolved here and **every** address it resolves to must be a public one. Refused: loopback, private (RFC 1918,
unique-local ``fc00::/7``), link-local (``169.254/16``, which holds cloud metadata services, and ``fe80::/10``),
multicast, unspecified (``0.0.0.0``, ``::``), reserved and shared (``100.64/10``) addresses, including IPv4
written as one decimal number (``http://2130706433/``) and IPv4-mapped IPv6 (``[::ffff:127.0.0.1]``), which
the resolver reduces to the address they name.

An administrator trusts an internal receiver with ``PATRON_OUTBOUND_ALLOW``: a comma-separated list of host
names and addresses or networks in CIDR form (``hooks.internal,10.1.2.0/24,127.0.0.1``).

The check runs when a URL is registered **and** again before each request, and the request then connects to
the address just checked (``pinned``), never to a fresh resolution: a name that resolved to a public address
at registration and to ``127.0.0.1`` a second later (DNS rebinding) is refused, not followed."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from patron.core.errors import PatronError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
#: IPv6 addresses a NAT64 gateway translates to the IPv4 address in their last 32 bits (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class OutboundRefused(PatronError):
    status = 400


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, as a connection would use it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


#: The resolver ``check_url`` uses unless given another (tests replace it to play DNS rebinding).
resolve: Resolver = system_resolve


@dataclass(frozen=True)
class Allowlist:
    hosts: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, text: str) -> Allowlist:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for item in text.replace(";", ",").replace(" ", ",").split(","):
            item = item.strip().strip("[]").lower()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def trusts(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


def configured_allowlist() -> Allowlist:
    from patron.core.settings import get_settings

    return Allowlist.parse(get_settings().outbound_allow)


@dataclass(frozen=True)
class Target:
    """A checked URL and the address a request to it must connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    def pinned(self) -> tuple[str, dict[str, str], dict[str, str]]:
        """``(url, headers, extensions)`` for httpx: the URL names the checked address; ``Host`` and, for https,
        the TLS server name (``sni_hostname``, also what the certificate is checked against) name the host."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        default = {"http": 80, "https": 443}[self.scheme]
        netloc = literal if self.port == default else f"{literal}:{self.port}"
        host_header = parts.netloc
        url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        extensions = {"sni_hostname": self.host} if self.scheme == "https" else {}
        return url, {"Host": host_header}, extensions


def _kind(address: IPAddress) -> str | None:
    """Why ``address`` is inside the network (a word for the message), or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _kind(embedded)
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    return None if address.is_global else "private"


def check_url(url: str, *, allow: Allowlist | None = None, resolver: Resolver | None = None) -> Target:
    """The URL's target if Patron may call it; ``OutboundRefused`` with a translated reason otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused("outbound.bad_url", url=url) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("outbound.bad_url", url=url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise OutboundRefused("outbound.credentials_in_url")
    host = parts.hostname.lower().rstrip(".")
    port = port or (443 if scheme == "https" else 80)
    allow = allow if allow is not None else configured_allowlist()
    addresses = (resolver or resolve)(host, port)
    if not addresses:
        raise OutboundRefused("outbound.unresolvable", host=host)
    host_trusted = host in allow.hosts
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        kind = _kind(address)
        if kind is not None and not host_trusted and not allow.trusts(address):
            raise OutboundRefused("outbound.inside_network", host=host, address=str(address), kind=kind)
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, address=addresses[0].split("%", 1)[0])


def redact(url: str) -> str:
    """The URL without any credentials it carries (for showing URLs stored before they were refused)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))
