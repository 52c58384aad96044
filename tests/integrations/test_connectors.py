"""Each connector, through the real vendor client, against its stand-in."""

from __future__ import annotations

import secrets

import pytest
from pydantic import SecretStr

from incident_service.integrations.base import IncidentFacts, VendorError, ensure
from incident_service.integrations.jira import JiraConnector
from incident_service.integrations.pagerduty import PagerDutyConnector
from incident_service.integrations.servicenow import ServiceNowConnector
from tests.integrations.conftest import PD_SERVICE


def facts(status: str = "OPEN", severity: str = "SEV1_CRITICAL") -> IncidentFacts:
    return IncidentFacts(
        incident_id=f"INC-20990101-{secrets.token_hex(3)}",
        title="Checkout latency",
        description="p99 above 2 s",
        severity=severity,
        status=status,
        team="payments",
    )


def test_pagerduty_lifecycle(vendor_settings, pagerduty) -> None:
    connector = PagerDutyConnector(vendor_settings, {"service_id": PD_SERVICE})
    incident = facts()
    record, created = ensure(connector, incident)
    assert created and record.status == "triggered"
    again, created_again = ensure(connector, incident)
    assert not created_again and again.remote_id == record.remote_id
    remote = pagerduty.incidents[record.remote_id]
    assert remote["incident_key"] == incident.incident_id and remote["urgency"] == "high"

    acked = connector.mirror_status(record, facts_with(incident, "INVESTIGATING"), None)
    assert acked.status == "acknowledged" == remote["status"]
    resolved = connector.mirror_status(acked, facts_with(incident, "RESOLVED"), None)
    assert resolved.status == "resolved"
    connector.add_note(resolved, "fixed by rollback")
    assert [n["content"] for n in pagerduty.notes[record.remote_id]] == ["fixed by rollback"]
    assert pagerduty.spec_errors == []
    sent = pagerduty.requests("POST", "/incidents")[-1]
    assert sent.headers["from"] == "bot@example.com"


def facts_with(incident: IncidentFacts, status: str) -> IncidentFacts:
    return IncidentFacts(
        **{**{k: getattr(incident, k) for k in incident.__slots__}, "status": status}
    )


def test_pagerduty_errors_are_classified(vendor_settings, pagerduty) -> None:
    connector = PagerDutyConnector(vendor_settings, {"service_id": PD_SERVICE})
    pagerduty.fail("GET", "/incidents", 429, retry_after=7)
    with pytest.raises(VendorError) as caught:
        connector.find(facts())
    assert caught.value.retryable and caught.value.retry_after == 7
    pagerduty.fail("GET", "/incidents", 502, body={"internal": "upstream db-7.corp answered"})
    with pytest.raises(VendorError) as caught:
        connector.find(facts())
    assert caught.value.retryable and caught.value.status == 502
    # The failure is named; the remote server's answer is not shown (only logged).
    assert str(caught.value) == "HTTP 502 from pagerduty"
    bad = PagerDutyConnector(
        vendor_settings.model_copy(update={"pagerduty_token": SecretStr("wrong")}),
        {"service_id": PD_SERVICE},
    )
    with pytest.raises(VendorError) as caught:
        bad.find(facts())
    assert caught.value.status == 401 and not caught.value.retryable
    assert "wrong" not in str(caught.value)
    unknown = PagerDutyConnector(vendor_settings, {"service_id": "PNOPE"})
    with pytest.raises(VendorError) as caught:
        unknown.create(facts())
    assert caught.value.status == 400 and not caught.value.retryable
    assert str(caught.value) == "HTTP 400 from pagerduty"
    assert "Service not found" in caught.value.detail


def test_pagerduty_timeout_is_retryable(vendor_settings, pagerduty) -> None:
    connector = PagerDutyConnector(vendor_settings, {"service_id": PD_SERVICE})
    pagerduty.fail("GET", "/incidents", hang_s=2.5)
    with pytest.raises(VendorError) as caught:
        connector.find(facts())
    assert caught.value.retryable and caught.value.status is None
    assert str(caught.value) == "timeout reaching pagerduty"


def test_unreachable_vendors_are_named_without_detail(vendor_settings) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"https://127.0.0.1:{port}"
    settings = vendor_settings.model_copy(
        update={"pagerduty_api_url": closed, "jira_url": closed, "servicenow_url": closed}
    )
    for connector, system in (
        (PagerDutyConnector(settings, {"service_id": PD_SERVICE}), "pagerduty"),
        (JiraConnector(settings, {"project": "OPS"}), "jira"),
        (ServiceNowConnector(settings, {}), "servicenow"),
    ):
        with pytest.raises(VendorError) as caught:
            connector.find(facts())
        assert caught.value.retryable
        assert str(caught.value) == f"connection refused by {system}", caught.value.detail


