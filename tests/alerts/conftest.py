"""Fixtures for inbound alerts: integrations created through the API, the vendor fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# Real vendor samples, shipped in tests/data (see its README).
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "inbound"


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


async def make_integration(client, team: str, kind: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/integrations", json={"kind": kind, "team": team, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def events_key(client, team) -> str:
    return str((await make_integration(client, team, "events-v2"))["integration_key"])
