"""`policies.rotas`: the on-call board's service, filtered by the caller's team in SQL."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row

from incident_service.escalation import policies

LAYER = {
    "name": "primary",
    "rotation": "daily",
    "participants": ["ann", "bob"],
    "starts": "2024-01-01",
}


@dataclass(frozen=True)
class Caller:
    name: str
    team: str | None


async def test_rotas_show_the_callers_team_only(client, database_url: str) -> None:  # type: ignore[no-untyped-def]
    token = secrets.token_hex(4)
    ids = {}
    for team in (f"a-{token}", f"b-{token}"):
        answer = await client.post(
            "/api/v1/oncall-schedules",
            json={"name": f"{team} rota", "timezone": "UTC", "layers": [LAYER], "team": team},
        )
        assert answer.status_code == 201, answer.text
        ids[team] = answer.json()["id"]
    cover = await client.post(
        f"/api/v1/oncall-schedules/{ids[f'a-{token}']}/overrides",
        json={"person": "cy", "starts_at": "2030-01-01T00:00Z", "ends_at": "2030-01-02T00:00Z"},
    )
    assert cover.status_code == 201, cover.text
    at = datetime(2029, 12, 31, 12, tzinfo=UTC)
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        mine = await policies.rotas(conn, Caller("k", f"a-{token}"), at=at, count=2)
        everyone = await policies.rotas(conn, Caller("admin", None), at=at, count=2)
    assert [str(r.schedule.id) for r in mine] == [ids[f"a-{token}"]]
    rota = mine[0]
    assert [o.person for o in rota.schedule.overrides] == ["cy"]
    # 2024-01-01 is ann's: 2029-12-31 is 2191 days on, an odd number: bob's.
    assert rota.now.person == "bob"
    assert [(h.at, h.person, h.source) for h in rota.next] == [
        (datetime(2030, 1, 1, tzinfo=UTC), "cy", "override"),
        # The layer handed to ann at 09:00 under the override: she takes over when it ends.
        (datetime(2030, 1, 2, tzinfo=UTC), "ann", "layer:primary"),
    ]
    assert set(ids.values()) <= {str(r.schedule.id) for r in everyone}
