"""Every client mistake is a 4xx with a JSON body that says what is wrong; never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import new_incident


def _bad_keys(response) -> set[str]:
    """Field names in the 400 body; list items are named `field.index`."""
    return {e["key"].split(".")[0] for e in response.json().get("extra", [])}


async def test_invalid_body_names_each_bad_field(client) -> None:
    response = await client.post(
        "/api/v1/incidents",
        json={"title": "   ", "severity": "SEV9", "assigned_team": "", "affected_services": "x"},
    )
    assert response.status_code == 400
    assert {"title", "severity", "assigned_team", "affected_services"} <= _bad_keys(response)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "x" * 501),
        ("title", 42),
        ("title", None),
        ("title", "nul\x00byte"),
        ("severity", "sev1_critical"),
        ("severity", None),
        ("assigned_team", "t" * 101),
        ("assigned_team", ["a"]),
        ("affected_services", [""]),
        ("affected_services", [1, 2]),
        ("assignee", ""),
        ("description", {"nested": True}),
    ],
)
async def test_bad_field_is_named(client, team, field: str, value: object) -> None:
    response = await client.post("/api/v1/incidents", json=new_incident(team, **{field: value}))
    assert response.status_code == 400, response.text
    assert field in _bad_keys(response)


@pytest.mark.parametrize("missing", ["title", "severity", "assigned_team"])
async def test_missing_required_field_is_named(client, team, missing: str) -> None:
    body = new_incident(team)
    del body[missing]
    response = await client.post("/api/v1/incidents", json=body)
    assert response.status_code == 400
    assert missing in _bad_keys(response)


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b"null", b'"text"', b'{"title": "\\ud800"}', b"\xff\xfe"],
)
async def test_malformed_json_is_400(client, raw: bytes) -> None:
    response = await client.post(
        "/api/v1/incidents", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["status_code"] == 400


async def test_deeply_nested_json_is_400(client) -> None:
    raw = b'{"title": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = await client.post(
        "/api/v1/incidents", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_oversize_body_is_413(client, settings) -> None:
    raw = b'{"title": "' + b"x" * (settings.max_body_bytes + 1) + b'"}'
    response = await client.post(
        "/api/v1/incidents", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_wrong_content_type_is_415(client, team, content_type: str) -> None:
    import json

    response = await client.post(
        "/api/v1/incidents",
        content=json.dumps(new_incident(team)).encode(),
        headers={"content-type": content_type},
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


async def test_unknown_incident_is_404(client) -> None:
    for path in ("/api/v1/incidents/INC-19990101-001", "/api/v1/incidents/nope/timeline"):
        response = await client.get(path)
        assert response.status_code == 404
        assert "not found" in response.json()["detail"]
    response = await client.put(
        "/api/v1/incidents/INC-19990101-001/status", json={"status": "RESOLVED"}
    )
    assert response.status_code == 404


async def test_bad_status_update_is_400(client, team) -> None:
    created = (await client.post("/api/v1/incidents", json=new_incident(team))).json()
    response = await client.put(
        f"/api/v1/incidents/{created['incident_id']}/status", json={"status": "DONE"}
    )
    assert response.status_code == 400
    assert "status" in _bad_keys(response)


@pytest.mark.parametrize(
    "query",
    [
        {"status": "NOPE"},
        {"severity": "SEV0"},
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "many"},
        {"created_after": "yesterday"},
        {"cursor": "not-a-cursor"},
        {"assigned_team": "t" * 101},
        {"assigned_team": "nul\x00"},
        {"created_before": "1.7e-85"},
        {"created_after": "2025-13-45T00:00:00Z"},
    ],
)
async def test_bad_list_parameters_are_400(client, query: dict[str, str]) -> None:
    response = await client.get("/api/v1/incidents", params=query)
    assert response.status_code == 400, response.text
    assert next(iter(query)) in _bad_keys(response)


async def test_nul_in_path_is_400(client) -> None:
    response = await client.get("/api/v1/incidents/INC-%00/timeline")
    assert response.status_code == 400
    assert _bad_keys(response) == {"incident_id"}
