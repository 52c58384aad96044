"""A real HTTP server on 127.0.0.1 standing in for action targets (automation endpoint,
ticket system, chat webhook). It records every request by `Idempotency-Key`, verifies
HMAC signatures, and can be told to fail or hang per path."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its kept-alive connection is normal, not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


@dataclass
class StandIn:
    secret: str | None = None
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as real targets do: one connection (and one server thread)
            # serves many requests instead of a new one per call.
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                standin._handle(self, raw)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def behave(self, path_prefix: str, behaviour: Behaviour) -> None:
        self.behaviours[path_prefix] = behaviour

    def _behaviour(self, path: str) -> Behaviour:
        matches = [p for p in self.behaviours if path.startswith(p)]
        return self.behaviours[max(matches, key=len)] if matches else Behaviour()

    def _handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        key = handler.headers.get("Idempotency-Key")
        behaviour = self._behaviour(handler.path)
        with self._lock:
            seen_before = sum(1 for r in self.received if r.key == key and r.path == handler.path)
            self.received.append(
                Received(
                    handler.path,
                    key,
                    json.loads(raw or b"{}"),
                    dict(handler.headers.items()),
                    self._verify(handler.headers.get("X-Incident-Signature"), raw),
                    time.time(),
                )
            )
        if behaviour.hang_s:
            time.sleep(behaviour.hang_s)
        status = 503 if seen_before < behaviour.fail_first else behaviour.status
        body = b'{"ok": true}' if status < 400 else b'{"error": "stand-in told to fail"}'
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller gave up (a hang longer than its timeout)

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
        with self._lock:
            return [r for r in self.received if r.path.startswith(prefix)]

    def effects(self, prefix: str = "/") -> Counter[str | None]:
        """Requests per idempotency key under `prefix` (a count > 1 is a repeat)."""
        return Counter(r.key for r in self.by_path(prefix))

    def distinct_keys(self, prefix: str = "/") -> set[str | None]:
        return set(self.effects(prefix))
