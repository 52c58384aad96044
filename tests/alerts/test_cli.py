"""`incident-service integrations create|list`, as a person runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="WARNING")
    return subprocess.run(
        [sys.executable, "-m", "incident_service.cli", "integrations", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_create_prints_a_key_that_pages(client, team, database_url) -> None:
    created = _run(
        database_url, "create", "--team", team, "--kind", "events-v2", "--name", "nagios"
    )
    assert created.returncode == 0, created.stderr
    key = re.search(r"integration key: ([0-9a-f]{32})", created.stdout)
    assert key is not None, created.stdout
    assert "send alerts to:  /v2/enqueue" in created.stdout

    event = {
        "routing_key": key.group(1),
        "event_action": "trigger",
        "payload": {"summary": "host down", "source": "nagios", "severity": "critical"},
    }
    assert (await client.post("/v2/enqueue", json=event)).status_code == 202

    listed = _run(database_url, "list", "--team", team)
    assert listed.returncode == 0 and "nagios" in listed.stdout
    assert key.group(1) not in listed.stdout and key.group(1)[:6] in listed.stdout
