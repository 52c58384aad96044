-- The service's incidents (raw.incidents, ingested from PostgreSQL), typed.
with

source as (
    select * from raw.incidents
),

renamed as (
    select
        incident_id,
        'service' as source_system,
        title,
        severity,
        status,
        from_json(affected_services, '["VARCHAR"]') as affected_services,
        assigned_team,
        assignee,
        created_by,
        created_at,
        updated_at,
        acknowledged_at,
        resolved_at,
        closed_at,
        coalesce(reopen_count, 0)::integer as reopen_count,
        -- A MERGED incident was folded into `merged_into` (a duplicate) at `merged_at`.
        merged_into,
        merged_at
    from source
),

final as (
    select
        *,
        coalesce(affected_services[1], 'unknown') as service
    from renamed
)

select * from final
