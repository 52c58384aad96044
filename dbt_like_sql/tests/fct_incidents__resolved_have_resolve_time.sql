-- A resolved or closed incident has a resolve time; an active one has none.
select incident_id, status, resolved_at
from fct_incidents
where (status in ('RESOLVED', 'CLOSED') and resolved_at is null and source_system <> 'servicenow')
    or (status in ('OPEN', 'ACKNOWLEDGED') and resolved_at is not null)
