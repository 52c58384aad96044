-- Every timeline entry of the service's incidents: status changes, notes, alerts,
-- escalations and notifications, automated-response progress, integration syncs.
with

source as (
    select * from raw.incident_timeline
),

final as (
    select
        id as event_id,
        incident_id,
        kind,
        actor,
        from_status,
        to_status,
        note,
        details,
        occurred_at
    from source
)

select * from final
