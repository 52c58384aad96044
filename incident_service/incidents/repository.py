"""SQL for incidents, their timeline and their outbox events. No business rules here.

Each write is one statement: the incident (or its change), its timeline entry and its
outbox event are written together by data-modifying CTEs (`incident_service.changes`), so a
write costs one round trip (docs/performance.md has the figures).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.changes import (
    entry_of_parameters,
    json_object,
    outbox_event,
    timeline_entry,
)
from incident_service.crud import page_where
from incident_service.db import AsyncConn, compact_sql, fetch_all, fetch_one
from incident_service.roles.repository import commander_on_acknowledge
from incident_service.vocabulary import IncidentStatus

_INCIDENT_COLUMNS = """
    id, incident_id, title, description, severity, status, affected_services,
    assigned_team, assignee, assignee_id, created_by, created_at, updated_at, acknowledged_at,
    resolved_at, closed_at, reopen_count, labels, predictions, merged_into, version
"""


def _record_prediction(source: str) -> str:
    """A data-modifying CTE body: the `predictions` the statement has just written on the
    incident (`%(predictions)s`), appended to `incident_predictions`; nothing when None.
    `source` is the CTE that returned the incident row."""
    return f"""
    insert into incident_predictions (
        incident_id, model_name, model_version, trigger, elapsed_hours,
        severity_probabilities, suggested_severity, ttr_p10_hours, ttr_p50_hours,
        ttr_p90_hours, expected_remaining_hours, scored_at)
    select {source}.incident_id, p.model, p.model_version, p.trigger, p.elapsed_hours,
           p.severity_probabilities, p.suggested_severity, p.ttr_p10_hours, p.ttr_p50_hours,
           p.ttr_p90_hours, p.expected_remaining_hours, p.scored_at
    from {source}, jsonb_to_record(%(predictions)s::jsonb) as p(
        model text, model_version int, trigger text, elapsed_hours float8,
        severity_probabilities jsonb, suggested_severity text, ttr_p10_hours float8,
        ttr_p50_hours float8, ttr_p90_hours float8, expected_remaining_hours float8,
        scored_at timestamptz)
    where %(predictions)s::jsonb is not null"""


_CREATED_ENTRY = timeline_entry(
    "created",
    source="inc",
    actor="created_by",
    to_status="status",
    details=json_object("severity", "assigned_team"),
    occurred_at="created_at",
)
_CREATED_EVENT = outbox_event(
    "incident_created",
    source="inc",
    payload=json_object(
        "incident_id",
        "title",
        "severity",
        "status",
        "affected_services",
        "assigned_team",
        automated_responses="%(automated_responses)s::jsonb",
    ),
    created_at="created_at",
)
_STATUS_ENTRY = timeline_entry(
    "status_changed",
    source="upd",
    actor="%(actor)s::text",
    from_status="%(from)s::text",
    to_status="status",
    note="%(note)s::text",
    details=json_object(reopen="%(reopen)s::boolean", on_behalf_of="%(on_behalf_of)s::text"),
    occurred_at="updated_at",
)


def status_changed_event(
    source: str, *, previous_status: str, on_behalf_of: str, note: str, created_at: str
) -> str:
    """The `incident_status_changed` outbox event of the incidents of CTE `source` (which
    has their incident_id, status, severity, assigned_team and reopen_count): one payload
    wherever an incident's status moves (a transition, a merge). The other arguments are
    SQL; the actor is the `%(actor)s` parameter."""
    return outbox_event(
        "incident_status_changed",
        source=source,
        payload=json_object(
            "incident_id",
            "status",
            "severity",
            "assigned_team",
            "reopen_count",
            previous_status=previous_status,
            actor="%(actor)s::text",
            on_behalf_of=on_behalf_of,
            note=note,
        ),
        created_at=created_at,
    )


_STATUS_EVENT = status_changed_event(
    "upd",
    previous_status="%(from)s::text",
    on_behalf_of="%(on_behalf_of)s::text",
    note="%(note)s::text",
    created_at="updated_at",
)
# Whoever acknowledges becomes commander, unless someone is (incident_service/roles).
_COMMANDER_ON_ACK = commander_on_acknowledge(
    "upd",
    to_status="%(to)s::text",
    actor="%(actor)s::text",
    user_id="%(user_id)s::uuid",
    after=("timeline", "event"),
)
_NOTE = entry_of_parameters(
    "note", details=json_object(status="%(status)s::text", on_behalf_of="%(on_behalf_of)s::text")
)

# The per-day number comes from a per-day sequence (see next_incident_number in the
# migrations): unique under any concurrency, lock-free, and past 999 it grows more digits.
_CREATE = compact_sql(f"""
with seq as (
    select day, next_incident_number(day) as n
    from (select (now() at time zone 'utc')::date as day) as today
), inc as (
    insert into incidents (
        incident_id, title, description, severity, status, affected_services,
        assigned_team, assignee, created_by, labels, predictions
    )
    select 'INC-' || to_char(seq.day, 'YYYYMMDD') || '-'
               || case when seq.n < 1000 then lpad(seq.n::text, 3, '0') else seq.n::text end,
           %(title)s, %(description)s, %(severity)s, '{IncidentStatus.OPEN}', %(affected_services)s,
           %(assigned_team)s, %(assignee)s, %(actor)s, %(labels)s, %(predictions)s::jsonb
    from seq
    returning {_INCIDENT_COLUMNS}
), timeline as ({_CREATED_ENTRY}
), event as ({_CREATED_EVENT}
), responses as (
    -- The actions the response policies chose, pending until the worker runs them; the
    -- inbox row below is the worker's durable cue, written in this transaction.
    insert into automated_responses (
        response_id, incident_id, action_type, action_details, execution_status, position,
        parameters, policy_id, max_attempts, deadline_s, stop_on_failure)
    select inc.incident_id || '-R' || r.position, inc.incident_id, r.action_type,
           r.parameters::text, 'pending', r.position, r.parameters, r.policy_id,
           r.max_attempts, r.deadline_s, r.stop_on_failure
    from inc, jsonb_to_recordset(%(responses)s::jsonb) as r(
        position int, action_type text, parameters jsonb, policy_id text,
        max_attempts int, deadline_s float8, stop_on_failure boolean)
), decision as (
    insert into response_decisions (incident_id, policy_version, matched, not_matched, inputs)
    select incident_id, %(policy_version)s, %(matched)s::jsonb, %(not_matched)s::jsonb,
           %(inputs)s::jsonb
    from inc
), scored as ({_record_prediction("inc")}
), inbox as (
    insert into workflow_inbox (kind, workflow_id, incident_id, args)
    select 'incident_opened', 'incident-' || incident_id, incident_id,
           jsonb_build_object('responses', jsonb_array_length(%(responses)s::jsonb))
    from inc
)
select {_INCIDENT_COLUMNS} from inc
""")

_CHANGE_STATUS = compact_sql(f"""
with upd as (
    update incidents set
        status = %(to)s::text,
        updated_at = now(),
        acknowledged_at = coalesce(acknowledged_at, now()),
        resolved_at = case when %(to)s::text = '{IncidentStatus.RESOLVED}' then now()
                           when %(reopen)s::boolean then null
                           else resolved_at end,
        closed_at = case when %(to)s::text = '{IncidentStatus.CLOSED}' then now()
                         else closed_at end,
        reopen_count = reopen_count + case when %(reopen)s::boolean then 1 else 0 end,
        predictions = coalesce(%(predictions)s::jsonb, predictions)
    where incident_id = %(incident_id)s::text
    returning {_INCIDENT_COLUMNS}
), scored as (
    -- Re-scored on every status change: the expected remaining time moves on.
    {_record_prediction("upd")}
), timeline as ({_STATUS_ENTRY} returning id
), event as ({_STATUS_EVENT} returning id
){_COMMANDER_ON_ACK}
select {_INCIDENT_COLUMNS} from upd
""")


async def insert_incident(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any]:
    params = dict(
        values,
        affected_services=Jsonb(values["affected_services"]),
        labels=Jsonb(values.get("labels") or {}),
        responses=Jsonb(values.get("responses", [])),
        automated_responses=Jsonb(values.get("automated_responses", [])),
        policy_version=values.get("policy_version", "none"),
        matched=Jsonb(values.get("matched", [])),
        not_matched=Jsonb(values.get("not_matched", [])),
        inputs=Jsonb(values.get("inputs", {})),
        predictions=_json_or_null(values.get("predictions")),
    )
    row = await fetch_one(conn, _CREATE, params)
    assert row is not None  # an INSERT ... RETURNING of one row
    return row


async def get_incident(
    conn: AsyncConn, incident_id: str, *, for_update: bool = False, team: str | None = None
) -> dict[str, Any] | None:
    """The incident, when it is `team`'s (any team's when None)."""
    lock = " for update" if for_update else ""
    return await fetch_one(
        conn,
        f"select {_INCIDENT_COLUMNS} from incidents where incident_id = %s"
        f" and (%s::text is null or assigned_team = %s){lock}",
        (incident_id, team, team),
    )


def _json_or_null(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


async def change_status(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values, predictions=_json_or_null(values.get("predictions")))
    row = await fetch_one(conn, _CHANGE_STATUS, values)
    assert row is not None  # the caller locked the row it updates
    return row


async def add_note(conn: AsyncConn, values: dict[str, Any]) -> None:
    """A note on an incident whose status stays as it is."""
    await conn.execute(_NOTE, values)


# --- editing (PATCH) ----------------------------------------------------------------------

# One entry and one event per changed field, in the order of `changes` (`c`), all in the
# statement that updates the row; `version` is bumped by the row's trigger (0087).
_FIELD_ENTRY = timeline_entry(
    "field_changed",
    source="upd cross join c",
    incident_id="upd.incident_id",
    actor="%(actor)s::text",
    details=json_object(field="c.field", old="c.old", new="c.new") + " || c.extra",
    occurred_at="upd.updated_at",
    order_by="c.position",
)
_FIELD_EVENT = outbox_event(
    "incident_updated",
    source="upd cross join c",
    incident_id="upd.incident_id",
    payload=json_object(
        "incident_id",
        "severity",
        "status",
        "assigned_team",
        "version",
        of="upd",
        field="c.field",
        old="c.old",
        new="c.new",
        actor="%(actor)s::text",
    )
    + " || c.extra",
    created_at="upd.updated_at",
    order_by="c.position",
)

_HANDOVER_ENTRY = timeline_entry(
    "escalation_handed_over",
    source="handover",
    actor="%(actor)s::text",
    note="case when policy_id is null then 'escalation stopped: moved to team '"
    " || assigned_team || ', which has no escalation policy'"
    " else 'escalation handed over to team ' || assigned_team || ': policy '"
    " || policy_name || ' from level 1' end",
    details=json_object("assigned_team", "policy_id", stopped="policy_id is null"),
)

# Only an edit that moves the incident to another team carries these CTEs (`_EDIT_MOVING`):
# the everyday edit statement stays short enough for psycopg to prepare it.
_HANDOVER = f"""
handover as (
    -- Moved to another team while its escalation runs (unacknowledged, not stopped): that
    -- team's policy takes over from its first level, or, when it has none, the escalation
    -- stops. The worker's watcher wakes the workflow on this edit's event, so the new
    -- team is paged now, not when the old level's delay ends.
    update incident_escalations e set
        policy_id = p.id,
        policy = case when p.id is null then e.policy
                      else jsonb_build_object('levels', p.levels, 'repeat', p.repeat) end,
        level = case when p.id is null then e.level else 0 end,
        round = case when p.id is null then e.round else 0 end,
        stopped_reason = case when p.id is null then
            'moved to team ' || upd.assigned_team || ', which has no escalation policy' end,
        updated_at = now()
    from upd left join escalation_policies p on p.team = upd.assigned_team
    where e.incident_id = upd.incident_id and e.stopped_reason is null
      and upd.status = '{IncidentStatus.OPEN.value}'
    returning e.incident_id, p.id as policy_id, p.name as policy_name, upd.assigned_team
), handover_entry as ({_HANDOVER_ENTRY}
"""

_EDIT_SQL = f"""
with upd as (
    update incidents set
        title = %(title)s, description = %(description)s, severity = %(severity)s,
        assigned_team = %(assigned_team)s, assignee = %(assignee)s,
        assignee_id = %(assignee_id)s, affected_services = %(affected_services)s,
        labels = %(labels)s, updated_at = now(),
        predictions = coalesce(%(predictions)s::jsonb, predictions)
    where incident_id = %(incident_id)s and version = %(version)s
    returning {_INCIDENT_COLUMNS}
), c as (
    select * from jsonb_to_recordset(%(changes)s::jsonb)
        as c(position int, field text, old jsonb, new jsonb, extra jsonb)
), timeline as ({_FIELD_ENTRY}
), event as ({_FIELD_EVENT}
), scored as ({_record_prediction("upd")}
), resp as (
    -- The actions the policies choose now and the incident does not have yet, numbered
    -- after its existing ones.
    insert into automated_responses (
        response_id, incident_id, action_type, action_details, execution_status, position,
        parameters, policy_id, max_attempts, deadline_s, stop_on_failure)
    select upd.incident_id || '-R' || (base.n + r.position), upd.incident_id, r.action_type,
           r.parameters::text, 'pending', base.n + r.position, r.parameters, r.policy_id,
           r.max_attempts, r.deadline_s, r.stop_on_failure
    from upd,
         (select coalesce(max(position), 0) as n from automated_responses
          where incident_id = %(incident_id)s) as base,
         jsonb_to_recordset(%(responses)s::jsonb) as r(
            position int, action_type text, parameters jsonb, policy_id text,
            max_attempts int, deadline_s float8, stop_on_failure boolean)
    returning response_id
), decision as (
    insert into response_decisions (incident_id, policy_version, matched, not_matched, inputs)
    select incident_id, %(policy_version)s, %(matched)s, %(not_matched)s, %(inputs)s
    from upd where %(decided)s
    on conflict (incident_id) do update set
        policy_version = excluded.policy_version, matched = excluded.matched,
        not_matched = excluded.not_matched, inputs = excluded.inputs, decided_at = now()
), run as (
    -- The worker's `response_retry` handler starts a response workflow for these ids.
    insert into workflow_inbox (kind, workflow_id, incident_id, args)
    select 'response_retry', 'responses-' || upd.incident_id || '-v' || upd.version,
           upd.incident_id,
           jsonb_build_object('response_ids', (select jsonb_agg(response_id) from resp))
    from upd where exists (select from resp)
    on conflict (workflow_id) do nothing
), escalate as (
    -- The escalation's workflow id is per incident: one already started is not repeated.
    insert into workflow_inbox (kind, workflow_id, incident_id, args)
    select 'escalation_start', 'escalation-' || upd.incident_id, upd.incident_id, '{{}}'
    from upd
    where %(escalate)s and upd.assigned_team in (select team from escalation_policies)
    on conflict (workflow_id) do nothing
)
select * from upd
"""
_EDIT = compact_sql(_EDIT_SQL)
_EDIT_MOVING = compact_sql(
    _EDIT_SQL.replace(")\nselect * from upd", "), " + _HANDOVER + ")\nselect * from upd")
)


async def edit_incident(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any] | None:
    """Write an edit computed against the row at `version`: None when the row is no longer
    at that version (or gone)."""
    params = dict(
        values,
        affected_services=Jsonb(values["affected_services"]),
        labels=Jsonb(values["labels"]),
        changes=Jsonb(values["changes"]),
        predictions=_json_or_null(values.get("predictions")),
        responses=Jsonb(values.get("responses", [])),
        decided="policy_version" in values,
        policy_version=values.get("policy_version", "none"),
        matched=Jsonb(values.get("matched", [])),
        not_matched=Jsonb(values.get("not_matched", [])),
        inputs=Jsonb(values.get("inputs", {})),
        escalate=values.get("escalate", False),
    )
    return await fetch_one(conn, _EDIT_MOVING if values.get("moved") else _EDIT, params)


async def get_user(conn: AsyncConn, user_id: UUID) -> dict[str, Any] | None:
    """An active user (`users`, migration 0086)."""
    return await fetch_one(
        conn, "select id, name from users where id = %s and deactivated_at is null", (user_id,)
    )


async def existing_actions(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    """The automated responses the incident has, whatever their status."""
    return await fetch_all(
        conn,
        "select action_type, parameters from automated_responses where incident_id = %s",
        (incident_id,),
    )


# What each filter of the incident list asks, on the parameter of the filter's name.
_LIST_FILTERS = {
    "status": "status = %(status)s",
    "severity": "severity = %(severity)s",
    "assigned_team": "assigned_team = %(assigned_team)s",
    "affected_service": "affected_services @> %(affected_service)s",
    "created_after": "created_at >= %(created_after)s",
    "created_before": "created_at < %(created_before)s",
    # The incidents a person is in: assigned to them, or a role they hold now.
    # (Each side read through its own index: incidents_assignee_id_idx, the role holders'.)
    "involving": "incident_id in (select incident_id from incidents where assignee_id ="
    " %(involving)s union select incident_id from incident_role_assignments"
    " where user_id = %(involving)s and relieved_at is null)",
    "active": "status = any(%(active)s)",
}


async def list_incidents(
    conn: AsyncConn,
    *,
    filters: dict[str, Any],
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; `before` is the (created_at, id) of the last row already seen."""
    if filters.get("affected_service") is not None:
        filters = filters | {"affected_service": Jsonb([filters["affected_service"]])}
    params: dict[str, Any] = {"limit": limit}
    where = page_where(filters, _LIST_FILTERS, before, keyset="(created_at, id)", params=params)
    return await fetch_all(
        conn,
        f"select {_INCIDENT_COLUMNS} from incidents{where} "
        "order by created_at desc, id desc limit %(limit)s",
        params,
    )


async def integration_links(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "select integration_id, system, remote_id, remote_key, remote_url, remote_status,"
        " last_synced_at from integration_links where incident_id = %s order by id",
        (incident_id,),
    )


async def timeline(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "select id, incident_id, kind, actor, from_status, to_status, note, details,"
        " occurred_at from incident_timeline where incident_id = %s order by id",
        (incident_id,),
    )


# Idempotency keys are scoped to the API key that sent them (`api_key_id`; None for the
# service's own), so one client's key never answers with another client's incident.
async def claim_idempotency_key(
    conn: AsyncConn, key: str, request_hash: str, api_key_id: UUID | None = None
) -> bool:
    """True when this request owns `key`; a concurrent holder makes this wait for it."""
    return (
        await fetch_one(
            conn,
            "insert into idempotency_keys (api_key_id, key, request_hash) values (%s, %s, %s)"
            " on conflict (key, api_key_id) do nothing returning key",
            (api_key_id, key, request_hash),
        )
        is not None
    )


async def get_idempotency_key(
    conn: AsyncConn, key: str, api_key_id: UUID | None = None
) -> dict[str, Any] | None:
    return await fetch_one(
        conn,
        "select key, request_hash, incident_id from idempotency_keys"
        " where api_key_id is not distinct from %s and key = %s",
        (api_key_id, key),
    )


async def bind_idempotency_key(
    conn: AsyncConn, key: str, incident_id: str, api_key_id: UUID | None = None
) -> None:
    await conn.execute(
        "update idempotency_keys set incident_id = %s"
        " where api_key_id is not distinct from %s and key = %s",
        (incident_id, api_key_id, key),
    )
