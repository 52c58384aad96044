-- Acknowledged and resolved at or after the open; closed at or after the resolution.
select incident_id, created_at, acknowledged_at, resolved_at, closed_at
from fct_incidents
where acknowledged_at < created_at
    or resolved_at < created_at
    or closed_at < resolved_at
    or time_to_acknowledge_s < 0
    or time_to_resolve_s < 0
