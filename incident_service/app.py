"""The composition root: `create_app(settings)` builds the one Litestar application."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import psycopg
from litestar import Litestar, MediaType, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, SerializationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Tag
from litestar.plugins.prometheus import PrometheusConfig
from psycopg_pool import PoolTimeout

from incident_service import __version__
from incident_service.alerts.routes import ALERT_ROUTES
from incident_service.auth.guard import Authenticator, provide_principal, require_api_key
from incident_service.auth.ratelimit import make_limiter
from incident_service.auth.routes import ApiKeyController, MeController
from incident_service.config import Settings, get_settings
from incident_service.console.errors import CONSOLE_PREFIX, console_error
from incident_service.console.pages import template_config
from incident_service.console.routes import CONSOLE_ROUTES
from incident_service.db import (
    AsyncConn,
    make_pool,
    redact,
    resolve_database_url,
    single_statement,
    transaction,
)
from incident_service.docs_ui import docs_asset, swagger_plugin
from incident_service.errors import IncidentError, UnsupportedMediaType, ValidationFailed
from incident_service.events.routes import EventController
from incident_service.followups.routes import FOLLOW_UP_ROUTES
from incident_service.incidents.routes import IncidentController
from incident_service.integrations.routes import INTEGRATION_ROUTES
from incident_service.links.routes import LinkController
from incident_service.merge.routes import MergeController
from incident_service.migrate import apply_migrations
from incident_service.notes.routes import NoteController
from incident_service.observability import metrics, response_headers_middleware
from incident_service.openapi import document_errors, document_maps, document_security
from incident_service.people.routes import TeamController, UserController
from incident_service.postmortems.routes import POSTMORTEM_ROUTES
from incident_service.predictions.routes import PREDICTION_ROUTES
from incident_service.predictions.scorer import Scorer, keep_fresh, load_now
from incident_service.roles.routes import IncidentRoleController, TeamRoleController
from incident_service.runtime import freeze_startup_heap
from incident_service.search.routes import SearchController
from incident_service.system import health, ready
from incident_service.text import non_finite_in_json
from incident_service.updates.routes import StakeholderUpdateController, UpdateCadenceController
from incident_service.workflow_routes import WORKFLOW_ROUTES, load_response_policies

log = logging.getLogger(__name__)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def provide_conn(state: State) -> AsyncGenerator[AsyncConn, None]:
    async for conn in transaction(state.db_pool, state.settings.retry_after_s):
        yield conn


async def provide_statement_conn(state: State) -> AsyncGenerator[AsyncConn, None]:
    async for conn in single_statement(state.db_pool, state.settings.retry_after_s):
        yield conn


def _refuse_repeated(request: Request[object, object, State]) -> None:
    """A single-valued query parameter given more than once: the framework would use one
    value and drop the others without a word."""
    counts = Counter(k for k, _ in request.query_params.multi_items())
    if max(counts.values(), default=0) < 2:
        return
    lists = set()
    for name, field in request.route_handler.parsed_fn_signature.parameters.items():
        if field.is_non_string_sequence:
            lists.add(getattr(field.kwarg_definition, "query", None) or name)
    bad = sorted(k for k, n in counts.items() if n > 1 and k not in lists)
    if bad:
        msg = "query parameters must not be repeated"
        errors = [{"key": k, "message": "given more than once", "source": "query"} for k in bad]
        raise ValidationFailed(msg, errors)


_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def check_request(request: Request[object, object, State]) -> None:
    """Before any parsing: 415 for a body that is not JSON (the console's form posts
    aside); 400 for a NUL character in a
    query or path parameter (PostgreSQL cannot store or compare one) and for a
    single-valued query parameter given more than once."""
    for source, params in (("query", request.query_params), ("path", request.path_params)):
        bad = [key for key, value in params.items() if "\x00" in str(value)]
        if bad:
            msg = "parameters must not contain NUL characters"
            errors = [
                {"key": k, "message": "contains a NUL character", "source": source} for k in bad
            ]
            raise ValidationFailed(msg, errors)
    if request.scope["query_string"]:
        _refuse_repeated(request)
    if request.method not in _BODY_METHODS:
        return
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in _FORM_TYPES and request.url.path.startswith(CONSOLE_PREFIX):
        return  # the console's pages post plain HTML forms (they work without JavaScript)
    if has_body and not (media_type == "application/json" or media_type.endswith("+json")):
        msg = "request bodies must be JSON (Content-Type: application/json)"
        raise UnsupportedMediaType(msg)


class JsonRequest(Request[object, object, State]):
    """The framework's request, with a 400 naming the problem for every JSON body it
    cannot read: bytes that are not UTF-8 in a string (msgspec raises UnicodeDecodeError,
    which would be a 500) and NaN, Infinity or numbers too large for a float (refused, but
    without saying where). Vendor intake routes read their bodies themselves."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except UnicodeDecodeError as exc:
            msg = "the request body is not valid UTF-8"
            error = {"key": "body", "message": "not valid UTF-8", "source": "body"}
            raise ValidationFailed(msg, [error]) from exc
        except SerializationException as exc:
            paths = non_finite_in_json(await self.body())
            if not paths:
                raise
            msg = "JSON numbers must be finite (no NaN, Infinity or out-of-range numbers)"
            errors = [{"key": p, "message": "not a finite number", "source": "body"} for p in paths]
            raise ValidationFailed(msg, errors) from exc


