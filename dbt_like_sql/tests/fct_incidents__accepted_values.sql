-- Severity, status and source take only the values of our incident model.
select incident_id, severity, status, source_system
from fct_incidents
where severity not in ('SEV1_CRITICAL', 'SEV2_HIGH', 'SEV3_MEDIUM', 'SEV4_LOW')
    or status not in (
        'OPEN', 'ACKNOWLEDGED', 'INVESTIGATING', 'IDENTIFIED', 'MONITORING', 'RESOLVED', 'CLOSED',
        'MERGED'
    )
    or source_system not in ('service', 'servicenow', 'synthetic')
