-- The service catalog: the drop folder's services.csv, then the synthetic history's
-- services for names the drop folder does not define.
with

dropped as (
    select service, team, tier, depends_on from platform.services
),

generated as (
    select service, team, tier, depends_on from synthetic.services
),

unioned as (
    select *, 1 as preference from dropped
    union all
    select *, 2 as preference from generated
),

final as (
    select service, team, tier, depends_on
    from unioned
    qualify row_number() over (partition by service order by preference) = 1
)

select * from final
