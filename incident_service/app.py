"""The composition root: `create_app(settings)` builds the one Litestar application."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anyio.to_thread
import psycopg
from litestar import Litestar, MediaType, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Tag
from litestar.plugins.prometheus import PrometheusConfig
from psycopg_pool import PoolTimeout

from incident_service import __version__
from incident_service.alerts.routes import ALERT_ROUTES
from incident_service.auth.guard import Authenticator, provide_principal, require_api_key
from incident_service.auth.ratelimit import make_limiter
from incident_service.auth.routes import ApiKeyController
from incident_service.config import Settings, get_settings
from incident_service.db import (
    AsyncConn,
    make_pool,
    redact,
    resolve_database_url,
    single_statement,
    transaction,
)
from incident_service.errors import IncidentError, UnsupportedMediaType, ValidationFailed
from incident_service.events.routes import EventController
from incident_service.incidents.routes import IncidentController
from incident_service.integrations.routes import INTEGRATION_ROUTES
from incident_service.migrate import apply_migrations
from incident_service.observability import metrics, request_id_middleware
from incident_service.openapi import document_errors
from incident_service.postmortems.routes import POSTMORTEM_ROUTES
from incident_service.predictions.routes import PREDICTION_ROUTES
from incident_service.predictions.scorer import Scorer, keep_fresh, load_now
from incident_service.runtime import freeze_startup_heap
from incident_service.system import health, ready
from incident_service.workflows.routes import WORKFLOW_ROUTES, load_response_policies

log = logging.getLogger(__name__)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def provide_conn(state: State) -> AsyncGenerator[AsyncConn, None]:
    async for conn in transaction(state.db_pool, state.settings.retry_after_s):
        yield conn


async def provide_statement_conn(state: State) -> AsyncGenerator[AsyncConn, None]:
    async for conn in single_statement(state.db_pool, state.settings.retry_after_s):
        yield conn


async def check_request(request: Request[object, object, State]) -> None:
    """Before any parsing: 415 for a body that is not JSON; 400 for a NUL character in a
    query or path parameter (PostgreSQL cannot store or compare one)."""
    for source, params in (("query", request.query_params), ("path", request.path_params)):
        bad = [key for key, value in params.items() if "\x00" in str(value)]
        if bad:
            msg = "parameters must not contain NUL characters"
            errors = [
                {"key": k, "message": "contains a NUL character", "source": source} for k in bad
            ]
            raise ValidationFailed(msg, errors)
    if request.method not in _BODY_METHODS:
        return
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if has_body and not (media_type == "application/json" or media_type.endswith("+json")):
        msg = "request bodies must be JSON (Content-Type: application/json)"
        raise UnsupportedMediaType(msg)


def _domain_error(request: Request[object, object, State], exc: IncidentError) -> Response[dict]:  # type: ignore[type-arg]
    headers: dict[str, str] = {}
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="incident-service"'
    body = exc.body()
    retry_after = body.pop("retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Response(body, status_code=exc.status_code, headers=headers, media_type=MediaType.JSON)


def _database_down(request: Request[object, object, State], exc: Exception) -> Response[dict]:  # type: ignore[type-arg]
    log.warning("database unavailable: %s", type(exc).__name__)
    retry_after = request.app.state.settings.retry_after_s
    return Response(
        {"status_code": 503, "detail": "the database is unreachable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(retry_after)},
    )


def _unstorable(request: Request[object, object, State], exc: psycopg.DataError) -> Response[dict]:  # type: ignore[type-arg]
    # Input the validators let through but PostgreSQL refuses (an out-of-range value, a
    # character it cannot store): the client's doing, so a 400, and worth a warning.
    log.warning(
        "database refused a value on %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    return Response(
        {"status_code": 400, "detail": "a value in the request cannot be stored or compared"},
        status_code=400,
    )


def _too_deep(request: Request[object, object, State], exc: RecursionError) -> Response[dict]:  # type: ignore[type-arg]
    # msgspec raises RecursionError for JSON nested deeper than it will decode; nothing
    # else in a request's path recurses on client input.
    log.warning("request body nested too deeply on %s %s", request.method, request.url.path)
    return Response({"status_code": 400, "detail": "JSON is nested too deeply"}, status_code=400)


def _unexpected(request: Request[object, object, State], exc: Exception) -> Response[dict]:  # type: ignore[type-arg]
    if isinstance(exc, HTTPException):  # Litestar's own 4xx (validation, 404, 405, 413, ...)
        body = {"status_code": exc.status_code, "detail": exc.detail}
        if exc.extra:
            body["extra"] = exc.extra
        return Response(body, status_code=exc.status_code, headers=exc.headers or None)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return Response({"status_code": 500, "detail": "internal server error"}, status_code=500)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the application; the database is reached only when it starts."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        url = await anyio.to_thread.run_sync(resolve_database_url, settings)
        log.info("database: %s", redact(url))
        await anyio.to_thread.run_sync(apply_migrations, url)
        pool = make_pool(url, settings)
        await pool.open()
        app.state.db_pool = pool
        # The active model version is loaded now and re-read in the background, so a
        # promotion or rollback takes effect without a restart (docs/models.md).
        await load_now(app.state.scorer, pool)
        stop_refresh = asyncio.Event()
        refresher = asyncio.create_task(
            keep_fresh(app.state.scorer, pool, settings.model_refresh_s, stop_refresh)
        )
        freeze_startup_heap()
        try:
            yield
        finally:
            stop_refresh.set()
            await refresher
            await app.state.authenticator.aclose()
            await pool.close()

    app = Litestar(
        route_handlers=[
            ApiKeyController,
            IncidentController,
            EventController,
            health,
            ready,
            metrics,
            *ALERT_ROUTES,
            *INTEGRATION_ROUTES,
            *WORKFLOW_ROUTES,
            *POSTMORTEM_ROUTES,
            *PREDICTION_ROUTES,
        ],
        dependencies={
            "conn": Provide(provide_conn),
            # For handlers whose write is one statement (creating an incident): autocommit.
            "statement_conn": Provide(provide_statement_conn),
            "principal": Provide(provide_principal, sync_to_thread=False),
        },
        guards=[require_api_key],
        before_request=check_request,
        middleware=[
            request_id_middleware,
            # Latency histograms by route template (not raw path: bounded label values).
            PrometheusConfig(
                app_name="incident_service", prefix="incident_service_http", group_path=True
            ).middleware,
        ],
        exception_handlers={
            IncidentError: _domain_error,
            PoolTimeout: _database_down,
            psycopg.OperationalError: _database_down,
            RecursionError: _too_deep,
            psycopg.DataError: _unstorable,
            Exception: _unexpected,
        },
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "response_policies": load_response_policies(settings),
                "scorer": Scorer(settings.serving_model_name),
                "authenticator": Authenticator(
                    settings.rate_limit_per_s,
                    settings.rate_limit_burst_s,
                    settings.api_key_cache_s,
                    limiter=make_limiter(settings),
                ),
            }
        ),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="incident-service",
            version=__version__,
            description="Incident lifecycle, escalation, automated response and events.",
            path="/docs",
            render_plugins=[SwaggerRenderPlugin(path="/"), JsonRenderPlugin(path="/openapi.json")],
            tags=[
                Tag(name="incidents"),
                Tag(name="events"),
                Tag(name="system"),
                Tag(name="alerts"),
                Tag(name="integrations"),
                Tag(name="responses"),
                Tag(name="escalation"),
            ],
        ),
    )
    document_errors(app)
    return app
