"""Predictions on incidents (issue 6): scored in the request with the active model version,
stored with the version, returned, re-scored on every status change, read by policies."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from models import registry
from models.service_records import opened_from_service
from tests.conftest import new_incident
from tests.predictions.conftest import activate, fixed_artifact

ROOT = Path(__file__).resolve().parents[2]


async def test_no_active_model_means_no_predictions(client, team) -> None:
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    assert created.json()["predictions"] is None


async def test_create_scores_stores_and_returns_predictions(
    scored_client, database_url, model_name, likely_sev1, team
) -> None:
    body = new_incident(team, severity="SEV3_MEDIUM", labels={"env": "prod"})
    created = await scored_client.post("/api/v1/incidents", json=body)
    assert created.status_code == 201, created.text
    incident = created.json()
    p = incident["predictions"]
    assert p["model"] == model_name and p["model_version"] == 1 and p["trigger"] == "created"
    assert sum(p["severity_probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert p["suggested_severity"] == "SEV1_CRITICAL"
    assert p["sev1_probability"] == pytest.approx(p["severity_probabilities"]["SEV1_CRITICAL"])
    assert 0.8 < p["sev1_probability"] < 0.95
    assert p["high_severity_probability"] > p["sev1_probability"]
    assert 0 < p["ttr_p10_hours"] <= p["ttr_p50_hours"] <= p["ttr_p90_hours"]
    assert p["elapsed_hours"] == 0.0

    # What the API said is what the artifact says for that incident (same mapping), as of
    # the moment it was scored (the request's clock; created_at is the database's).
    scored_at = datetime.fromisoformat(p["scored_at"])
    expected = likely_sev1.score(opened_from_service(incident | {"created_at": scored_at}))
    assert p["severity_probabilities"] == pytest.approx(expected.severity_probabilities)
    assert p["ttr_p50_hours"] == pytest.approx(expected.ttr_p50_hours)

    got = (await scored_client.get(f"/api/v1/incidents/{incident['incident_id']}")).json()
    assert got["predictions"] == p
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select model_name, model_version, trigger, suggested_severity, ttr_p50_hours"
            " from incident_predictions where incident_id = %s order by id",
            (incident["incident_id"],),
        ).fetchall()
    assert rows == [(model_name, 1, "created", "SEV1_CRITICAL", pytest.approx(p["ttr_p50_hours"]))]


async def test_every_status_change_rescores(scored_client, database_url, team) -> None:
    incident = (await scored_client.post("/api/v1/incidents", json=new_incident(team))).json()
    iid = incident["incident_id"]
    for status in ("ACKNOWLEDGED", "INVESTIGATING", "RESOLVED"):
        moved = await scored_client.put(f"/api/v1/incidents/{iid}/status", json={"status": status})
        assert moved.status_code == 200, moved.text
        assert moved.json()["predictions"]["trigger"] == status
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select trigger, elapsed_hours, expected_remaining_hours from incident_predictions"
            " where incident_id = %s order by id",
            (iid,),
        ).fetchall()
    assert [r[0] for r in rows] == ["created", "ACKNOWLEDGED", "INVESTIGATING", "RESOLVED"]
    elapsed = [r[1] for r in rows]
    assert elapsed == sorted(elapsed) and elapsed[-1] > 0
    # The same status again records nothing and scores nothing.
    again = await scored_client.put(f"/api/v1/incidents/{iid}/status", json={"status": "RESOLVED"})
    assert again.status_code == 200
    with psycopg.connect(database_url) as conn:
        [(n,)] = conn.execute(
            "select count(*) from incident_predictions where incident_id = %s", (iid,)
        ).fetchall()
    assert n == 4


async def test_promotion_and_rollback_take_effect_without_restart(
    scored_client, database_url, model_name, team
) -> None:
    better = fixed_artifact([0.0, 0.0, 0.0, 3.0], [3.0, 0.0, 0.0], seed=1)
    version = activate(database_url, model_name, better, f1=0.9)
    assert version == 2
    scorer = scored_client.app.state.scorer
    async with scored_client.app.state.db_pool.connection() as conn:
        await scorer.refresh(conn)  # what the background refresh does every model_refresh_s
    p = (await scored_client.post("/api/v1/incidents", json=new_incident(team))).json()
    assert p["predictions"]["model_version"] == 2
    assert p["predictions"]["suggested_severity"] == "SEV4_LOW"
    with psycopg.connect(database_url) as conn:
        registry.rollback(conn, "tests", name=model_name)
        conn.commit()
    async with scored_client.app.state.db_pool.connection() as conn:
        await scorer.refresh(conn)
    p = (await scored_client.post("/api/v1/incidents", json=new_incident(team))).json()
    assert p["predictions"]["model_version"] == 1


POLICIES = """
version: "test-predicted"
policies:
  - id: predicted-critical
    when:
      all:
        - {field: predicted.sev1_probability, op: gte, value: 0.6}
        - {field: incident.severity, op: ne, value: SEV1_CRITICAL}
    actions:
      - type: suggest_severity
  - id: predicted-long
    when: {field: predicted.ttr_p50_hours, op: gte, value: 1000}
    actions:
      - type: create_ticket