def test_jira_lifecycle(vendor_settings, jira) -> None:
    connector = JiraConnector(
        vendor_settings,
        {"project": "OPS", "issue_type": "Incident", "priority_map": {"SEV1_CRITICAL": "Highest"}},
    )
    incident = facts()
    record, created = ensure(connector, incident)
    assert created and record.remote_key and record.remote_key.startswith("OPS-")
    assert ensure(connector, incident)[0].remote_id == record.remote_id
    issue = jira.issues[record.remote_id]
    assert issue["fields"]["priority"] == {"name": "Highest"}
    assert f"ims-{incident.incident_id}" in issue["fields"]["labels"]

    same = connector.mirror_status(record, facts_with(incident, "INVESTIGATING"), None)
    assert same == record, "only resolve and close transition the issue"
    connector.add_note(record, "OPEN -> INVESTIGATING")
    done = connector.mirror_status(record, facts_with(incident, "RESOLVED"), None)
    assert done.status == "Done"
    assert connector.mirror_status(done, facts_with(incident, "CLOSED"), None).status == "Done"
    assert [c["body"] for c in jira.comments_of(record.remote_key)] == ["OPEN -> INVESTIGATING"]
    assert jira.spec_errors == []
    assert {c.path.rsplit("/", 1)[-1] for c in jira.calls} >= {
        "serverInfo",
        "search",
        "transitions",
    }


def test_jira_errors(vendor_settings, jira) -> None:
    bad = JiraConnector(
        vendor_settings.model_copy(update={"jira_token": SecretStr("nope")}), {"project": "OPS"}
    )
    with pytest.raises(VendorError) as caught:
        bad.find(facts())
    assert caught.value.status == 401 and not caught.value.retryable
    wrong_project = JiraConnector(vendor_settings, {"project": "NOPE"})
    with pytest.raises(VendorError) as caught:
        wrong_project.create(facts())
    assert caught.value.status == 400 and str(caught.value) == "HTTP 400 from jira"
    assert "project" in caught.value.detail
    connector = JiraConnector(vendor_settings, {"project": "OPS"})
    connector.find(facts())  # builds the client
    jira.fail("GET", "/rest/api/2/search", 503, retry_after=3)
    with pytest.raises(VendorError) as caught:
        connector.find(facts())
    assert caught.value.retryable and caught.value.retry_after == 3


def test_servicenow_lifecycle(vendor_settings, servicenow) -> None:
    connector = ServiceNowConnector(vendor_settings, {"close_code": "Solved (Work Around)"})
    incident = facts(severity="SEV2_HIGH")
    record, created = ensure(connector, incident)
    assert created and record.status == "1"
    assert ensure(connector, incident)[0].remote_id == record.remote_id
    stored = servicenow.records[record.remote_id]
    assert (stored["impact"], stored["urgency"], stored["correlation_id"]) == (
        "1",
        "2",
        incident.incident_id,
    )

    moving = connector.mirror_status(record, facts_with(incident, "ACKNOWLEDGED"), None)
    assert moving.status == "2"
    resolved = connector.mirror_status(moving, facts_with(incident, "RESOLVED"), "rolled back")
    assert resolved.status == "6"
    assert (stored["close_code"], stored["close_notes"]) == ("Solved (Work Around)", "rolled back")
    connector.add_note(resolved, "post-incident review scheduled")
    assert stored["work_notes"] == "post-incident review scheduled"
    assert connector.mirror_status(resolved, facts_with(incident, "CLOSED"), None).status == "7"


def test_servicenow_errors(vendor_settings, servicenow) -> None:
    bad = ServiceNowConnector(
        vendor_settings.model_copy(update={"servicenow_password": SecretStr("x")}), {}
    )
    with pytest.raises(VendorError) as caught:
        bad.create(facts())
    assert caught.value.status == 401 and not caught.value.retryable
    connector = ServiceNowConnector(vendor_settings, {})
    servicenow.fail("POST", "/api/now/table/incident", 429, retry_after=2)
    with pytest.raises(VendorError) as caught:
        connector.create(facts())
    assert caught.value.retryable and caught.value.retry_after == 2 and caught.value.status == 429
    servicenow.fail("GET", "/api/now/table/incident", 500)
    with pytest.raises(VendorError) as caught:
        connector.find(facts())
    assert caught.value.retryable


def test_a_note_whose_answer_was_lost_is_not_added_twice(vendor_settings, pagerduty, jira) -> None:
    pd = PagerDutyConnector(vendor_settings, {"service_id": PD_SERVICE})
    issue_tracker = JiraConnector(vendor_settings, {"project": "OPS"})
    for connector, standin, path in (
        (pd, pagerduty, r"/incidents/[A-Z0-9]+/notes"),
        (issue_tracker, jira, r"/rest/api/2/issue/[A-Z0-9-]+/comment"),
    ):
        record, _ = ensure(connector, facts())
        standin.fail("POST", path, hang_s=2.5, after=True)
        with pytest.raises(VendorError) as caught:
            connector.add_note(record, "incident-service [ab12cd34]: OPEN -> RESOLVED")
        assert caught.value.retryable
        connector.add_note(record, "incident-service [ab12cd34]: OPEN -> RESOLVED")
        connector.add_note(record, "incident-service [ef56ab78]: RESOLVED -> CLOSED")
        if standin is pagerduty:
            notes = [n["content"] for n in pagerduty.notes[record.remote_id]]
        else:
            notes = [c["body"] for c in jira.comments_of(record.remote_key or "")]
        assert len(notes) == 2, notes
