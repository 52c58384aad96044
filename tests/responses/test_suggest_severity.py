"""`suggest_severity` run by the real worker: the model's suggestion is recorded on
the timeline and in the feed, once, and only when it is more severe than declared."""

from __future__ import annotations

import secrets

from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from testkit.worker import query, wait_for
from tests.conftest import new_incident
from tests.predictions.conftest import activate, fixed_artifact

POLICIES = """
version: "test-suggest"
policies:
  - id: suggest
    actions:
      - type: suggest_severity
"""


async def _run(wf_settings, wf_key, tmp_path, worker, sev_logits, severity):  # type: ignore[no-untyped-def]
    name = f"suggest-{secrets.token_hex(4)}"
    activate(wf_settings.database_url, name, fixed_artifact(sev_logits, [0.0, 3.0, 0.0]))
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    settings = wf_settings.model_copy(
        update={"serving_model_name": name, "response_policies_path": path}
    )
    team = f"team-{secrets.token_hex(4)}"
    async with AsyncTestClient(app=create_app(settings)) as client:
        client.headers.update({"Authorization": f"Bearer {wf_key}"})
        created = await client.post("/api/v1/incidents", json=new_incident(team, severity=severity))
        assert created.status_code == 201, created.text
    iid = created.json()["incident_id"]
    url = wf_settings.database_url
    done = await wait_for(
        lambda: (
            query(
                url,
                "select execution_status from automated_responses where incident_id = %s",
                (iid,),
            )
            == [("succeeded",)]
        )
    )
    assert done, query(url, "select * from automated_responses where incident_id = %s", (iid,))
    return iid


async def test_a_more_severe_suggestion_is_recorded_once(
    wf_settings, wf_key, tmp_path, worker
) -> None:
    iid = await _run(wf_settings, wf_key, tmp_path, worker, [3.0, 0.0, 0.0, 0.0], "SEV3_MEDIUM")
    url = wf_settings.database_url
    rows = query(
        url,
        "select actor, note, details->>'suggested', details->>'current' from incident_timeline"
        " where incident_id = %s and kind = 'severity_suggested'",
        (iid,),
    )
    assert len(rows) == 1
    actor, note, suggested, current = rows[0]
    assert str(actor).startswith("model:suggest-") and str(actor).endswith("@v1")
    assert suggested == "SEV1_CRITICAL" and current == "SEV3_MEDIUM"
    assert "The model suggests SEV1_CRITICAL (declared SEV3_MEDIUM" in str(note)
    events = query(
        url,
        "select payload->>'suggested_severity' from outbox"
        " where incident_id = %s and event_type = 'severity_suggested'",
        (iid,),
    )
    assert events == [("SEV1_CRITICAL",)]
    # The severity itself is a person's decision: unchanged.
    assert query(url, "select severity from incidents where incident_id = %s", (iid,)) == [
        ("SEV3_MEDIUM",)
    ]


async def test_a_less_severe_suggestion_records_nothing(
    wf_settings, wf_key, tmp_path, worker
) -> None:
    iid = await _run(wf_settings, wf_key, tmp_path, worker, [0.0, 0.0, 0.0, 3.0], "SEV2_HIGH")
    rows = query(
        wf_settings.database_url,
        "select count(*) from incident_timeline where incident_id = %s"
        " and kind = 'severity_suggested'",
        (iid,),
    )
    assert rows == [(0,)]
