-- Automated responses run for the service's incidents and how they ended.
with

source as (
    select * from raw.automated_responses
),

final as (
    select
        response_id,
        incident_id,
        action_type,
        lower(execution_status) as execution_status,
        coalesce(started_at, created_at) as started_at,
        executed_at as finished_at,
        last_error
    from source
)

select * from final
