"""PostgreSQL crashed and restarted while workflows run: every workflow still completes.

The crash test's scenario (tests/responses/test_crash.py: incidents with four automated
responses and a two-level escalation each), with a PostgreSQL of the test's own
(testkit/throwaway_pg.py, never the shared server) stopped as a crash would
(`pg_ctl -m immediate`) three times mid-run and started again. Checked: every response
succeeded, every DBOS workflow is SUCCESS, no effect lost or repeated by idempotency key,
escalation levels neither skipped nor repeated. The counts are printed.

Bounded here (CRASH_PG_INCIDENTS, default 40); `make chaos` runs 300.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import pytest

from incident_service.migrate import apply_migrations
from testkit.throwaway_pg import ThrowawayPostgres
from testkit.worker import Worker
from tests.responses.test_crash import _run

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first

INCIDENTS = int(os.environ.get("CRASH_PG_INCIDENTS", "40"))
DOWN_S = 1.0


async def test_postgresql_restarted_mid_run(tmp_path: Path, capsys) -> None:
    pg = ThrowawayPostgres()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(pg.destroy)
        apply_migrations(pg.url)

        def bounce() -> None:
            pg.crash()
            time.sleep(DOWN_S)
            pg.start()

        async def restart_postgres(workers: list[Worker], k: int) -> None:
            await asyncio.to_thread(bounce)

        with capsys.disabled():
            await _run(
                pg.url,
                INCIDENTS,
                tmp_path,
                restart_postgres,
                f"PostgreSQL restarted x3, {INCIDENTS} incidents",
            )