def _domain_error(request: Request[object, object, State], exc: IncidentError) -> Response[Any]:
    console = console_error(request, exc)  # type: ignore[arg-type]
    if console is not None:
        return console
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
        log.debug("database: %s", redact(url))  # the start-up banner says it
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
            await app.state.authenticator.aclose(pool)
            await pool.close()

    app = Litestar(
        route_handlers=[
            ApiKeyController,
            MeController,
            IncidentController,
            MergeController,
            EventController,
            health,
            ready,
            metrics,
            docs_asset,  # the docs page's Swagger UI files
            *CONSOLE_ROUTES,  # the web console under /ui/
            *ALERT_ROUTES,
            *INTEGRATION_ROUTES,
            *WORKFLOW_ROUTES,
            *POSTMORTEM_ROUTES,
            *PREDICTION_ROUTES,
            SearchController,
            UserController,
            TeamController,
            TeamRoleController,
            IncidentRoleController,
            StakeholderUpdateController,
            UpdateCadenceController,
            *FOLLOW_UP_ROUTES,
            NoteController,
            LinkController,
        ],
        dependencies={
            "conn": Provide(provide_conn),
            # For handlers whose write is one statement (creating an incident): autocommit.
            "statement_conn": Provide(provide_statement_conn),
            "principal": Provide(provide_principal, sync_to_thread=False),
        },
        guards=[require_api_key],
        before_request=check_request,
        request_class=JsonRequest,
        middleware=[
            response_headers_middleware,  # request id, nosniff, CSP, no framing
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
        template_config=template_config(),
        request_max_body_size=settings.max_body_bytes,
        # Litestar's default config replaces the root handler with plain text: the process's
        # logging is configured once (observability.logging_config, JSON with request ids).
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="incident-service",
            version=__version__,
            description="Incident lifecycle, escalation, automated response and events.",
            path="/docs",
            render_plugins=[swagger_plugin(), JsonRenderPlugin(path="/openapi.json")],
            tags=[
                Tag(name="incidents"),
                Tag(name="events"),
                Tag(name="system"),
                Tag(name="alerts"),
                Tag(name="integrations"),
                Tag(name="responses"),
                Tag(name="escalation"),
                Tag(name="people"),
                Tag(name="roles"),
                Tag(name="updates"),
                Tag(name="follow-ups"),
            ],
        ),
    )
    document_errors(app)
    document_security(app)
    document_maps(app)
    return app
