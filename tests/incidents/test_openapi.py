"""The OpenAPI document declares how to authenticate, and it matches what the guard does."""

from __future__ import annotations

from tests.incidents.test_request_bodies import VENDOR_INTAKE

# Reachable without an API key: the probes, and the intake routes (integration key or
# signature instead).
WITHOUT_API_KEY = frozenset({"GET /health", "GET /ready"}) | VENDOR_INTAKE


async def test_security_schemes_declare_the_api_key(client) -> None:
    document = (await client.get("/docs/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    bearer = [n for n, s in schemes.items() if s["type"] == "http" and s["scheme"] == "bearer"]
    header = [
        n
        for n, s in schemes.items()
        if s["type"] == "apiKey" and s["in"] == "header" and s["name"] == "X-API-Key"
    ]
    assert len(bearer) == len(header) == 1
    assert document["security"] == [{bearer[0]: []}, {header[0]: []}]

    waived = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "security" in operation:
                assert operation["security"] == []
                waived.add(f"{method.upper()} {path}")
    assert waived == WITHOUT_API_KEY


async def test_the_declaration_matches_the_guard(client) -> None:
    document = (await client.get("/docs/openapi.json")).json()
    no_key = {"Authorization": ""}  # the client's admin key, taken away
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "{" in path or method != "get":
                continue
            response = await client.get(path, headers=no_key)
            if "security" in operation:
                assert response.status_code == 200, (path, response.text)
            else:
                assert response.status_code == 401, (path, response.text)
                assert response.headers["www-authenticate"].startswith("Bearer")


async def test_docs_still_served(client) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert (await client.get("/docs/openapi.json")).status_code == 200
