"""The per-incident reads and moves filter by the caller's team in their own SQL, not only
through the guard: called with another team, the services answer as for an incident (or
response) that does not exist."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from incident_service.errors import NotFound
from incident_service.followups import service as follow_ups
from incident_service.responses import service as responses
from tests.conftest import new_incident


async def test_follow_ups_and_responses_of_another_team_are_not_found(  # type: ignore[no-untyped-def]
    client, database_url, team
) -> None:
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    incident_id = created.json()["incident_id"]
    made = await client.post(
        f"/api/v1/incidents/{incident_id}/follow-ups", json={"title": "add a canary"}
    )
    assert made.status_code == 201, made.text

    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        # The incident's own team (and every team) sees them.
        assert [f.title for f in await follow_ups.of_incident(conn, incident_id, team=team)] == [
            "add a canary"
        ]
        assert len(await follow_ups.of_incident(conn, incident_id, team=None)) == 1
        mine = await responses.incident_responses(conn, incident_id, team=team)
        assert mine.incident_id == incident_id
        assert mine.responses, "the shipped policies answer a SEV2 incident"

        # Another team's caller: not found, from the SQL itself.
        with pytest.raises(NotFound):
            await follow_ups.of_incident(conn, incident_id, team="another-team")
        with pytest.raises(NotFound):
            await responses.incident_responses(conn, incident_id, team="another-team")
        for response in mine.responses:
            for move in (responses.retry, responses.cancel):
                with pytest.raises(NotFound):
                    await move(
                        conn,
                        incident_id,
                        response.response_id,
                        actor="x",
                        team="another-team",
                        note=None,
                    )
