"""Process and readiness probes."""

from __future__ import annotations

import msgspec
import psycopg
from litestar import Response, get
from litestar.datastructures import State
from psycopg_pool import PoolTimeout


class Health(msgspec.Struct):
    status: str


@get(
    "/health",
    tags=["system"],
    summary="The process is up",
    sync_to_thread=False,
    opt={"public": True},
)
def health() -> Health:
    return Health(status="ok")


@get(
    "/ready",
    tags=["system"],
    summary="The database is reachable (503 when not)",
    opt={"public": True},
)
async def ready(state: State) -> Response[Health]:
    try:
        async with state.db_pool.connection(timeout=2.0) as conn:
            await conn.execute("select 1")
    except (PoolTimeout, psycopg.OperationalError):
        return Response(
            Health(status="database unreachable"),
            status_code=503,
            headers={"Retry-After": str(state.settings.retry_after_s)},
        )
    return Response(Health(status="ok"))
