"""The action targets' stand-in (automation endpoint, ticket system, chat webhook), on the
`testkit.standin` framework: every POST is recorded by `Idempotency-Key` with its HMAC
signature checked, and a path prefix can be told to fail its first requests or hang."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass
from typing import Any

from testkit.standin import Answer, Call
from testkit.standin import StandIn as StandInServer

# The signing secret the worker and the API are configured with in tests and benchmarks.
SECRET = "test-signing-secret-0123456789"


@dataclass
class Received:
    path: str
    key: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    signature_ok: bool | None
    at: float


@dataclass
class Behaviour:
    fail_first: int = 0  # answer 503 to the first N requests of each idempotency key
    status: int = 200  # then answer this
    hang_s: float = 0.0  # sleep before answering


class StandIn(StandInServer):
    routes = [("POST", "(/.*)", "_receive")]
    name = "action targets"

    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        self.secret = secret
        self.behaviours: dict[str, Behaviour] = {}
        self.received: list[Received] = []

    def start(self) -> StandIn:
        super().start()
        return self

    def behave(self, path_prefix: str, behaviour: Behaviour) -> None:
        with self.lock:
            self.behaviours[path_prefix] = behaviour

    def error_body(self, status: int, message: str) -> Any:
        return {"error": message}

    def _behaviour(self, path: str) -> Behaviour:
        matches = [p for p in self.behaviours if path.startswith(p)]
        return self.behaviours[max(matches, key=len)] if matches else Behaviour()

    def _receive(self, call: Call, path: str) -> Answer:
        # Called with the lock held (the framework routes under it).
        key = call.headers.get("idempotency-key")
        behaviour = self._behaviour(path)
        seen_before = sum(1 for r in self.received if r.key == key and r.path == path)
        self.received.append(
            Received(
                path,
                key,
                call.body if isinstance(call.body, dict) else {},
                call.headers,
                self._verify(call.headers.get("x-incident-signature"), call.raw),
                call.at,
            )
        )
        call.hold_s = behaviour.hang_s
        status = 503 if seen_before < behaviour.fail_first else behaviour.status
        body = {"ok": True} if status < 400 else {"error": "stand-in told to fail"}
        return status, body, {}

    def _verify(self, header: str | None, raw: bytes) -> bool | None:
        if self.secret is None:
            return None
        if not header:
            return False
        parts = dict(p.split("=", 1) for p in header.split(","))
        expected = hmac.new(
            self.secret.encode(), parts["t"].encode() + b"." + raw, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, parts.get("v1", ""))

    # --- what tests ask --------------------------------------------------------------

    def by_path(self, prefix: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path.startswith(prefix)]

    def effects(self, prefix: str = "/") -> Counter[str | None]:
        """Requests per idempotency key under `prefix` (a count > 1 is a repeat)."""
        return Counter(r.key for r in self.by_path(prefix))

    def distinct_keys(self, prefix: str = "/") -> set[str | None]:
        return set(self.effects(prefix))


def targets_env(standin: StandIn) -> dict[str, str]:
    """A worker's settings pointing every action target and the chat webhook at `standin`."""
    return {
        "AUTOMATION_URL": f"{standin.url}/automation",
        "AUTOMATION_SECRET": SECRET,
        "TICKET_URL": f"{standin.url}/tickets",
        "NOTIFY_WEBHOOK_URL": f"{standin.url}/chat",
        "NOTIFY_WEBHOOK_SECRET": SECRET,
    }
