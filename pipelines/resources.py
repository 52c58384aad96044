"""Dagster resources: where PostgreSQL, the warehouse, the drop folder and reports are.

Each is a `ConfigurableResource`; which values they get is decided in `definitions.py`
only (from the service's settings and the environment).
"""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
from pydantic import PrivateAttr

from pipelines import warehouse


class PostgresResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The service's PostgreSQL (the system of record), read-only from here, and the name
    under which the API looks up its model in the registry there (SERVING_MODEL_NAME)."""

    database_url: str
    serving_model_name: str = "incident-service"

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            yield conn


# Every asset and check that opens the warehouse is in this pool; `pipelines/dagster.yaml`
# gives it one slot, held by a run from start to end: one run at a time writes the file.
WAREHOUSE_POOL = "warehouse"


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The DuckDB warehouse file, written by one run at a time (every asset and check
    opening it is in `WAREHOUSE_POOL`; steps run in the run's process). A run that opened
    it publishes a snapshot for the readers when it ends (`warehouse.publish_snapshot`),
    failed or not: the file holds only committed changes either way."""

    path: str
    _opened: bool = PrivateAttr(default=False)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = warehouse.connect(self.path)
        self._opened = True
        try:
            yield conn
        finally:
            conn.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if not self._opened:
            return
        conn = warehouse.connect(self.path)
        try:
            published = warehouse.publish_snapshot(conn, self.path)
        finally:
            conn.close()
        if context.log is not None:
            context.log.info("warehouse snapshot published: %s", published)


class SourcesResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Files and generated data fed into the warehouse besides the service's own tables.

    ``platform_dir``: the drop folder (see `pipelines/platform.py`). ``servicenow_export``:
    a ServiceNow incident event-log export to import ('' for none). ``synthetic_incidents``:
    how many incidents of synthetic history to generate (0 for none), from
    ``synthetic_seed``.
    """

    platform_dir: str
    servicenow_export: str = ""
    synthetic_incidents: int = 0
    synthetic_seed: int = 0
    synthetic_days: int = 182

    @property
    def platform_path(self) -> Path:
        return Path(self.platform_dir)


class ReportsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The folder the reliability reports are written to (and the API lists)."""

    path: str

    @property
    def folder(self) -> Path:
        folder = Path(self.path)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
