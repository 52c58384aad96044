"""`suggest_severity`: an action the response policies can choose when the model thinks an
incident is more severe than declared (e.g. `predicted.sev1_probability >= 0.6`).

It never changes the severity itself (people decide that): it records the suggestion on the
timeline (`severity_suggested`, actor `model:<name>@v<version>`) and in the event feed, once
per response however often the step re-runs (guarded by the response id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from incident_service.db import AsyncConn
from incident_service.executor import ActionContext

_SEVERITIES = ("SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW")

# One statement: the suggestion (only when the model's is more severe than the current
# severity), its timeline entry and its event; nothing when this response already wrote it.
_SUGGEST = """
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
), timeline as (
    insert into incident_timeline (incident_id, kind, actor, note, details)
    select incident_id, 'severity_suggested',
           left('model:' || (predictions->>'model') || '@v' || (predictions->>'model_version'),
                200),
           'The model suggests ' || (predictions->>'suggested_severity') || ' (declared '
               || severity || '; P(SEV1) ' || round((predictions->>'sev1_probability')::numeric, 2)
               || ', P(SEV1 or SEV2) '
               || round((predictions->>'high_severity_probability')::numeric, 2) || ')',
           jsonb_build_object(
               'response_id', %(response_id)s::text, 'current', severity,
               'suggested', predictions->>'suggested_severity',
               'severity_probabilities', predictions->'severity_probabilities',
               'model_version', predictions->'model_version')
    from inc
), event as (
    insert into outbox (event_type, incident_id, payload)
    select 'severity_suggested', incident_id,
           jsonb_build_object(
               'incident_id', incident_id, 'current_severity', severity,
               'suggested_severity', predictions->>'suggested_severity',
               'severity_probabilities', predictions->'severity_probabilities',
               'model_version', predictions->'model_version')
    from inc
)
select severity, predictions->>'suggested_severity' as suggested from inc
"""


@dataclass
class SuggestSeverity:
    pool: AsyncConnectionPool[AsyncConn]
    action_type: str = "suggest_severity"

    async def execute(self, ctx: ActionContext) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                _SUGGEST,
                {
                    "incident_id": ctx.incident_id,
                    "response_id": ctx.response_id,
                    "order": list(_SEVERITIES),
                },
            )
            row = await cur.fetchone()
        if row is None:  # no prediction, not more severe, or already suggested
            return {"suggested": None}
        return {"suggested": row["suggested"], "current": row["severity"]}
