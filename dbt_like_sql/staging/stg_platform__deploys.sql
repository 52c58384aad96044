-- Deploys and changes, from the drop folder and the synthetic history.
with

dropped as (
    select deploy_id, service, deployed_at, coalesce(change_type, 'deploy') as change_type
    from platform.deploys
),

generated as (
    select deploy_id, service, deployed_at, change_type from synthetic.deploys
),

final as (
    select * from dropped
    union all
    select * from generated
)

select * from final
