"""One writer for the warehouse: under `make dagster`'s instance config the ingest and
model jobs and a "Materialize" from the UI, started together, run one after the other and
all succeed, while a notebook
session reads the warehouse all along without an error and sees the ingested rows."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import psycopg
import pytest
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from pipelines import notebook_queries
from testkit.databases import ROOT, migrated_database
from tests.notebooks.conftest import free_port, wait_for
from tests.pipelines.factories import insert_incident

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first

DONE = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


@pytest.fixture
def own_database_url(server_url: str) -> Iterator[str]:
    """A database of this test's own: on the suite's shared one the daemon's post-mortem
    sensor would first launch a run for every incident other tests resolved."""
    with migrated_database(server_url, "incident_warehouse_test") as url:
        yield url


@pytest.fixture
def dagster_dev(
    tmp_path: Path, own_database_url: str
) -> Iterator[tuple[DagsterGraphQLClient, Path]]:
    """`dagster dev` as `make dagster` runs it: the shipped instance config in DAGSTER_HOME
    and the warehouse pool's limit set."""
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATABASE_URL": own_database_url,
        "DATA_DIR": str(tmp_path),
        "ANALYTICS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "REPORTS_DIR": str(tmp_path / "reports"),
    }
    dagster = Path(sys.executable).parent / "dagster"
    # As `make dagster`: the pool's limit set before the first run is queued.
    subprocess.run(
        [str(dagster), "instance", "concurrency", "set", "warehouse", "1"],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with (tmp_path / "dagster-dev.log").open("w") as log:
        proc = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/server_info", timeout_s=180)
        yield DagsterGraphQLClient("127.0.0.1", port_number=port), home
    finally:
        # dagster dev stops its webserver, daemon and code server on SIGINT.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _submit(
    client: DagsterGraphQLClient,
    job: str,
    assets: list[list[str]] | None = None,
    timeout_s: float = 180,
) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return client.submit_job_execution(job, asset_selection=assets)
        except (DagsterGraphQLClientError, httpx.HTTPError):
            # The code location is still loading.
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_writers_queue_and_a_notebook_reads_throughout(
    dagster_dev: tuple[DagsterGraphQLClient, Path], tmp_path: Path, own_database_url: str, team: str
) -> None:
    client, home = dagster_dev
    with psycopg.connect(own_database_url, autocommit=True) as pg:
        for _ in range(3):
            insert_incident(pg, team)
    path = tmp_path / "warehouse.duckdb"
    notebook_queries.build_demo_warehouse(path, incidents=400, seed=11, days=56)
    stop = tmp_path / "stop"
    reader = [sys.executable, "-m", "tests.pipelines.warehouse_reader"]
    readers = [
        subprocess.Popen(
            [*reader, mode, str(path), str(stop), str(tmp_path / f"{mode}.json")], cwd=ROOT
        )
        for mode in ("reads", "holds")
    ]
    try:
        runs = {job: _submit(client, job) for job in ("ingest_job", "incident_model_job")}
        # "Materialize" in the UI: an ad hoc run of the implicit asset job.
        runs["materialize"] = _submit(client, "__ASSET_JOB", [["seeds", "slo_targets"]])
        deadline = time.monotonic() + 300
        status = dict.fromkeys(runs.values(), dg.DagsterRunStatus.QUEUED)
        while not set(status.values()) <= DONE and time.monotonic() < deadline:
            time.sleep(1)
            status = {run: client.get_run_status(run) for run in runs.values()}
    finally:
        stop.touch()
        for reader in readers:
            reader.wait(timeout=60)
    assert status == dict.fromkeys(runs.values(), dg.DagsterRunStatus.SUCCESS), (
        tmp_path / "dagster-dev.log"
    ).read_text()[-5000:]

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        spans = sorted(
            (record.start_time, record.end_time)
            for record in (instance.get_run_record_by_id(run) for run in runs.values())
            if record is not None and record.start_time and record.end_time
        )
    finally:
        instance.dispose()
    assert len(spans) == 3
    # Started together, run one after the other: each began after the one before ended.
    assert all(ended <= began for (_, ended), (began, _) in itertools.pairwise(spans)), spans

    seen = json.loads((tmp_path / "reads.json").read_text())
    assert seen["errors"] == []
    assert seen["reads"] > 0
    assert seen["most_service"] >= 3  # the ingested rows reached the notebook
    # The read held from before the runs kept its snapshot to the end, and blocked nothing.
    assert json.loads((tmp_path / "holds.json").read_text()) == {"held_rows": 400}
