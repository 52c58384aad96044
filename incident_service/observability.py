"""Structured JSON logs with a request id on every line, and Prometheus metrics.

Every log line is one JSON object. Lines written while a request is handled carry its
`request_id` (the client's `X-Request-ID` when it is sane, else a new one; echoed back on
the response). Secrets never reach a log: nothing here logs headers or bodies.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import time
import uuid
from typing import Any

from litestar import Response, get
from litestar.datastructures import MutableScopeHeaders, State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for the process, uvicorn's loggers included."""
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
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            # Access logs would carry query strings; request metrics cover the traffic.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None
        )
        request_id = incoming if incoming and _SANE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
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
WORKFLOW_LATENCY = Histogram(
    "incident_service_workflow_start_seconds",
    "Time from an incident's commit to its workflow starting",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INTEGRATION_CALLS = Counter(
    "incident_service_integration_calls_total",
    "Outbound integration calls by system, operation and outcome",
    ["system", "operation", "outcome"],
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
