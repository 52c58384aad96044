"""SQL for what the model's predictions write: a severity suggestion on the timeline and
in the event feed. No rules here."""

from __future__ import annotations

from typing import Any

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, compact_sql, fetch_one
from incident_service.vocabulary import IncidentSeverity

_SUGGESTED = "predictions->>'suggested_severity'"
_MODEL = {
    "severity_probabilities": "predictions->'severity_probabilities'",
    "model_version": "predictions->'model_version'",
}
_SUGGESTED_ENTRY = timeline_entry(
    "severity_suggested",
    source="inc",
    actor="""left('model:' || (predictions->>'model') || '@v'
                   || (predictions->>'model_version'), 200)""",
    note="""'The model suggests ' || (predictions->>'suggested_severity') || ' (declared '
               || severity || '; P(SEV1) ' || round((predictions->>'sev1_probability')::numeric, 2)
               || ', P(SEV1 or SEV2) '
               || round((predictions->>'high_severity_probability')::numeric, 2) || ')'""",
    details=json_object(
        current="severity", suggested=_SUGGESTED, response_id="%(response_id)s::text", **_MODEL
    ),
)
_SUGGESTED_EVENT = outbox_event(
    "severity_suggested",
    source="inc",
    payload=json_object(
        "incident_id", current_severity="severity", suggested_severity=_SUGGESTED, **_MODEL
    ),
)

# One statement: the suggestion (only when the model's is more severe than the current
# severity), its timeline entry and its event; nothing when this response already wrote it.
_SUGGEST = compact_sql(f"""
with inc as (
    select incident_id, severity, predictions
    from incidents
    where incident_id = %(incident_id)s and predictions is not null
      and array_position(%(order)s::text[], predictions->>'suggested_severity')
          < array_position(%(order)s::text[], severity::text)
      and not exists (
          select 1 from incident_timeline
          where incident_id = %(incident_id)s and kind = 'severity_suggested'
            and details->>'response_id' = %(response_id)s)
), timeline as ({_SUGGESTED_ENTRY}
), event as ({_SUGGESTED_EVENT}
)
select severity, predictions->>'suggested_severity' as suggested from inc
""")


async def suggest_severity(
    conn: AsyncConn, incident_id: str, response_id: str
) -> dict[str, Any] | None:
    """The incident's declared and suggested severity when the suggestion was recorded
    now; None when there is no prediction, it is not more severe, or `response_id`
    already recorded it."""
    return await fetch_one(
        conn,
        _SUGGEST,
        {
            "incident_id": incident_id,
            "response_id": response_id,
            "order": [s.value for s in IncidentSeverity],
        },
    )
