-- No stay in a status ends before it began.
select incident_id, status, entered_at, left_at
from int_status_intervals
where duration_s < 0
