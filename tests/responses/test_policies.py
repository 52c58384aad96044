"""Response policies: the condition language, decisions with reasons, file validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from incident_service.responses.policies import (
    PolicyFile,
    PolicyFileError,
    decide,
    incident_context,
    load_policies,
)
from incident_service.worker_app import action_types

KNOWN = action_types()


def ctx(**over):
    base = dict(
        severity="SEV2_HIGH",
        assigned_team="payments",
        affected_services=["api", "db"],
        labels={"env": "prod"},
        title="High latency on api",
    )
    predicted = over.pop("predicted", None)
    base.update(over)
    return incident_context(**base, predicted=predicted)


def policies(*items: dict) -> PolicyFile:
    return PolicyFile.model_validate({"version": "t1", "policies": list(items)})


def test_catalog_has_every_action_the_issue_names() -> None:
    assert {
        "page_oncall",
        "scale_up_service",
        "restart_service",
        "rollback_deploy",
        "run_runbook",
        "create_ticket",
        "notify_webhook",
    } <= KNOWN


def test_shipped_file_loads_and_is_versioned() -> None:
    loaded = load_policies(None, KNOWN)
    assert loaded.version and loaded.policies


@pytest.mark.parametrize(
    ("when", "context", "expected"),
    [
        ({"field": "incident.severity", "op": "eq", "value": "SEV2_HIGH"}, {}, True),
        ({"field": "incident.severity", "op": "in", "value": ["SEV1_CRITICAL"]}, {}, False),
        ({"field": "incident.affected_services", "op": "contains_any", "value": ["db"]}, {}, True),
        ({"field": "incident.affected_services", "op": "contains", "value": "web"}, {}, False),
        ({"field": "incident.labels.env", "op": "ne", "value": "staging"}, {}, True),
        ({"field": "incident.labels.region", "op": "eq", "value": "eu"}, {}, False),
        ({"field": "incident.title", "op": "glob", "value": "*latency*"}, {}, True),
        ({"field": "incident.assigned_team", "op": "not_in", "value": ["ops"]}, {}, True),
        ({"not": {"field": "incident.severity", "op": "eq", "value": "SEV2_HIGH"}}, {}, False),
        (
            {
                "any": [
                    {"field": "incident.severity", "op": "eq", "value": "SEV4_LOW"},
                    {"field": "incident.labels.env", "op": "eq", "value": "prod"},
                ]
            },
            {},
            True,
        ),
        # The models' namespace: absent today (false), usable once predictions are fed.
        ({"field": "predicted.sev1_probability", "op": "gte", "value": 0.8}, {}, False),
        # (from a version that passed its quality gate; below it they are never used)
        (
            {"field": "predicted.sev1_probability", "op": "gte", "value": 0.8},
            {"predicted": {"sev1_probability": 0.93, "model_gate": {"passed": True}}},
            True,
        ),
        (
            {"field": "predicted.sev1_probability", "op": "gte", "value": 0.8},
            {"predicted": {"sev1_probability": 0.93, "model_gate": {"passed": False}}},
            False,
        ),
        (
            {"field": "predicted.sev1_probability", "op": "gt", "value": 0.5},
            {"predicted": {"sev1_probability": "high", "model_gate": {"passed": True}}},
            False,
        ),
    ],
)
def test_conditions(when: dict, context: dict, expected: bool) -> None:
    decision = decide(
        policies({"id": "p", "when": when, "actions": [{"type": "run_runbook"}]}), ctx(**context)
    )
    assert bool(decision.actions) is expected
    record = decision.matched if expected else decision.not_matched
    assert record[0]["policy"] == "p" and record[0]["why"]


def test_actions_keep_order_deduplicate_and_final_stops() -> None:
    decision = decide(
        policies(
            {"id": "a", "actions": [{"type": "page_oncall"}, {"type": "notify_webhook"}]},
            {
                "id": "b",
                "final": True,
                "actions": [{"type": "page_oncall"}, {"type": "create_ticket"}],
            },
            {"id": "c", "actions": [{"type": "restart_service"}]},
        ),
        ctx(),
    )
    assert [(a.position, a.spec.type, a.policy_id) for a in decision.actions] == [
        (1, "page_oncall", "a"),
        (2, "notify_webhook", "a"),
        (3, "create_ticket", "b"),
    ]
    assert [m["policy"] for m in decision.matched] == ["a", "b"]
    assert decision.not_matched == []


def test_missing_field_is_reported_as_the_reason() -> None:
    decision = decide(
        policies(
            {
                "id": "deploy",
                "when": {"field": "incident.labels.cause", "op": "eq", "value": "deploy"},
                "actions": [{"type": "rollback_deploy"}],
            }
        ),
        ctx(),
    )
    assert decision.not_matched == [
        {"policy": "deploy", "why": ["incident.labels.cause is missing"]}
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("version: '1'\npolicies:\n  - id: x\n    actions: [{type: teleport}]\n", "teleport"),
        ("version: '1'\npolicies:\n  - id: x\n    actions: []\n", "actions"),
        (
            "version: '1'\npolicies:\n  - {id: x, actions: [{type: page_oncall}]}\n"
            "  - {id: x, actions: [{type: page_oncall}]}\n",
            "duplicate",
        ),
        (
            "version: '1'\npolicies:\n  - id: x\n"
            "    when: {field: incident.severity, op: in, value: 3}\n"
            "    actions: [{type: page_oncall}]\n",
            "list",
        ),
        ("version: [\n", "response policy file"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    with pytest.raises(PolicyFileError, match=needle):
        load_policies(path, KNOWN)
