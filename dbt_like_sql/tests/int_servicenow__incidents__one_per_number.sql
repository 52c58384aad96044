-- Each ServiceNow number maps onto exactly one incident.
select incident_id, count(*) as rows_for_key
from int_servicenow__incidents
group by incident_id
having count(*) > 1