"""


async def test_policies_read_predictions_and_the_decision_records_its_inputs(
    settings: Settings, admin_headers, model_name, likely_sev1, tmp_path, team
) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    app = create_app(
        settings.model_copy(
            update={"serving_model_name": model_name, "response_policies_path": path}
        )
    )
    async with AsyncTestClient(app=app) as client:
        client.headers.update(admin_headers)
        body = new_incident(team, severity="SEV3_MEDIUM")
        incident = (await client.post("/api/v1/incidents", json=body)).json()
        got = (await client.get(f"/api/v1/incidents/{incident['incident_id']}/responses")).json()
    assert [r["action_type"] for r in got["responses"]] == ["suggest_severity"]
    assert [m["policy"] for m in got["matched"]] == ["predicted-critical"]
    [why] = [m["why"] for m in got["matched"]]
    assert any(w.startswith("predicted.sev1_probability=0.8") for w in why), why
    [missed] = got["not_matched"]
    assert missed["policy"] == "predicted-long" and "ttr_p50_hours" in missed["why"][0]
    inputs = got["inputs"]
    assert inputs["incident"]["severity"] == "SEV3_MEDIUM"
    assert inputs["predicted"]["model_version"] == 1
    assert inputs["predicted"]["sev1_probability"] == pytest.approx(
        incident["predictions"]["sev1_probability"]
    )


async def test_without_a_model_predicted_rules_do_not_match(
    settings: Settings, admin_headers, tmp_path, team
) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    app = create_app(settings.model_copy(update={"response_policies_path": path}))
    async with AsyncTestClient(app=app) as client:
        client.headers.update(admin_headers)
        incident = (await client.post("/api/v1/incidents", json=new_incident(team))).json()
        got = (await client.get(f"/api/v1/incidents/{incident['incident_id']}/responses")).json()
    assert got["responses"] == [] and got["matched"] == []
    assert got["inputs"]["predicted"] == {}
    assert "predicted.sev1_probability is missing" in got["not_matched"][0]["why"]


def test_serving_never_imports_jax(database_url: str, model_name: str, likely_sev1) -> None:
    """The API process scores with NumPy only: JAX is for training."""
    code = f"""
import asyncio, json, sys
from datetime import UTC, datetime
import psycopg
from psycopg.rows import dict_row
from incident_service.app import create_app
from incident_service.predictions.scorer import Scorer

async def main():
    create_app()
    scorer = Scorer({model_name!r})
    async with await psycopg.AsyncConnection.connect({database_url!r}, row_factory=dict_row) as c:
        await scorer.refresh(c)
    p = scorer.score({{"title": "db down", "created_at": datetime.now(UTC),
                       "assigned_team": "t", "affected_services": ["db"]}}, trigger="created")
    print(json.dumps({{"scored": p is not None, "jax": "jax" in sys.modules}}))

asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"scored": True, "jax": False}
