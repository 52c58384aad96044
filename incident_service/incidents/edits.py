"""Editing an incident (PATCH): what changed, under which version, and what follows.

Takes a connection inside the caller's transaction and never commits; knows nothing of HTTP.
The row is read and locked first (the diff, the model's scores and the policies' choice
are computed here, in Python), then one statement writes the change, an entry and an
event per changed field, the new predictions, and the responses the policies now choose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from incident_service.auth.schemas import Principal
from incident_service.db import AsyncConn
from incident_service.errors import (
    PreconditionFailed,
    ValidationFailed,
    found,
    missing_incident,
    outside_team,
)
from incident_service.incidents import repository
from incident_service.incidents.lifecycle import ACTIVE
from incident_service.incidents.schemas import EDITABLE, Incident, IncidentPatch
from incident_service.predictions.scorer import Scorer
from incident_service.responses.policies import PolicyFile, decide, incident_context
from incident_service.vocabulary import IncidentSeverity, IncidentStatus


def etag(version: int) -> str:
    """The ETag of an incident at `version` (a strong validator: the version changes with
    every change of the incident's own fields)."""
    return f'"{version}"'


def parse_if_match(header: str | None) -> set[int] | None:
    """The versions an If-Match header accepts: None for any (no header, or `*`). Weak
    (`W/"3"`) and bare (`3`) forms are read too; anything else matches nothing."""
    if header is None or header.strip() == "*":
        return None
    versions: set[int] = set()
    for part in header.split(","):
        tag = part.strip().removeprefix("W/").strip('"')
        if tag.isascii() and tag.isdigit() and len(tag) < 10:
            versions.add(int(tag))
    return versions


def check_version(row: Mapping[str, Any], accepted: set[int] | None) -> None:
    if accepted is not None and row["version"] not in accepted:
        msg = (
            f"incident {row['incident_id']} is at version {row['version']}: it changed since "
            "the version named in If-Match; read it again and re-apply the change"
        )
        raise PreconditionFailed(msg, current_version=row["version"])


async def locked(
    conn: AsyncConn, incident_id: str, principal: Principal, accepted: set[int] | None
) -> dict[str, Any]:
    """The incident's row, locked for this transaction, when the key sees its team; 404
    otherwise; 412 when If-Match names another version."""
    row = found(
        await repository.get_incident(conn, incident_id, for_update=True, team=principal.team),
        missing_incident(incident_id),
    )
    check_version(row, accepted)
    return row


async def _assignee(conn: AsyncConn, patch: IncidentPatch) -> tuple[str | None, str | None]:
    """(user id, display name) of the requested assignee; 400 naming `assignee` when there
    is no such active user."""
    if patch.assignee is None:
        return None, None
    user = await repository.get_user(conn, patch.assignee)
    if user is None:
        msg = f"no active user {patch.assignee}"
        raise ValidationFailed(
            msg, [{"key": "assignee", "message": "no such active user", "source": "body"}]
        )
    return str(user["id"]), str(user["name"])


def _changes(row: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per field whose value differs, in EDITABLE order."""
    out: list[dict[str, Any]] = []
    for field in EDITABLE:
        if field == "assignee":
            old_id = str(row["assignee_id"]) if row["assignee_id"] else None
            if (old_id, row["assignee"]) == (new["assignee_id"], new["assignee"]):
                continue
            old, value = old_id, new["assignee_id"]
            extra = {"old_name": row["assignee"], "new_name": new["assignee"]}
        else:
            if row[field] == new[field]:
                continue
            old, value, extra = row[field], new[field], {}
        out.append(
            {"position": len(out) + 1, "field": field, "old": old, "new": value, "extra": extra}
        )
    return out


def _new_actions(
    policies: PolicyFile,
    incident: Mapping[str, Any],
    predicted: Mapping[str, Any] | None,
    present: list[dict[str, Any]],
) -> dict[str, Any]:
    """The policies' decision on the edited incident, and the actions it chooses that the
    incident does not already have (the same action type with the same parameters)."""
    context = incident_context(
        severity=incident["severity"],
        assigned_team=incident["assigned_team"],
        affected_services=incident["affected_services"],
        labels=incident["labels"],
        title=incident["title"],
        predicted=predicted,
    )
    decision = decide(policies, context)
    seen = {(p["action_type"], _canonical(p["parameters"])) for p in present}
    chosen: list[dict[str, Any]] = []
    for action in decision.actions:
        key = (action.spec.type, _canonical(action.spec.params))
        if key in seen:
            continue
        seen.add(key)
        chosen.append(
            {
                "position": len(chosen) + 1,
                "action_type": action.spec.type,
                "parameters": action.spec.params,
                "policy_id": action.policy_id,
                "max_attempts": action.spec.max_attempts,
                "deadline_s": action.spec.deadline_s,
                "stop_on_failure": action.spec.stop_on_failure,
            }
        )
    return {
        "responses": chosen,
        "policy_version": decision.policy_version,
        "matched": decision.matched,
        "not_matched": decision.not_matched,
        "inputs": context,
    }


def _canonical(params: Any) -> str:
    return json.dumps(params or {}, sort_keys=True)


async def edit_incident(
    conn: AsyncConn,
    incident_id: str,
    patch: IncidentPatch,
    *,
    principal: Principal,
    if_match: str | None = None,
    scorer: Scorer | None = None,
    policies: PolicyFile | None = None,
) -> Incident:
    """Change the fields `patch` gives. A field set to its current value records nothing;
    an edit that changes nothing answers the incident as it is and writes nothing.

    A severity change re-scores the incident (trigger `severity_changed`) and asks the
    response policies again: the actions they choose that the incident does not have yet
    are added and started; a raise to SEV1 also starts the team's escalation (a no-op when
    it runs already). Both only while the incident is active.

    A move to another team while the escalation runs hands it over to that team's policy,
    from its first level, or stops it when that team has none (on the timeline)."""
    row = await locked(conn, incident_id, principal, parse_if_match(if_match))
    given = patch.model_fields_set
    moved_to = patch.assigned_team if "assigned_team" in given else None
    if moved_to is not None and not principal.sees_team(moved_to):
        msg = f"this API key may only move incidents to team {principal.team!r}"
        raise outside_team(msg, key="assigned_team")
    new: dict[str, Any] = {f: row[f] for f in EDITABLE if f != "assignee"}
    new |= {"assignee": row["assignee"], "assignee_id": _str_or_none(row["assignee_id"])}
    for field in given - {"assignee"}:
        value = getattr(patch, field)
        new[field] = value.value if isinstance(value, IncidentSeverity) else value
    if "assignee" in given:
        new["assignee_id"], new["assignee"] = await _assignee(conn, patch)
    changes = _changes(row, new)
    if not changes:
        return Incident.from_row(row)

    values: dict[str, Any] = new | {
        "incident_id": incident_id,
        "version": row["version"],
        "actor": principal.name,
        "changes": changes,
        # A running escalation goes over to the new team's policy (or stops).
        "moved": new["assigned_team"] != row["assigned_team"],
    }
    if new["severity"] != row["severity"]:
        now = datetime.now(UTC)
        edited = dict(row) | new
        predicted = scorer.score(edited, trigger="severity_changed", now=now) if scorer else None
        values["predictions"] = predicted
        active = IncidentStatus(row["status"]) in ACTIVE
        if policies is not None and active:
            present = await repository.existing_actions(conn, incident_id)
            values |= _new_actions(policies, edited, predicted or row["predictions"], present)
        values["escalate"] = active and new["severity"] == IncidentSeverity.SEV1_CRITICAL.value
    written = await repository.edit_incident(conn, values)
    assert written is not None  # the row is locked by this transaction at that version
    return Incident.from_row(written)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
