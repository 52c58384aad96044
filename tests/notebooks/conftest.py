"""A small world for the notebooks: the service running on its test database with one
resolved incident of its own, a warehouse of synthetic history plus that incident
(ingested from PostgreSQL as Dagster does), and two model versions trained on it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from models import diagnostics
from models.config import get_config
from models.evaluate import later_than
from pipelines import ingest, notebook_queries, sql_transforms, warehouse
from testkit.databases import ROOT, make_api_key
from tests.conftest import new_incident

# Synthetic history opens 2025-01-06 for 84 days; the test window starts here.
CUTOFF = datetime(2025, 3, 10)
# Small and quick: this checks that the notebooks run, not how good the models are.
TINY = get_config().replace(
    hash_dim=512,
    hidden=8,
    max_epochs=3,
    patience=1,
    ensemble=1,
    censored_weights=(1.0,),
    ttr_bins=12,
)
LIFECYCLE = ["ACKNOWLEDGED", "INVESTIGATING", "MONITORING", "RESOLVED"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            msg = f"{url} did not answer within {timeout_s} s"
            raise TimeoutError(msg)
        time.sleep(0.3)


@dataclass(frozen=True)
class NotebookWorld:
    env: dict[str, str]
    api_url: str
    api_key: str
    incident_id: str
    warehouse: Path
    models_dir: Path


@pytest.fixture(scope="session")
def api_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real service (`incident-service serve`) on the test database."""
    port = free_port()
    log = tmp_path_factory.mktemp("api") / "serve.log"
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "incident_service.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="session")
def world(
    api_server: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> NotebookWorld:
    key = make_api_key(database_url, name="notebooks", scopes=["admin"], rate_limit=1_000_000)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=api_server, headers=headers, timeout=30) as api:
        created = api.post(
            "/api/v1/incidents",
            json=new_incident("team-notebooks", title="Checkout Service High Latency"),
        )
        assert created.status_code == 201, created.text
        incident_id = created.json()["incident_id"]
        for status in LIFECYCLE:
            moved = api.put(f"/api/v1/incidents/{incident_id}/status", json={"status": status})
            assert moved.status_code == 200, moved.text

    folder = tmp_path_factory.mktemp("notebooks")
    path = folder / "warehouse.duckdb"
    notebook_queries.build_demo_warehouse(path, incidents=1200, seed=3, days=84)
    duck = warehouse.connect(path)
    try:
        with psycopg.connect(database_url, autocommit=True) as pg:
            ingest.ingest(pg, duck)
        warehouse.ensure_sources(duck)
        sql_transforms.run_all(duck)
        warehouse.publish_snapshot(duck, path)
        synthetic = notebook_queries.incidents_for_models(duck, "synthetic")
        history = diagnostics.history_from_incidents(synthetic, diagnostics.window_end(synthetic))
    finally:
        duck.close()

    models_dir = folder / "models"
    split = diagnostics.time_split(history, CUTOFF)
    v1 = diagnostics.train_version(split.train, models_dir, "incident-models", 1, TINY)
    # Offsets tuned on the training window's last two weeks, never on the test window.
    validation = later_than(split.train, CUTOFF - timedelta(days=14))
    tuned = diagnostics.with_tuned_offsets(
        diagnostics.versions_from_folder(models_dir)[0].artifact, validation
    )
    (models_dir / "incident-models-v2.npz").write_bytes(tuned.to_bytes())
    assert v1.exists()
    env = {
        "NOTEBOOK_WAREHOUSE": str(path),
        "MODELS_DIR": str(models_dir),
        "INCIDENT_API_URL": api_server,
        "INCIDENT_API_KEY": key,
        "REVIEW_INCIDENT": incident_id,
    }
    return NotebookWorld(env, api_server, key, incident_id, path, models_dir)
