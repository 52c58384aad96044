-- After-hours pages are a subset of pages; the key is unique.
select team, engineer, week, count(*) as rows_for_key
from rpt_oncall_load_weekly
group by team, engineer, week
having count(*) > 1 or sum(after_hours_pages) > sum(pages)
