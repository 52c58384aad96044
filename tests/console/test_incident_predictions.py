"""The incident page's predictions, from a real active model version (the predictions
tests' fixed artifact), as the API returns them; re-scored after a status change."""

from __future__ import annotations

from tests.conftest import new_incident
from tests.predictions.conftest import likely_sev1, model_name, scored_client

__all__ = ["likely_sev1", "model_name", "scored_client"]  # fixtures used by the tests below


def _ttr(p: dict[str, float]) -> str:
    return (
        f'data-testid="ttr">p50 {p["ttr_p50_hours"]:.1f} h · p10\u2013p90'
        f" {p['ttr_p10_hours']:.1f}\u2013{p['ttr_p90_hours']:.1f} h</dd>"
    )


async def test_the_page_shows_the_active_models_predictions(scored_client, team: str) -> None:  # type: ignore[no-untyped-def]
    created = await scored_client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    iid = created.json()["incident_id"]
    p = created.json()["predictions"]
    assert p is not None and p["ttr_p10_hours"] < p["ttr_p90_hours"]
    html = (await scored_client.get(f"/ui/incidents/{iid}")).text
    assert _ttr(p) in html
    assert f"{p['suggested_severity']} (P(SEV1) {p['sev1_probability'] * 100:.0f}%" in html
    assert f"v{p['model_version']}, scored" in html and "(created)" in html

    moved = await scored_client.post(
        f"/ui/incidents/{iid}/status", data={"status": "INVESTIGATING"}, follow_redirects=False
    )
    assert moved.status_code == 303, moved.text
    again = (await scored_client.get(f"/api/v1/incidents/{iid}")).json()["predictions"]
    assert again["trigger"] == "INVESTIGATING"
    html = (await scored_client.get(f"/ui/incidents/{iid}")).text
    assert _ttr(again) in html and "(INVESTIGATING)" in html
