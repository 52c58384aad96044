"""The one stand-in server framework: a real HTTP(S) server on 127.0.0.1 that records every
request and injects faults (status codes with Retry-After, hangs, lost responses) by route.

Each subclass (the vendors in tests/standins/, the action targets in `testkit.targets`)
declares `routes` as (method, path regex, handler name); a handler gets the `Call` and
answers `(status, json body, headers)`, and may set `call.hold_s` to answer that much later
(a slow target; the wait holds no lock). Responses can be checked against the vendor's
OpenAPI document (`validator`), problems collected in `spec_errors`.
"""

from __future__ import annotations

import json
import re
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    raw: bytes
    host: str
    status: int = 0
    at: float = field(default_factory=time.monotonic)
    answered_at: float | None = None  # when the answer was written (None: not yet)
    hold_s: float = 0.0  # set by a handler: seconds to wait before answering

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    times: int
    status: int = 503
    retry_after: float | None = None
    hang_s: float = 0.0
    # True: do the work, then hang (the client times out on a request that succeeded).
    after: bool = False
    body: Any = None


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its kept-alive connection is normal, not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class StandIn:
    routes: list[tuple[str, str, str]] = []
    name = "vendor"

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.spec_errors: list[str] = []
        self.validator: Callable[[Call, int, Any], str | None] | None = None
        self.lock = threading.RLock()
        self._compiled = [(m, re.compile(f"^{p}$"), h) for m, p, h in self.routes]
        self._server: ThreadingHTTPServer | None = None

    # --- control -------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host}:{port}"

    def fail(
        self,
        method: str,
        path: str,
        status: int = 503,
        *,
        times: int = 1,
        retry_after: float | None = None,
        hang_s: float = 0.0,
        after: bool = False,
        body: Any = None,
    ) -> None:
        """The next `times` matching requests fail (or hang `hang_s`, before or `after`
        doing their work)."""
        with self.lock:
            self.faults.append(
                Fault(
                    method, re.compile(f"^{path}$"), times, status, retry_after, hang_s, after, body
                )
            )

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def requests(self, method: str | None = None, path: str | None = None) -> list[Call]:
        with self.lock:
            return [
                c
                for c in self.calls
                if (method is None or c.method == method)
                and (path is None or re.fullmatch(path, c.path))
            ]

    def start(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                standin._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(
                self._server.socket, server_side=True
            )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- serving -------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "code": status}}

    def _fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.pattern.match(path):
                    fault.times -= 1
                    return fault
        return None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        raw = h.rfile.read(int(h.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = Call(
            method=h.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
            raw=raw,
            host=h.headers.get("host", ""),
        )
        with self.lock:
            self.calls.append(call)
        fault = self._fault(call.method, call.path)
        if fault is not None and not fault.after:
            if fault.hang_s:
                time.sleep(fault.hang_s)
                self._write(h, call, 504, self.error_body(504, "gateway timeout"), {})
                return
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else {}
            error = fault.body or self.error_body(fault.status, f"injected {fault.status}")
            self._write(h, call, fault.status, error, headers)
            return
        status, payload, headers = self._route(call)
        if call.hold_s:
            time.sleep(call.hold_s)
        if fault is not None and fault.after:
            time.sleep(fault.hang_s)
        if self.validator is not None and status < 500:
            problem = self.validator(call, status, payload)
            if problem:
                with self.lock:
                    self.spec_errors.append(f"{call.method} {call.path} -> {status}: {problem}")
        self._write(h, call, status, payload, headers)

    def _route(self, call: Call) -> Answer:
        for method, pattern, handler in self._compiled:
            match = pattern.match(call.path)
            if method == call.method and match:
                with self.lock:
                    answer: Answer = getattr(self, handler)(call, *match.groups())
                    return answer
        return 404, self.error_body(404, f"no route {call.method} {call.path}"), {}

    def _write(
        self,
        h: BaseHTTPRequestHandler,
        call: Call,
        status: int,
        payload: Any,
        headers: dict[str, str],
    ) -> None:
        call.status = status
        call.answered_at = time.monotonic()
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            h.send_response(status)
            if payload is not None:
                h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up (a timeout we injected)
