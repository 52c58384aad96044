"""Documents the error answers and the authentication of every operation, so the OpenAPI
document is true.

Litestar documents each handler's success answer and its 400; the rest of the error
vocabulary (errors.py, the auth guard, body limits, the database being down) applies
across routes and is added here once, after the routes are known. So is the API key
(auth/guard.py): required everywhere, except on the routes that opt out of it (probes,
and the intake routes, authenticated by their integration key or signature instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_origin

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute
from pydantic import BaseModel

_PUBLIC_PATHS = frozenset({"/health", "/ready"})
_ERROR = Schema(
    type=OpenAPIType.OBJECT,
    required=["status_code", "detail"],
    properties={
        "status_code": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "extra": Schema(
            one_of=[
                Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT)),
                Schema(type=OpenAPIType.OBJECT),
            ]
        ),
    },
    additional_properties=True,
    description="Every error answer: the status, what went wrong, and details such as "
    "each invalid field (`extra`) or the allowed statuses.",
)


def _response(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description,
        content={
            "application/json": OpenAPIMediaType(schema=Reference("#/components/schemas/Error"))
        },
    )


def document_errors(app: Litestar) -> None:
    schema = app.openapi_schema
    schema.components.schemas["Error"] = _ERROR
    for path, item in (schema.paths or {}).items():
        for method in ("get", "put", "post", "patch", "delete"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            codes = {"400": "Invalid input: each bad field is named in `extra`"}
            if path not in _PUBLIC_PATHS:
                codes |= {
                    "401": "No valid API key",
                    "403": "The API key lacks the scope this operation needs",
                    "429": "Rate limit exceeded (see Retry-After)",
                    "503": "The database is unreachable (see Retry-After)",
                }
            if "{" in path:
                codes["404"] = "Not found (or not visible to this API key's team)"
            if method in ("put", "post", "patch", "delete"):
                codes["409"] = "Conflicts with the current state"
            if operation.request_body is not None:
                codes["413"] = "Body too large"
                codes["415"] = "Body is not JSON"
            for code, text in codes.items():
                responses.setdefault(code, _response(text))
            operation.responses = responses


# Either header carries the same key: `Authorization: Bearer <key>` or `X-API-Key: <key>`.
SECURITY_SCHEMES = {
    "BearerApiKey": SecurityScheme(
        type="http",
        scheme="bearer",
        description="An API key (`incident-service api-keys create`, or "
        "`POST /api/v1/api-keys`) as `Authorization: Bearer <key>`.",
    ),
    "ApiKeyHeader": SecurityScheme(
        type="apiKey",
        name="X-API-Key",
        security_scheme_in="header",
        description="The same API key in the `X-API-Key` header.",
    ),
}


def document_security(app: Litestar) -> None:
    """Declare the API key as required by default, and waive it (`security: []`) on the
    operations the guard lets through without one."""
    schema = app.openapi_schema
    schema.components.security_schemes = dict(SECURITY_SCHEMES)
    schema.security = [{name: []} for name in SECURITY_SCHEMES]
    paths = schema.paths or {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path_format not in paths:
            continue
        item = paths[route.path_format]
        for handler in route.route_handlers:
            if not (handler.opt.get("public") or handler.opt.get("auth") == "integration"):
                continue
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if operation is not None:
                    operation.security = []


def _schema(json_schema: Mapping[str, Any]) -> Schema:
    """A JSON Schema (pydantic's) as the spec's Schema. `patternProperties` with one
    pattern (pydantic's dict with constrained keys) becomes `propertyNames` and
    `additionalProperties`, which every OpenAPI tool reads."""
    aliases = Schema.field_aliases()
    values: dict[str, Any] = {}
    for key, value in json_schema.items():
        if key == "title":
            continue
        if key == "patternProperties" and len(value) == 1:
            ((pattern, sub),) = value.items()
            values["property_names"] = Schema(pattern=pattern)
            values["additional_properties"] = _schema(sub)
        elif key == "type":
            values["type"] = OpenAPIType(value)
        elif key in ("anyOf", "oneOf", "allOf"):
            values[aliases[key]] = [_schema(v) for v in value]
        elif isinstance(value, dict):
            values[aliases.get(key, key)] = _schema(value)
        else:
            values[aliases.get(key, key)] = value
    return Schema(**values)


def document_maps(app: Litestar) -> None:
    """Litestar documents a request model's `dict` field that has a size limit
    (`Field(max_length=...)`) as an array; the API takes an object (`labels`, an
    integration's `config`). Such fields get pydantic's own schema of them."""
    schema = app.openapi_schema
    components = schema.components.schemas
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            model = data.annotation if data is not None else None
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                continue
            component = components.get(model.__name__)
            if component is None or not component.properties:
                continue
            own = model.model_json_schema()["properties"]
            for name, field in model.model_fields.items():
                key = field.alias or name
                if get_origin(field.annotation) is dict and key in component.properties:
                    component.properties[key] = _schema(own[key])
