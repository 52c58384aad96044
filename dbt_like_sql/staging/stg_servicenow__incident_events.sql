-- The ServiceNow event log as exported (servicenow.incident_events), typed: '?' is
-- missing, timestamps are d/m/YYYY HH:MM in UTC.
with

source as (
    select * from servicenow.incident_events
),

typed as (
    select
        number as incident_id,
        _row as event_row,
        incident_state,
        active = 'true' as is_active,
        try_cast(reassignment_count as integer) as reassignment_count,
        try_cast(reopen_count as integer) as reopen_count,
        try_cast(sys_mod_count as integer) as sys_mod_count,
        nullif(opened_by, '?') as opened_by,
        try_strptime(nullif(opened_at, '?'), '%d/%m/%Y %H:%M')::timestamptz as opened_at,
        try_strptime(nullif(sys_updated_at, '?'), '%d/%m/%Y %H:%M')::timestamptz
            as sys_updated_at,
        nullif(sys_updated_by, '?') as sys_updated_by,
        nullif(contact_type, '?') as contact_type,
        nullif(category, '?') as category,
        nullif(subcategory, '?') as subcategory,
        nullif(u_symptom, '?') as u_symptom,
        nullif(cmdb_ci, '?') as cmdb_ci,
        nullif(priority, '?') as priority,
        nullif(assignment_group, '?') as assignment_group,
        nullif(assigned_to, '?') as assigned_to,
        try_strptime(nullif(resolved_at, '?'), '%d/%m/%Y %H:%M')::timestamptz as resolved_at,
        try_strptime(nullif(closed_at, '?'), '%d/%m/%Y %H:%M')::timestamptz as closed_at
    from source
),

final as (
    select * from typed
)

select * from final
