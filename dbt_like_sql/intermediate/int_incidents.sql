-- Every incident the analytics know, in one shape: the service's own, the imported
-- ServiceNow history and the synthetic history. `updated_at` is when the incident last
-- changed in its source (ServiceNow: its latest event); incremental marts rebuild the
-- weeks of the incidents changed since their last build. Only the service merges
-- duplicates (`merged_into`, status MERGED).
with

service_incidents as (
    select * from stg_service__incidents
),

servicenow_incidents as (
    select * from int_servicenow__incidents
),

synthetic_incidents as (
    select * from stg_synthetic__incidents
),

unioned as (
    select
        incident_id, source_system, title, severity, status, service, affected_services,
        assigned_team, assignee, created_by, created_at, acknowledged_at, resolved_at,
        closed_at, updated_at, reopen_count, null::varchar as caused_by_deploy_id,
        null::integer as reassignment_count, merged_into
    from service_incidents
    union all
    select
        incident_id, source_system, title, severity, status, service, affected_services,
        assigned_team, assignee, created_by, created_at, acknowledged_at, resolved_at,
        closed_at, updated_at, reopen_count, null::varchar as caused_by_deploy_id,
        reassignment_count, null::varchar as merged_into
    from servicenow_incidents
    union all
    select
        incident_id, source_system, title, severity, status, service, affected_services,
        assigned_team, assignee, created_by, created_at, acknowledged_at, resolved_at,
        closed_at, updated_at, reopen_count, caused_by_deploy_id, null::integer as reassignment_count,
        null::varchar as merged_into
    from synthetic_incidents
),

final as (
    select * from unioned
)

select * from final
