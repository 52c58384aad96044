"""The quality gate in the request path: a version below its gate is served (its
predictions are shown) but the response policies on predictions are skipped, saying why."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from models.evaluate import version_evaluation
from tests.conftest import new_incident
from tests.models.factories import tiny_history
from tests.predictions.conftest import activate, fixed_artifact


async def _responses(settings: Settings, headers, name: str, team: str) -> tuple[dict, dict]:
    app = create_app(settings.model_copy(update={"serving_model_name": name}))
    async with AsyncTestClient(app=app) as client:
        client.headers.update(headers)
        body = new_incident(team, severity="SEV4_LOW", title="Typo on the status page")
        incident = (await client.post("/api/v1/incidents", json=body)).json()
        got = (await client.get(f"/api/v1/incidents/{incident['incident_id']}/responses")).json()
    return incident, got


async def test_a_near_constant_model_cannot_trigger_the_shipped_policies(
    settings: Settings, admin_headers, database_url, model_name, team
) -> None:
    # The same answer for every incident: P(SEV1) about 0.87, a median of tens of hours.
    constant = fixed_artifact([3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0])
    recorded = version_evaluation(constant, tiny_history(400, seed=3))
    gate = recorded["gate"]
    assert not gate["passed"]
    assert {"top_suggestion_share", "p50_log_std", "macro_f1"} <= set(gate["failed"])
    activate(database_url, model_name, constant, gate=gate)

    incident, got = await _responses(settings, admin_headers, model_name, team)
    # Shown, with its gate, but not acted on: a SEV4 typo pages nobody.
    assert incident["predictions"]["sev1_probability"] > 0.6
    assert incident["predictions"]["ttr_p50_hours"] >= 4
    assert got["inputs"]["predicted"]["model_gate"]["passed"] is False
    # The incident's own answer says so too, for a person reading it.
    assert incident["predictions"]["model_gate"]["passed"] is False
    assert "macro_f1" in incident["predictions"]["model_gate"]["failed"]
    assert got["responses"] == [] and got["matched"] == []
    skipped = {m["policy"]: m["why"] for m in got["not_matched"]}
    for policy in ("predicted-critical", "predicted-long-running"):
        assert skipped[policy][0].startswith("model below its gate"), skipped


async def test_the_same_predictions_act_when_the_version_passed_its_gate(
    settings: Settings, admin_headers, database_url, model_name, team
) -> None:
    activate(database_url, model_name, fixed_artifact([3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0]))
    _, got = await _responses(settings, admin_headers, model_name, team)
    assert {m["policy"] for m in got["matched"]} >= {"predicted-critical", "predicted-long-running"}


async def test_a_version_without_a_recorded_gate_is_below_it(
    settings: Settings, admin_headers, database_url, model_name, team
) -> None:
    activate(
        database_url, model_name, fixed_artifact([3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0]), gate={}
    )
    _, got = await _responses(settings, admin_headers, model_name, team)
    assert got["matched"] == []
    assert any("model below its gate" in m["why"][0] for m in got["not_matched"])
