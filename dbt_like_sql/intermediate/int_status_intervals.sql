-- How long each incident spent in each status: one row per stay, from the service's
-- timeline and from the ServiceNow event log (its states mapped onto ours).
with

timeline as (
    select * from stg_service__timeline
),

servicenow_events as (
    select * from stg_servicenow__incident_events
),

service_moves as (
    select incident_id, to_status as status, occurred_at as entered_at, event_id as seq
    from timeline
    where to_status is not null
),

servicenow_moves as (
    select
        incident_id,
        case
            when incident_state = 'New' then 'OPEN'
            when incident_state = 'Resolved' then 'RESOLVED'
            when incident_state = 'Closed' then 'CLOSED'
            else 'INVESTIGATING'
        end as status,
        sys_updated_at as entered_at,
        event_row as seq
    from servicenow_events
    where sys_updated_at is not null
),

moves as (
    select * from service_moves
    union all
    select * from servicenow_moves
),

stays as (
    select
        incident_id,
        status,
        entered_at,
        lead(entered_at) over (partition by incident_id order by entered_at, seq) as left_at
    from moves
),

final as (
    select
        incident_id,
        status,
        entered_at,
        left_at,
        epoch(left_at) - epoch(entered_at) as duration_s
    from stays
)

select * from final
