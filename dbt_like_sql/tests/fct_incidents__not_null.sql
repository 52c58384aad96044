-- The key and the fields every report groups by are always there.
select incident_id, severity, status, created_at, assigned_team, service
from fct_incidents
where incident_id is null
    or severity is null
    or status is null
    or created_at is null
    or assigned_team is null
    or service is null
