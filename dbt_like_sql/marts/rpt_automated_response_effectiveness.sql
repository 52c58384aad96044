-- Automated responses per action type and service: how often they succeed, how long they
-- take, and time to resolve of the service's incidents with and without the action.
with

responses as (
    select * from stg_service__automated_responses
),

incidents as (
    select * from fct_incidents
),

runs as (
    select
        responses.action_type,
        incidents.service,
        responses.incident_id,
        responses.execution_status,
        epoch(responses.finished_at) - epoch(responses.started_at) as run_s
    from responses
    inner join incidents using (incident_id)
),

per_action as (
    select
        action_type,
        service,
        -- runs: automated responses of this type on the service's incidents.
        count(*) as runs,
        -- success_rate: succeeded runs over finished runs (succeeded or failed).
        count(*) filter (where execution_status = 'succeeded')
            / nullif(count(*) filter (where execution_status in ('succeeded', 'failed')), 0)
            as success_rate,
        -- mean_run_s: mean seconds from start to finish of finished runs.
        avg(run_s) as mean_run_s
    from runs
    group by action_type, service
),

with_action as (
    select distinct action_type, service, incident_id from runs
),

resolve_times as (
    select
        per_action.action_type,
        per_action.service,
        -- mttr_with_s: mean time to resolve of the service's incidents that had this action.
        avg(incidents.time_to_resolve_s) filter (where with_action.incident_id is not null)
            as mttr_with_s,
        -- mttr_without_s: mean time to resolve of the service's incidents that did not.
        avg(incidents.time_to_resolve_s) filter (where with_action.incident_id is null)
            as mttr_without_s
    from per_action
    inner join incidents on incidents.service = per_action.service
    left join with_action
        on with_action.action_type = per_action.action_type
        and with_action.incident_id = incidents.incident_id
    group by per_action.action_type, per_action.service
),

final as (
    select
        per_action.*,
        resolve_times.mttr_with_s,
        resolve_times.mttr_without_s
    from per_action
    inner join resolve_times using (action_type, service)
)

select * from final
