"""The sensor that builds a post-mortem when an incident is resolved, and its job.

The sensor asks PostgreSQL for resolved incidents whose post-mortem is missing or
describes an earlier resolution (a reopened incident resolved again), and requests one
run per (incident, resolution): the run key makes a repeated request harmless.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.
import asyncio

import dagster as dg
import psycopg
from dagster import OpExecutionContext, SensorEvaluationContext
from psycopg.rows import dict_row

from incident_service.postmortems import service
from pipelines.resources import PostgresResource

PENDING_SQL = (
    "select i.incident_id, i.resolved_at from incidents i"
    " left join postmortems p using (incident_id)"
    " where i.resolved_at is not null"
    " and (p.incident_id is null or p.resolved_at is distinct from i.resolved_at)"
    " order by i.resolved_at, i.incident_id limit %s"
)


def pending(database_url: str, limit: int = 50) -> list[tuple[str, str]]:
    """(incident_id, resolved_at ISO) of resolved incidents needing a post-mortem."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(PENDING_SQL, (limit,)).fetchall()
    return [(str(r[0]), r[1].isoformat()) for r in rows]


async def _generate(database_url: str, incident_id: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        postmortem = await service.get_or_generate(conn, incident_id, generated_by="dagster")
        await conn.commit()
    return len(postmortem.timeline)


class PostmortemConfig(dg.Config):
    incident_id: str


@dg.op
def generate_postmortem(
    context: OpExecutionContext, config: PostmortemConfig, postgres: PostgresResource
) -> None:
    events = asyncio.run(_generate(postgres.database_url, config.incident_id))
    context.log.info("post-mortem of %s stored (%d timeline events)", config.incident_id, events)


@dg.job(description="Generate and store one incident's post-mortem.")
def postmortem_job() -> None:
    generate_postmortem()


@dg.sensor(
    job=postmortem_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
)
def resolved_incidents_sensor(
    context: SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult:
    try:
        todo = pending(postgres.database_url)
    except psycopg.errors.UndefinedTable:
        return dg.SensorResult(skip_reason="the postmortems table does not exist yet (migrate)")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"{incident_id}@{resolved_at}",
                run_config={
                    "ops": {"generate_postmortem": {"config": {"incident_id": incident_id}}}
                },
                tags={"incident_id": incident_id},
            )
            for incident_id, resolved_at in todo
        ],
        skip_reason=None if todo else "no newly resolved incidents",
    )
