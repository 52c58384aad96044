"""Structured JSON logs with a request id on every line, and Prometheus metrics.

Every log line is one JSON object, from every logger of the process (ours, Litestar's,
uvicorn's, DBOS's, warnings): `logging_config` gives them all the one handler. Lines
written while a request is handled carry its `request_id` (the client's `X-Request-ID`
when it is sane, else a new one; echoed back on the response). Secrets never reach a log:
nothing here logs headers or bodies, and every message and traceback goes through
`redact_secrets` (integration keys travel in webhook paths, API keys in errors).
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import logging
import os
import re
import secrets
import time
from typing import Any, cast

from litestar import Response, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


# (pattern, replacement, words): a pattern can match only where one of its `words` (lower
# case) is in the text; None: no such word, always run it.
_SECRETS: list[tuple[re.Pattern[str], str, tuple[str, ...] | None]] = [
    # Webhook routes carry their integration key as the last path segment.
    (
        re.compile(r"(/(?:alertmanager|grafana)/)[^/\s?#\"']+"),
        r"\1***",
        ("/alertmanager/", "/grafana/"),
    ),
    # API keys (auth.service.KEY_PREFIX) and integration keys (32 hex digits) anywhere.
    (re.compile(r"isk_[A-Za-z0-9_-]+"), "isk_***", ("isk_",)),
    (re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32,}(?![0-9A-Za-z])"), "***", None),
    # key=value, "key": "value" and ?token=... for the names secrets go by.
    (
        re.compile(
            r"(?i)\b(routing_key|integration_key|api_key|token|secret|password|signature)"
            r"(['\"]?\s*[:=]\s*['\"]?)[^\s'\"&,;}]+"
        ),
        r"\1\2***",
        ("routing_key", "integration_key", "api_key", "token", "secret", "password", "signature"),
    ),
    # user:password@ in URLs.
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1***@", ("://",)),
]


def redact_secrets(text: str) -> str:
    """`text` with everything that looks like a key, token or password masked."""
    # A pattern whose words are all absent cannot match, so it is skipped (the
    # case-insensitive one is the slow one). Only for ASCII text: there lower() is exactly
    # the regex's case folding; other text (the long s folds to "s") runs every pattern.
    lowered = text.lower() if text.isascii() else None
    for pattern, replacement, words in _SECRETS:
        if words is not None and lowered is not None and not any(w in lowered for w in words):
            continue
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": redact_secrets(record.getMessage()),
            "request_id": request_id_var.get(),
        }
        if record.exc_info:
            line["exception"] = redact_secrets(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = redact_secrets(self.formatStack(record.stack_info))
        return json.dumps(line, default=str)


def library_log_level(level: str) -> str:
    """The level of the libraries that narrate their start-up at INFO (see below)."""
    name = level.upper()
    if name == "DEBUG" or logging.getLevelName(name) in (logging.ERROR, logging.CRITICAL):
        return name
    return "WARNING"


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for the process: one JSON handler for every logger. Libraries that
    bring their own handler get ours instead (DBOS adds its plain-text one only to a
    logger without any); Litestar's own config is off (`create_app`).

    The libraries that narrate their start-up at INFO (yoyo: a line per migration step,
    about 170 on a fresh database; DBOS: a line per system-schema migration and its
    banners; uvicorn: four lines the service's own banner says better) log at WARNING
    unless LOG_LEVEL is DEBUG: their warnings and errors still show."""
    chatty = library_log_level(level)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": chatty, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": chatty, "propagate": False},
            "dbos": {"handlers": ["stderr"], "level": chatty, "propagate": False},
            "yoyo": {"level": chatty},
            # Access logs would carry query strings; request metrics cover the traffic.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


# Answers that are not one of our pages (JSON, Markdown, litestar's own errors) may
# run and load nothing, and no answer may be framed.
_STRICT_POLICY = "default-src 'none'; frame-ancestors 'none'"
_SCRIPT = re.compile(rb"<script(\s[^>]*)?>(.*?)</script\s*>", re.S | re.I)
_SRC = re.compile(rb"""\ssrc\s*=\s*["']?([^"'\s>]+)""", re.I)
_STYLESHEET = re.compile(rb"<link\s[^>]*>", re.I)
_HREF = re.compile(rb"""\shref\s*=\s*["']?([^"'\s>]+)""", re.I)
# A source that may stand in a policy as it is: https, no quote, space, comma or semicolon.
_SAFE_SOURCE = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d+)?(/[A-Za-z0-9._~@/%+-]*)?$")


def _sources(found: list[bytes]) -> list[str]:
    out = []
    for raw in found:
        url = raw.decode("latin-1")
        out.append("'self'" if url.startswith("/") else url)
    return sorted({u for u in out if u == "'self'" or _SAFE_SOURCE.match(u)})


