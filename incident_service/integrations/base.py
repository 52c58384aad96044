"""What every vendor connector offers, and how vendor failures are classified.

    VendorError                 (IntegrationError in the domain tree)
     +-- retryable: 429, 5xx, timeouts, refused connections; `retry_after` from the vendor
     +-- permanent: any other 4xx (bad credentials, unknown project, invalid field): the
                    sync stops, the failure named on the incident's timeline

An error's message names the failure only ("HTTP 502 from jira", "timeout reaching
jira"): it is shown through the API (`last_error`, the timeline), and a remote server's
answer there would be a window on whatever that server is. The vendor's own words are kept
in `detail`, for the worker's log.

Connectors are synchronous (the vendor clients are) and run in a worker thread. Every
method is idempotent: `ensure` looks the record up by our incident_id first, so a retried
step never creates a second remote record.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

from incident_service.errors import IntegrationError


class VendorError(IntegrationError):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool,
        retry_after: float | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.detail = detail


def classify(system: str, status: int | None, detail: str, retry_after: str | None) -> VendorError:
    """A vendor answer or transport failure as a VendorError (status None: no answer)."""
    retryable = status is None or status == 429 or status >= 500
    where = f"HTTP {status} from {system}" if status is not None else f"{system} unreachable"
    return VendorError(
        where,
        status=status,
        retryable=retryable,
        retry_after=parse_retry_after(retry_after),
        detail=detail[:1000],
    )


def transport_error(system: str, exc: BaseException) -> VendorError:
    """No answer from the vendor, named by what failed: timeout, connection refused, TLS
    error, or connection failed (name resolution, reset, ...)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    names = " ".join(type(e).__name__ for e in chain).lower()
    if any(isinstance(e, TimeoutError) for e in chain) or "timeout" in names:
        what = f"timeout reaching {system}"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain):
        what = f"connection refused by {system}"
    elif any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in names:
        what = f"TLS error with {system}"
    else:
        what = f"connection to {system} failed"
    return VendorError(what, retryable=True, detail=f"{type(exc).__name__}: {exc}"[:1000])


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """What a connector needs to know of our incident."""

    incident_id: str
    title: str
    description: str
    severity: str
    status: str
    team: str
    services: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RemoteRecord:
    remote_id: str
    remote_key: str | None
    url: str | None
    status: str | None


class Connector(Protocol):
    system: str

    def find(self, incident: IncidentFacts) -> RemoteRecord | None:
        """The remote record made for this incident, looked up by our incident_id."""
        ...

    def create(self, incident: IncidentFacts) -> RemoteRecord: ...

    def mirror_status(
        self, record: RemoteRecord, incident: IncidentFacts, note: str | None
    ) -> RemoteRecord:
        """Move the remote record to the state matching ours (a no-op when it is there)."""
        ...

    def add_note(self, record: RemoteRecord, text: str) -> None: ...


def ensure(connector: Connector, incident: IncidentFacts) -> tuple[RemoteRecord, bool]:
    """The incident's remote record, created only when a lookup finds none."""
    found = connector.find(incident)
    if found is not None:
        return found, False
    return connector.create(incident), True
