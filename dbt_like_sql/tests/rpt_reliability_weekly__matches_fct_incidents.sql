-- Every incident is counted in exactly one weekly row.
with

weekly as (
    select sum(incidents) as counted from rpt_reliability_weekly
),

incidents as (
    select count(*) as total from fct_incidents
),

final as (
    select weekly.counted, incidents.total
    from weekly, incidents
    where coalesce(weekly.counted, 0) <> incidents.total
)

select * from final
