-- One row per team, service and week.
select team, service, week, count(*) as rows_for_key
from rpt_reliability_weekly
group by team, service, week
having count(*) > 1
