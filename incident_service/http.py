"""Outbound HTTP for the worker: actions, escalation notifications and event webhooks.

On aiohttp rather than httpx: with many requests in flight to one host, httpx's connection
pool cost an order of magnitude more CPU per POST (figures: docs/performance.md, the
workflows section), and the worker makes several of these calls per incident. One small
surface (`post`) keeps the choice in this module.

URLs that API users set (`post(..., user_url=True)`) go through a second session whose
resolver applies the outbound address policy (`incident_service.outbound`) at connection
time: the connection is made only to addresses the policy passed a moment before, so a
name re-pointed at an internal address after it was stored is refused (`HttpRefused`).
That session ignores HTTP(S)_PROXY: through a proxy the address connected to would not
be the one checked.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import urllib.request
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from incident_service.outbound import AddressRefused, OutboundPolicy, Unresolvable


class HttpError(Exception):
    """The request got no HTTP answer."""


class HttpTimeout(HttpError):
    """No complete answer within the timeout."""


class HttpUnreachable(HttpError):
    """The connection failed or broke (refused, reset, DNS, TLS); the message names which."""


class HttpRefused(HttpUnreachable):
    """The outbound address policy refused the target; nothing was sent."""


class _PolicyResolver(AbstractResolver):
    """Resolves through the policy: only allowed addresses are ever connected to."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._policy.addresses(host, port)  # AddressRefused propagates
        results: list[ResolveResult] = []
        for address in addresses:
            af = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family not in (socket.AF_UNSPEC, af):
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=af,
                    proto=0,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            msg = f"{host} has no address of the family asked for"
            raise OSError(msg)
        return results

    async def close(self) -> None:
        return None


def _reason(exc: BaseException) -> str:
    """A short name for a connection failure, never the remote's text."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "name does not resolve"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS error"
    os_error = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(os_error, ConnectionRefusedError) or (
        isinstance(os_error, OSError) and os_error.errno == errno.ECONNREFUSED
    ):
        return "connection refused"
    if isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError):
        return "connection closed by the remote"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection failed"
    return type(exc).__name__


@dataclass(frozen=True)
class HttpResponse:
    status: int
    text: str

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


class HttpClient:
    """A keep-alive connection pool shared by one process's outbound calls; use as an
    async context manager inside the event loop that makes the calls."""

    def __init__(self, max_connections: int = 200, policy: OutboundPolicy | None = None) -> None:
        self._max_connections = max_connections
        # No policy: user-set URLs may reach public addresses only.
        self._policy = policy or OutboundPolicy()
        self._session: aiohttp.ClientSession | None = None
        self._guarded: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0)
        # Honour HTTP(S)_PROXY / NO_PROXY as httpx did, but only when a proxy is set:
        # aiohttp re-reads the environment on every request when asked to trust it.
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=bool(urllib.request.getproxies())
        )
        guarded = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            resolver=_PolicyResolver(self._policy),
            use_dns_cache=False,  # every connection re-resolves and re-checks
        )
        self._guarded = aiohttp.ClientSession(connector=guarded, trust_env=False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._guarded is not None:
            await self._guarded.close()
            self._guarded = None

    def _check_literal(self, url: str) -> None:
        # aiohttp connects to an IP-literal host without asking the resolver.
        host = (urlsplit(url).hostname or "").strip("[]")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return  # a name: the policy resolver checks it at connection time
        why = self._policy.refusal(host)
        if why is not None:
            msg = f"{host} is {why}"
            raise HttpRefused(msg)

    async def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout_s: float,
        *,
        user_url: bool = False,
    ) -> HttpResponse:
        """POST `body`; the answer whatever its status, or HttpTimeout / HttpUnreachable
        (HttpRefused when `user_url` and the outbound address policy refuses the target).
        Redirects are not followed (a signed call goes where it was configured to)."""
        session = self._guarded if user_url else self._session
        if session is None:
            msg = "HttpClient used outside `async with`"
            raise RuntimeError(msg)
        if user_url:
            self._check_literal(url)
        try:
            async with session.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                return HttpResponse(response.status, raw.decode("utf-8", errors="replace"))
        except Unresolvable as exc:
            raise HttpUnreachable("name does not resolve") from exc
        except AddressRefused as exc:
            raise HttpRefused(str(exc)) from exc
        except TimeoutError as exc:
            raise HttpTimeout(str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise HttpUnreachable(_reason(exc)) from exc
