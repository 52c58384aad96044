"""The outbound address policy: where a URL that an API user set may make the service go.

Any URL a caller can store through the API (today: webhook subscribers) is a request the
service will make from inside the network, so without a rule it is a port scanner and a
window on internal services (the cloud metadata endpoint, Redis, the admin ports). The rule:

- only `http` and `https`; no credentials inside the URL (use the signing secret);
- the host is resolved the way the operating system does (`getaddrinfo`, so `127.1`,
  `0x7f000001` and `2130706433` all mean 127.0.0.1) and EVERY address it resolves to must
  be public: loopback, private, link-local, shared (CGNAT), multicast, reserved and
  unspecified addresses are refused, as is an IPv6 address embedding one of those
  (IPv4-mapped, NAT64, 6to4, Teredo);
- an operator can allow networks with `OUTBOUND_ALLOW_NETWORKS` (a list of CIDRs).

It is checked when the URL is stored (a 400 naming the field) and again at every delivery,
since DNS can change in between: `incident_service.http` connects only to addresses this
policy passed at connection time, so a name re-pointed at 127.0.0.1 is refused, and the
refusal is recorded as a failed delivery. Operator-configured URLs (AUTOMATION_URL,
NOTIFY_WEBHOOK_URL, the vendors') are trusted and not subject to it.

A leaf module: no imports from the rest of the service, so every domain can use it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# (host, port) -> every address the host resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[list[str]]]

SCHEMES = frozenset({"http", "https"})
REFUSED = "refused by outbound address policy"

# The IPv6 prefix that carries an IPv4 address in its last 32 bits through NAT64.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The URL or one of its host's addresses is not allowed; the message says why."""


class Unresolvable(AddressRefused):
    """The host does not resolve to any address."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, through the OS resolver (as a connection would)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        msg = f"{host} does not resolve"
        raise Unresolvable(msg) from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_networks(value: str | Iterable[str | IPNetwork]) -> list[IPNetwork]:
    """`"10.0.0.0/8, fd00::/8"` (or a list) as networks; a bad entry raises ValueError."""
    items = value.split(",") if isinstance(value, str) else value
    networks: list[IPNetwork] = []
    for item in items:
        if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
            networks.append(item)
        elif item.strip():
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return networks


def _kind(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address, or None when it is."""
    checks = (
        ("an unspecified", ip.is_unspecified),
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a multicast", ip.is_multicast),
        ("a private", ip.is_private),
        ("a reserved", ip.is_reserved),
        ("a site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        ("a non-public", not ip.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


class OutboundPolicy:
    """Which addresses user-set URLs may reach; `resolver` is injectable for tests.

    A plain class, not a dataclass: Litestar would try to convert a dataclass dependency
    field by field."""

    __slots__ = ("allow", "resolver")

    def __init__(
        self, allow: Iterable[IPNetwork] = (), resolver: Resolver = system_resolver
    ) -> None:
        self.allow: tuple[IPNetwork, ...] = tuple(allow)
        self.resolver = resolver

    @classmethod
    def from_networks(
        cls, networks: Iterable[IPNetwork], resolver: Resolver = system_resolver
    ) -> OutboundPolicy:
        return cls(networks, resolver)

    def refusal(self, address: str) -> str | None:
        """Why `address` may not be reached, or None when it may."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        if any(ip in net for net in self.allow):
            return None
        embedded = _embedded_ipv4(ip)
        if embedded is not None and any(embedded in net for net in self.allow):
            return None
        kind = _kind(ip) or (_kind(embedded) if embedded is not None else None)
        if kind is None:
            return None
        return f"{kind} address, which outbound requests may not reach (OUTBOUND_ALLOW_NETWORKS)"

    async def addresses(self, host: str, port: int) -> list[str]:
        """Every address of `host`, all of them allowed; else AddressRefused."""
        found = await self.resolver(host.strip("[]"), port)
        if not found:
            msg = f"{host} does not resolve"
            raise Unresolvable(msg)
        for address in found:
            why = self.refusal(address)
            if why is not None:
                msg = f"{host} resolves to {why}"
                raise AddressRefused(msg)
        return found

    async def check_url(self, url: str) -> None:
        """The rule for a URL a user wants stored: scheme, no credentials, allowed host."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES:
            msg = "only http and https URLs are allowed"
            raise AddressRefused(msg)
        if parts.username is not None or parts.password is not None:
            msg = "credentials inside a URL are not accepted (use the signing secret)"
            raise AddressRefused(msg)
        if not parts.hostname:
            msg = "the URL has no host"
            raise AddressRefused(msg)
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError as exc:
            msg = "the URL's port is not a number in 0-65535"
            raise AddressRefused(msg) from exc
        await self.addresses(parts.hostname, port)


# Query parameter names whose values are credentials more often than not.
_SECRET_PARAM_WORDS = ("token", "key", "secret", "sig", "pass", "pwd", "auth", "credential")


def redact_url(url: str) -> str:
    """`url` without credentials: no `user:pass@`, secret-looking query values masked."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        masked = [
            (name, "***" if any(w in name.lower() for w in _SECRET_PARAM_WORDS) else value)
            for name, value in pairs
        ]
        query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def safe_url(url: str | None) -> str | None:
    """A URL fit to show: `redact_url`'s, and a value that is not a URL shows as nothing."""
    if not url:
        return url
    try:
        return redact_url(url)
    except ValueError:
        return None
