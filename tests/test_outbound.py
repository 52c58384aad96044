"""The outbound address policy: user-set URLs reach public addresses only, checked when
stored and again at connection time (DNS can change in between)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from incident_service.config import Settings
from incident_service.http import HttpClient, HttpRefused, HttpUnreachable
from incident_service.outbound import (
    AddressRefused,
    OutboundPolicy,
    Unresolvable,
    parse_networks,
    redact_url,
)

STRICT = OutboundPolicy()
LOCAL = OutboundPolicy(parse_networks("127.0.0.0/8,::1/128"))

# Every spelling of an internal target the service once accepted, and a few more.
HOSTILE = [
    "http://127.0.0.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:6379/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::1]/",
    "http://localhost/",
    "http://user:pass@example.com/",
    "http://token@example.com/",
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/",
]


@pytest.mark.parametrize("url", HOSTILE)
async def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(AddressRefused):
        await STRICT.check_url(url)


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            msg = f"{host} does not resolve"
            raise Unresolvable(msg)
        return list(table[host])

    return resolve


async def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    policy = OutboundPolicy(
        resolver=_resolver(
            {
                "hooks.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
                "internal.example": ["10.1.2.3"],
                "mixed.example": ["93.184.215.14", "192.168.0.10"],
                "metadata.example": ["::ffff:169.254.169.254"],
            }
        )
    )
    await policy.check_url("https://hooks.example/incidents?x=1")
    for name in ("internal.example", "mixed.example", "metadata.example"):
        with pytest.raises(AddressRefused, match="resolves to"):
            await policy.check_url(f"https://{name}/")
    with pytest.raises(Unresolvable):
        await policy.check_url("https://nowhere.example/")


async def test_the_real_resolver_resolves_odd_spellings_and_localhost() -> None:
    # getaddrinfo, as a connection would: these are all 127.0.0.1.
    for host in ("localhost", "127.1", "0x7f000001", "2130706433"):
        assert "127.0.0.1" in await LOCAL.addresses(host, 80)
        with pytest.raises(AddressRefused, match="loopback"):
            await STRICT.addresses(host, 80)


def test_allowed_networks_let_an_operator_reach_internal_receivers() -> None:
    policy = OutboundPolicy(parse_networks(" 10.0.0.0/8 , fd00::/8"))
    assert policy.refusal("10.1.2.3") is None
    assert policy.refusal("::ffff:10.1.2.3") is None  # the same address, IPv4-mapped
    assert policy.refusal("fd00::5") is None
    assert policy.refusal("192.168.1.1") is not None
    assert policy.refusal("127.0.0.1") is not None
    assert STRICT.refusal("8.8.8.8") is None


def test_the_setting_reads_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTBOUND_ALLOW_NETWORKS", "10.0.0.0/8, ::1/128")
    networks = Settings(database_url="postgresql://x/y").outbound_allow_networks
    assert [str(n) for n in networks] == ["10.0.0.0/8", "::1/128"]
    assert Settings(database_url="postgresql://x/y", _env_file=None).outbound_allow_networks
    monkeypatch.delenv("OUTBOUND_ALLOW_NETWORKS")
    assert Settings(database_url="postgresql://x/y", _env_file=None).outbound_allow_networks == []


def test_redact_url_strips_credentials() -> None:
    assert redact_url("https://u:p@hooks.example:8443/x?token=abc&team=a&api_key=k&sig=s") == (
        "https://hooks.example:8443/x?token=***&team=a&api_key=***&sig=***"
    )
    assert redact_url("https://hooks.example/x") == "https://hooks.example/x"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A minimal HTTP server on 127.0.0.1 that answers 204 and records each request."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(h.split(b":")[1])
                for h in head.split(b"\r\n")
                if h.lower().startswith(b"content-length")
            ),
            0,
        )
        seen.append(head + await reader.readexactly(length))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, seen


async def test_delivery_connects_only_to_addresses_the_policy_passes(receiver) -> None:  # type: ignore[no-untyped-def]
    port, seen = receiver
    # A name that was public when the URL was stored, and now points at loopback.
    table = {"rebind.example": ["93.184.215.14"]}
    policy = OutboundPolicy(resolver=_resolver(table))
    url = f"http://rebind.example:{port}/hook"
    await policy.check_url(url)
    table["rebind.example"] = ["127.0.0.1"]
    async with HttpClient(policy=policy) as client:
        with pytest.raises(HttpRefused, match="loopback"):
            await client.post(url, b"{}", {}, 2.0, user_url=True)
        for literal in (f"http://127.0.0.1:{port}/", f"http://[::ffff:127.0.0.1]:{port}/"):
            with pytest.raises(HttpRefused):
                await client.post(literal, b"{}", {}, 2.0, user_url=True)
        # Operator-configured URLs (user_url=False) are not subject to the policy.
        assert (await client.post(f"http://127.0.0.1:{port}/ops", b"{}", {}, 2.0)).status == 204
    assert len(seen) == 1 and b"/ops" in seen[0]

    # The real resolver, and an operator's allowance: localhost is reachable, then.
    async with HttpClient(policy=OutboundPolicy()) as client:
        with pytest.raises(HttpRefused):
            await client.post(f"http://localhost:{port}/x", b"{}", {}, 2.0, user_url=True)
    async with HttpClient(policy=LOCAL) as client:
        answer = await client.post(f"http://localhost:{port}/ok", b"{}", {}, 2.0, user_url=True)
    assert answer.status == 204 and len(seen) == 2


async def test_connection_failures_are_named_not_described() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with HttpClient(policy=LOCAL) as client:
        with pytest.raises(HttpUnreachable, match=r"^connection refused$"):
            await client.post(f"http://127.0.0.1:{port}/", b"{}", {}, 2.0, user_url=True)
        with pytest.raises(HttpUnreachable, match=r"^name does not resolve$"):
            await client.post("http://nowhere.invalid/", b"{}", {}, 2.0, user_url=True)
