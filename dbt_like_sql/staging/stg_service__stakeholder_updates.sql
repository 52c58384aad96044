-- Every stakeholder update posted on an incident: its public status (investigating,
-- identified, monitoring, resolved), the incident's severity and status when posted, who
-- posted it and when. The message itself stays in the service.
with

source as (
    select * from raw.incident_updates
),

final as (
    select
        id as update_id,
        incident_id,
        status as public_status,
        severity,
        incident_status,
        posted_by,
        posted_by_user_id,
        posted_at
    from source
)

select * from final
