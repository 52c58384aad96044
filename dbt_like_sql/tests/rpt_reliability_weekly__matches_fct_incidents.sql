-- Every incident but a merged duplicate is counted in exactly one team/service row and in
-- one weekly total.
with

weekly as (
    select
        sum(incidents) filter (where not is_total) as counted,
        sum(incidents) filter (where is_total) as counted_in_totals
    from rpt_reliability_weekly
),

incidents as (
    select count(*) as total from fct_incidents where not is_merged
),

final as (
    select weekly.counted, weekly.counted_in_totals, incidents.total
    from weekly, incidents
    where coalesce(weekly.counted, 0) <> incidents.total
        or coalesce(weekly.counted_in_totals, 0) <> incidents.total
)

select * from final
