-- Each incident once.
select incident_id, count(*) as rows_for_key
from fct_incidents
group by incident_id
having count(*) > 1
