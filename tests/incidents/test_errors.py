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
        # Nothing that shows: zero-width and format characters, fillers.
        ("title", "\u200b\u200b"),
        ("title", "\u2060"),
        ("title", "\ufeff"),
        ("title", " \u200c\u200d\u00ad\u3164\u2800 "),
        ("assigned_team", "\u200b"),
        ("affected_services", ["\u2060\u200b"]),
        ("assignee", "\ufeff\u200e"),
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
        # Far dates: refused with a 400 before they reach any comparison.
        {"created_after": "0001-01-01T00:00:00+14:00"},
        {"created_before": "9999-12-31T23:59:59-14:00"},
        {"created_after": "1969-12-31T23:59:59Z"},
        {"created_before": "2200-01-01"},
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


async def test_visible_text_around_zero_width_characters_is_kept(client, team) -> None:
    title = "\u200bDB\u200d down\ufe0f"
    response = await client.post("/api/v1/incidents", json=new_incident(team, title=title))
    assert response.status_code == 201, response.text
    assert response.json()["title"] == title


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b'"labels": {"x": NaN}', "labels.x"),
        (b'"labels": {"x": Infinity}', "labels.x"),
        (b'"labels": {"x": -Infinity}', "labels.x"),
        (b'"affected_services": [1e400]', "affected_services.0"),
        (b'"description": -1e999', "description"),
    ],
)
async def test_non_finite_numbers_are_400_naming_the_field(client, team, raw, key) -> None:
    body = b'{"title": "t", "severity": "SEV4_LOW", "assigned_team": "a", ' + raw + b"}"
    response = await client.post(
        "/api/v1/incidents", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert [e["key"] for e in response.json()["extra"]] == [key]


async def test_non_finite_numbers_in_a_json_object_field_are_400(client, team) -> None:
    # `config` is stored as jsonb: NaN would be stored as null.
    body = b'{"kind": "events-v2", "team": "a", "config": {"retries": [1, NaN], "x": 1e400}}'
    response = await client.post(
        "/api/v1/integrations", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert {e["key"] for e in response.json()["extra"]} == {"config.retries.1", "config.x"}


async def test_repeated_query_parameter_is_400_naming_it(client) -> None:
    # One of the values would be used and the others dropped without a word.
    response = await client.get("/api/v1/incidents?status=OPEN&status=CLOSED&limit=5")
    assert response.status_code == 400, response.text
    assert _bad_keys(response) == {"status"}
    response = await client.get("/api/v1/integrations?team=a&team=b")
    assert response.status_code == 400, response.text
    assert _bad_keys(response) == {"team"}
