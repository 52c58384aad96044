-- One row per team and week; every merge has a target, and a target takes one or more.
select team, week, count(*) as rows_for_key
from rpt_merges_weekly
group by team, week
having count(*) > 1 or sum(merge_targets) > sum(merges) or min(merge_targets) < 1
