"""The responder's record in the warehouse: stakeholder updates, their reminders and
follow-ups written through the API, ingested from PostgreSQL, and counted per team and
week by `rpt_responder_record_weekly`."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from pipelines import sql_transforms, warehouse
from pipelines.ingest import ingest
from pipelines.reports import reliability
from tests.conftest import new_incident


async def test_updates_and_follow_ups_reach_the_weekly_mart(
    client,  # type: ignore[no-untyped-def]
    database_url: str,
    team: str,
    tmp_path: Path,
) -> None:
    ids = []
    for _ in range(3):
        created = await client.post("/api/v1/incidents", json=new_incident(team))
        assert created.status_code == 201, created.text
        ids.append(created.json()["incident_id"])
    # A commander on the first incident.
    made = await client.post("/api/v1/teams", json={"slug": team, "name": team})
    assert made.status_code == 201, made.text
    user = await client.post("/api/v1/users", json={"name": "Ada", "teams": [team]})
    assert user.status_code == 201, user.text
    held = await client.put(
        f"/api/v1/incidents/{ids[0]}/roles/commander", json={"user_id": user.json()["id"]}
    )
    assert held.status_code in (200, 201), held.text
    for incident_id in ids[:2]:
        update = await client.post(
            f"/api/v1/incidents/{incident_id}/updates", json={"message": "We are on it."}
        )
        assert update.status_code == 201, update.text
    done = await client.post(f"/api/v1/incidents/{ids[0]}/follow-ups", json={"title": "Fix it"})
    overdue = await client.post(
        f"/api/v1/incidents/{ids[0]}/follow-ups", json={"title": "Test it", "due": "2001-01-01"}
    )
    dropped = await client.post(f"/api/v1/incidents/{ids[1]}/follow-ups", json={"title": "No"})
    for answer in (done, overdue, dropped):
        assert answer.status_code == 201, answer.text
    for follow_up, state in ((done, "done"), (dropped, "wont_do")):
        moved = await client.patch(
            f"/api/v1/follow-ups/{follow_up.json()['follow_up_id']}", json={"state": state}
        )
        assert moved.status_code == 200, moved.text
    with psycopg.connect(database_url, autocommit=True) as pg:
        # One incident opened an hour before its first update, and one reminder raised.
        pg.execute(
            "update incidents set created_at = created_at - interval '1 hour'"
            " where incident_id = %s",
            (ids[0],),
        )
        pg.execute(
            "insert into update_reminders (incident_id, due_at, every_minutes, recipient_type,"
            " recipient) values (%s, now(), 30, 'team', %s)",
            (ids[2], team),
        )
        duck = warehouse.connect(str(tmp_path / "w.duckdb"))
        try:
            report = ingest(pg, duck).by_table()
            for table in (
                "incident_updates",
                "update_reminders",
                "follow_ups",
                "incident_role_assignments",
            ):
                assert report[table].status == "ingested", table
            # The suite shares one database: keep this team's incidents only, so the
            # report's window and its top-15 teams are this test's.
            duck.execute("delete from raw.incidents where assigned_team <> ?", [team])
            warehouse.ensure_sources(duck)
            sql_transforms.run_all(duck)
            rows = duck.execute(
                "select sum(incidents), sum(incidents_with_update), max(first_update_p90_s),"
                " sum(update_reminders), sum(follow_ups), sum(follow_ups_done),"
                " sum(follow_ups_wont_do), sum(follow_ups_open), sum(follow_ups_overdue),"
                " sum(follow_ups_unowned), max(follow_up_completion),"
                " sum(role_holdings), sum(incidents_with_commander), max(commander_p50_s)"
                " from rpt_responder_record_weekly where team = ?",
                [team],
            ).fetchone()
            report = reliability.build(duck, weeks=2)
        finally:
            duck.close()
    assert rows is not None
    incidents, with_update, first_p90, reminders, follow_ups, *states = rows
    assert (incidents, with_update, reminders, follow_ups) == (3, 2, 1, 3)
    assert 3000 < first_p90 < 3700  # the hour-old incident's first update
    done_n, wont_do, still_open, overdue_n, unowned, completion, *roles = states
    holdings, commanded, to_commander = roles
    assert (holdings, commanded) == (1, 1)
    assert 3000 < to_commander < 3700  # taken just now, on the incident opened an hour ago
    assert (done_n, wont_do, still_open, overdue_n, unowned) == (1, 1, 1, 1, 1)
    assert completion == pytest.approx(0.5)  # done over those not closed as won't do

    # The reliability report shows the team's record, and defines each new metric.
    section = report.markdown.split("## The responder's record", 1)[1].split("\n## ", 1)[0]
    line = next(row for row in section.splitlines() if row.startswith(f"| {team} |"))
    assert line.split(" | ")[1:3] == ["3", "33.3%"], line  # incidents, with a commander
    assert "| rpt_responder_record_weekly | follow_ups_overdue |" in report.markdown
