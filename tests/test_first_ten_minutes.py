"""A fresh install, as someone trying it sees it: the shipped response policies run with
nothing configured and end skipped with their reasons (nothing fails, nobody is paged),
and the README's shell examples work verbatim against a served app on a fresh database."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from testkit.databases import ROOT, make_api_key, migrated_database
from testkit.server import served
from testkit.worker import QUICK_WORKER, Worker, wait_for, worker_env
from tests.conftest import feed_until

# What a fresh install has not configured: every action target and channel.
_UNSET = ("AUTOMATION", "NOTIFY", "TICKET", "INTEGRATIONS_", "RESPONSE_POLICIES")


@pytest.fixture(scope="module")
def fresh_url(server_url: str) -> Iterator[str]:
    with migrated_database(server_url, "incident_fresh") as url:
        yield url


@pytest.fixture(scope="module")
async def fresh_client(fresh_url: str) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    key = make_api_key(fresh_url, name="fresh-admin", scopes=["admin"], rate_limit=1_000_000)
    async with AsyncTestClient(app=create_app(Settings(database_url=fresh_url))) as client:
        client.headers.update({"Authorization": f"Bearer {key}"})
        yield client


@pytest.fixture(scope="module")
def fresh_worker(fresh_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    env = {k: v for k, v in worker_env(fresh_url, QUICK_WORKER).items() if not k.startswith(_UNSET)}
    log = tmp_path_factory.mktemp("fresh-worker") / "worker.log"
    worker = Worker(env, log).start().wait_ready()
    yield worker
    worker.stop()


async def test_shipped_responses_end_skipped_with_reasons(fresh_client, fresh_worker) -> None:
    body = {
        "title": "Checkout latency after the deploy",
        "severity": "SEV2_HIGH",
        "affected_services": ["checkout"],
        "assigned_team": "payments",
        "labels": {"cause": "deploy"},
    }
    created = await fresh_client.post("/api/v1/incidents", json=body)
    assert created.status_code == 201, created.text
    iid = created.json()["incident_id"]

    async def settled() -> list[dict] | None:
        answer = (await fresh_client.get(f"/api/v1/incidents/{iid}/responses")).json()
        rows = answer["responses"]
        done = rows and all(r["execution_status"] not in ("pending", "in_progress") for r in rows)
        return rows if done else None

    rows = await wait_for(settled, within=60)
    assert rows, "the responses did not settle"
    got = {r["action_type"]: (r["execution_status"], r["last_error"]) for r in rows}
    # Every shipped policy that matches: page-on-critical, scale-latency, rollback-bad-deploy.
    assert set(got) == {
        "page_oncall",
        "notify_webhook",
        "scale_up_service",
        "create_ticket",
        "rollback_deploy",
        "run_runbook",
    }, got
    assert {status for status, _ in got.values()} == {"skipped"}, got
    assert "no escalation policy" in got["page_oncall"][1]
    assert "NOTIFY_WEBHOOK_URL" in got["page_oncall"][1]
    assert "NOTIFY_WEBHOOK_URL" in got["notify_webhook"][1]
    assert "TICKET_URL" in got["create_ticket"][1]
    for automation in ("scale_up_service", "rollback_deploy", "run_runbook"):
        assert got[automation][1] == "no AUTOMATION_URL set: nothing to call", got
    # Nobody paged, no failure recorded: no notification rows, no paging_failed event.
    escalation = (await fresh_client.get(f"/api/v1/incidents/{iid}/escalation")).json()
    assert not escalation.get("notifications"), escalation

    # The feed shows an event once every older transaction has ended (another test's open
    # transaction can hold it back a moment): wait for the responses' own events.
    def listed(answer: object) -> list[dict]:
        return answer["events"] if isinstance(answer, dict) else answer  # type: ignore[return-value]

    answer = await feed_until(
        fresh_client,
        {"incident_id": iid, "limit": 500},
        lambda a: any("incident_created" in e for e in listed(a)),
    )
    events = listed(answer)
    assert any("incident_created" in e for e in events), events
    assert not any("paging_failed" in e for e in events), events


# --- the README -------------------------------------------------------------------------


def readme_commands(text: str) -> list[str]:
    """The `$ ` commands of the README's console blocks, each with its continuation lines
    (a trailing backslash, or a quote still open)."""
    commands: list[str] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        current: list[str] | None = None
        for line in block.splitlines():
            if current is not None:
                joined = "\n".join(current)
                if joined.endswith("\\") or joined.count("'") % 2:
                    current.append(line)
                    continue
                commands.append(joined)
                current = None
            if line.startswith("$ "):
                current = [line[2:]]
        if current is not None:
            commands.append("\n".join(current))
    return commands


def test_readme_examples_run_verbatim(fresh_url: str, tmp_path: Path) -> None:
    commands = readme_commands((ROOT / "README.md").read_text())
    assert any("api/v1/incidents" in c for c in commands), commands
    key = make_api_key(fresh_url, name="readme", scopes=["admin"], rate_limit=1_000_000)
    with served(fresh_url) as (base, _proc):
        port = base.rsplit(":", 1)[1]
        # `make run` serves on localhost:8000: the examples say so; here it is another port.
        script = "\n".join(
            c.replace("localhost:8000", f"localhost:{port}")
            for c in commands
            if not c.startswith("export KEY=")  # the key `make run` printed: ours here
        )
        (tmp_path / "readme.sh").write_text(script)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", str(tmp_path / "readme.sh")],
            env=dict(os.environ, KEY=key),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert '"status":"ACKNOWLEDGED"' in done.stdout, done.stdout
    assert re.search(r"^INC-\d{8}-\d{3}$", done.stdout, re.M), done.stdout  # the echo
    assert '"responses":[' in done.stdout, done.stdout
