-- ServiceNow incidents mapped onto our incident model, one row each: the latest event
-- gives the current state; acknowledgement is the first update that left "New".
with

events as (
    select * from stg_servicenow__incident_events
),

latest as (
    select *
    from events
    qualify row_number() over (
        partition by incident_id order by sys_updated_at desc, sys_mod_count desc, event_row desc
    ) = 1
),

first_progress as (
    select incident_id, min(sys_updated_at) as left_new_at
    from events
    where incident_state <> 'New'
    group by incident_id
),

mapped as (
    select
        latest.incident_id,
        'servicenow' as source_system,
        concat_ws(' / ', latest.category, latest.subcategory, latest.u_symptom) as title,
        case latest.priority
            when '1 - Critical' then 'SEV1_CRITICAL'
            when '2 - High' then 'SEV2_HIGH'
            when '3 - Moderate' then 'SEV3_MEDIUM'
            else 'SEV4_LOW'
        end as severity,
        case
            when latest.incident_state = 'New' then 'OPEN'
            when latest.incident_state = 'Resolved' then 'RESOLVED'
            when latest.incident_state = 'Closed' then 'CLOSED'
            else 'INVESTIGATING'
        end as status,
        coalesce(latest.cmdb_ci, latest.category, 'unknown') as service,
        coalesce(latest.assignment_group, 'unassigned') as assigned_team,
        latest.assigned_to as assignee,
        coalesce(latest.opened_by, 'servicenow') as created_by,
        latest.opened_at as created_at,
        coalesce(latest.sys_updated_at, latest.opened_at) as updated_at,
        first_progress.left_new_at,
        latest.resolved_at,
        latest.closed_at,
        coalesce(latest.reopen_count, 0) as reopen_count,
        coalesce(latest.reassignment_count, 0) as reassignment_count
    from latest
    left join first_progress using (incident_id)
),

final as (
    select
        incident_id,
        source_system,
        title,
        severity,
        status,
        [service] as affected_services,
        assigned_team,
        assignee,
        created_by,
        created_at,
        updated_at,
        -- The export's clocks disagree by minutes at times: keep every milestone at or
        -- after the open time and in lifecycle order.
        case when left_new_at is not null
            then least(greatest(left_new_at, created_at), coalesce(resolved_at, left_new_at))
        end as acknowledged_at,
        case when resolved_at is not null then greatest(resolved_at, created_at) end
            as resolved_at,
        case when closed_at is not null then greatest(closed_at, resolved_at, created_at) end
            as closed_at,
        reopen_count,
        service,
        reassignment_count
    from mapped
    where created_at is not null
)

select * from final
