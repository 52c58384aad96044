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


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The DuckDB warehouse file (one writer at a time: jobs run in process)."""

    path: str

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = warehouse.connect(self.path)
        try:
            yield conn
        finally:
            conn.close()


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
