-- Teams and the UTC offset their on-call engineers live in (after-hours is local).
with

dropped as (
    select team, utc_offset_h from platform.teams
),

generated as (
    select team, utc_offset_h from synthetic.teams
),

unioned as (
    select *, 1 as preference from dropped
    union all
    select *, 2 as preference from generated
),

final as (
    select team, coalesce(utc_offset_h, 0) as utc_offset_h
    from unioned
    qualify row_number() over (partition by team order by preference) = 1
)

select * from final
