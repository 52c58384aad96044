-- The generated history (pipelines/synthetic.py), already in our incident model.
with

source as (
    select * from synthetic.incidents
),

final as (
    select
        incident_id,
        'synthetic' as source_system,
        title,
        severity,
        status,
        affected_services,
        assigned_team,
        assignee,
        created_by,
        created_at,
        updated_at,
        acknowledged_at,
        resolved_at,
        closed_at,
        reopen_count::integer as reopen_count,
        service,
        caused_by_deploy_id
    from source
)

select * from final