def docs_policy(page: bytes) -> str:
    """The policy of the OpenAPI docs page (Litestar's, no user text in it): its inline
    scripts by hash, the script and style files it names, and the document from here."""
    hashes: list[str] = []
    srcs: list[bytes] = []
    for attrs, body in _SCRIPT.findall(page):
        src = _SRC.search(attrs or b"")
        if src:
            srcs.append(src.group(1))
        else:
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            hashes.append(f"'sha256-{digest}'")
    styles = [
        href.group(1)
        for link in _STYLESHEET.findall(page)
        if b"stylesheet" in link.lower() and (href := _HREF.search(link))
    ]
    scripts = " ".join([*sorted(set(hashes)), *_sources(srcs)]) or "'none'"
    return (
        f"default-src 'none'; script-src {scripts};"
        f" style-src 'unsafe-inline' {' '.join(_sources(styles))};"
        " img-src 'self' data:; connect-src 'self'; font-src data:;"
        " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


# The headers this middleware sets, replacing any of the same name a handler sent.
_STAMPED = frozenset({b"x-request-id", b"x-content-type-options", b"x-frame-options"})
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_FRAMING = (b"x-frame-options", b"DENY")
_STRICT_CSP = (b"content-security-policy", _STRICT_POLICY.encode())


def response_headers_middleware(app: ASGIApp) -> ASGIApp:
    """The request id, `nosniff` and a Content-Security-Policy on every answer.

    The request id is the client's `X-Request-ID` when it is sane, else a new one; it is
    set for the logs of the request and echoed back. A handler serving one of our pages
    sets its own policy (`postmortems.html.content_security_policy`); the docs page gets
    one made from its scripts; any other answer may run nothing. One middleware and one
    pass over the raw headers: this runs on every request, the creation path included.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                request_id = incoming if _SANE_ID.match(incoming) else None
                break
        if request_id is None:
            request_id = secrets.token_hex(16)
        stamp = (b"x-request-id", request_id.encode())
        is_docs = scope["path"].rstrip("/") == "/docs"
        held: list[Message] = []
        held_headers: list[list[tuple[bytes, bytes]]] = []  # the held start's header list

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                has_policy = html = clash = False
                raw = message.get("headers") or ()
                for name, value in raw:
                    lowered = name.lower()
                    if lowered == b"content-security-policy":
                        has_policy = True
                    elif lowered == b"content-type":
                        html = value.startswith(b"text/html")
                    elif lowered in _STAMPED:
                        clash = True
                headers = [h for h in raw if h[0].lower() not in _STAMPED] if clash else list(raw)
                headers += (stamp, _NOSNIFF)
                message["headers"] = headers
                if has_policy:
                    headers.append(_NO_FRAMING)
                elif is_docs and html:
                    held.append(message)  # its policy depends on the page: wait for it
                    held_headers.append(headers)
                    return
                else:
                    headers += (_STRICT_CSP, _NO_FRAMING)
            elif held and message["type"] == "http.response.body":
                held.append(message)
                if message.get("more_body", False):
                    return
                start, *parts = held
                held.clear()
                body = b"".join(cast("bytes", p.get("body", b"")) for p in parts)
                policy = (b"content-security-policy", docs_policy(body).encode())
                held_headers.pop().extend((policy, _NO_FRAMING))
                await send(start)
                message = {"type": "http.response.body", "body": body, "more_body": False}
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await app(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)

    return middleware


# Domain metrics. Other packages record into these rather than defining their own, so
# every series has one name and one set of labels.
INCIDENTS = Gauge(
    "incident_service_incidents",
    "Incidents by status and severity",
    ["status", "severity"],
    multiprocess_mode="max",
)
WORKFLOWS = Gauge(
    "incident_service_workflows",
    "Durable workflows by status and queue",
    ["status", "queue"],
    multiprocess_mode="max",
)
MODEL_SCORING = Histogram(
    "incident_service_model_scoring_seconds",
    "Time to score an incident with the active models",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
)

_INCIDENT_COUNTS = """
select status, severity, count(*) as n from incidents group by status, severity
"""
# DBOS keeps its workflow table in the `dbos` schema; absent until a worker has run.
_WORKFLOW_COUNTS = """
select status, coalesce(queue_name, '') as queue, count(*) as n
from dbos.workflow_status group by status, queue_name
"""


async def _refresh_domain_gauges(pool: Any) -> None:
    async with pool.connection() as conn:
        INCIDENTS.clear()
        for row in await (await conn.execute(_INCIDENT_COUNTS)).fetchall():
            INCIDENTS.labels(row["status"], row["severity"]).set(row["n"])
        cur = await conn.execute("select to_regclass('dbos.workflow_status') as t")
        exists = await cur.fetchone()
        if exists and exists["t"] is not None:
            WORKFLOWS.clear()
            for row in await (await conn.execute(_WORKFLOW_COUNTS)).fetchall():
                WORKFLOWS.labels(row["status"], row["queue"]).set(row["n"])


# Scrapers authenticate like any client (Prometheus: `authorization: {credentials: <key>}`),
# with `admin` or `metrics:read`: the counts cover every team, so a team key may not read them.
@get(
    "/metrics",
    tags=["system"],
    summary="Prometheus metrics",
    include_in_schema=False,
    opt={"scope": "metrics:read", "all_teams": True},
)
async def metrics(state: State) -> Response[bytes]:
    await _refresh_domain_gauges(state.db_pool)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
