"""MERGED wherever statuses are listed: the lifecycle, the OpenAPI document, the vendor
status maps, escalation's finished set."""

from __future__ import annotations

import pytest

from incident_service.escalation.service import FINISHED
from incident_service.incidents.lifecycle import ACTIVE, ALLOWED
from incident_service.integrations import pagerduty, servicenow
from incident_service.integrations.jira import _DONE_STATUSES
from incident_service.vocabulary import IncidentStatus

S = IncidentStatus


def test_merged_is_terminal_inactive_and_no_status_change_reaches_it() -> None:
    assert ALLOWED[S.MERGED] == frozenset()
    assert all(S.MERGED not in targets for targets in ALLOWED.values())
    assert S.MERGED not in ACTIVE
    assert "MERGED" in FINISHED, "a merged incident can no longer be escalated by hand"


@pytest.mark.parametrize("status", list(IncidentStatus), ids=str)
def test_every_status_has_a_vendor_status(status: IncidentStatus) -> None:
    assert status.value in pagerduty.STATUS_MAP
    assert status.value in servicenow.STATE


def test_a_merged_source_is_resolved_in_the_vendors() -> None:
    assert pagerduty.advance_to("acknowledged", "MERGED") == "resolved"
    assert servicenow.STATE["MERGED"] == servicenow.STATE["RESOLVED"]
    assert "MERGED" in _DONE_STATUSES


async def test_the_openapi_document_knows_merged(client) -> None:
    document = (await client.get("/docs/openapi.json")).json()
    assert document["components"]["schemas"]["IncidentStatus"]["enum"][-1] == "MERGED"
    merge = document["paths"]["/api/v1/incidents/{incident_id}/merge"]["post"]
    assert set(merge["responses"]) >= {"200", "404", "409"}
    incident = document["components"]["schemas"]["Incident"]["properties"]
    assert "merged_into" in incident
