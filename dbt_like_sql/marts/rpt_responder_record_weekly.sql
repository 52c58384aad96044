-- The responder's record by team and week (weeks start Monday 00:00 UTC, by when the
-- incident opened): who took the roles and how soon there was a commander, how soon
-- stakeholders heard, how often a reminder was needed, and whether the follow-ups got done. Overdue is counted as of the refresh. An incident merged
-- into another is not counted: its updates and follow-ups moved with it or stay its own,
-- and its target counts once.
-- materialized: table
with

incidents as (
    select incident_id, assigned_team, week, created_at from fct_incidents
    where not is_merged
),

updates as (
    select * from stg_service__stakeholder_updates
),

reminders as (
    select * from stg_service__update_reminders
),

follow_ups as (
    select * from stg_service__follow_ups
),

roles as (
    select * from stg_service__role_assignments
),

role_counts as (
    select
        incident_id,
        count(*) as holdings,
        min(assumed_at) filter (where role = 'commander') as first_commander_at
    from roles
    group by incident_id
),

first_updates as (
    select incident_id, min(posted_at) as first_update_at, count(*) as updates
    from updates
    group by incident_id
),

reminder_counts as (
    select incident_id, count(*) as reminders
    from reminders
    group by incident_id
),

follow_up_counts as (
    select
        incident_id,
        count(*) as follow_ups,
        count_if(state = 'done')::bigint as done,
        count_if(state = 'wont_do')::bigint as wont_do,
        count_if(state in ('open', 'in_progress'))::bigint as still_open,
        count_if(state in ('open', 'in_progress') and due_at < now())::bigint as overdue,
        count_if(owner_id is null and state in ('open', 'in_progress'))::bigint as unowned
    from follow_ups
    group by incident_id
),

per_incident as (
    select
        i.assigned_team,
        i.week,
        i.incident_id,
        u.updates,
        epoch(u.first_update_at) - epoch(i.created_at) as first_update_s,
        coalesce(r.reminders, 0) as reminders,
        coalesce(f.follow_ups, 0) as follow_ups,
        coalesce(f.done, 0) as done,
        coalesce(f.wont_do, 0) as wont_do,
        coalesce(f.still_open, 0) as still_open,
        coalesce(f.overdue, 0) as overdue,
        coalesce(f.unowned, 0) as unowned,
        coalesce(h.holdings, 0) as role_holdings,
        epoch(h.first_commander_at) - epoch(i.created_at) as commander_s
    from incidents as i
    left join first_updates as u on u.incident_id = i.incident_id
    left join reminder_counts as r on r.incident_id = i.incident_id
    left join follow_up_counts as f on f.incident_id = i.incident_id
    left join role_counts as h on h.incident_id = i.incident_id
),

metrics as (
    select
        assigned_team as team,
        week,
        -- incidents: incidents opened in the week.
        count(*) as incidents,
        -- role_holdings: roles taken on the week's incidents (a hand-over counts twice).
        sum(role_holdings)::bigint as role_holdings,
        -- incidents_with_commander: incidents that had a commander at some point.
        count_if(commander_s is not null)::bigint as incidents_with_commander,
        -- commander_p50_s: median seconds from opening until someone took the commander role (interpolated).
        quantile_cont(commander_s, 0.5) as commander_p50_s,
        -- incidents_with_update: of those, incidents with at least one stakeholder update.
        count_if(updates is not null)::bigint as incidents_with_update,
        -- first_update_p50_s: median seconds from opening to the first stakeholder update (interpolated).
        quantile_cont(first_update_s, [0.5, 0.9])[1] as first_update_p50_s,
        -- first_update_p90_s: 90th percentile of seconds from opening to the first stakeholder update.
        quantile_cont(first_update_s, [0.5, 0.9])[2] as first_update_p90_s,
        -- update_reminders: reminders raised because an update was overdue.
        sum(reminders)::bigint as update_reminders,
        -- follow_ups: follow-ups of the week's incidents.
        sum(follow_ups)::bigint as follow_ups,
        -- follow_ups_done: of those, done.
        sum(done)::bigint as follow_ups_done,
        -- follow_ups_wont_do: of those, closed as won't do.
        sum(wont_do)::bigint as follow_ups_wont_do,
        -- follow_ups_open: of those, open or in progress.
        sum(still_open)::bigint as follow_ups_open,
        -- follow_ups_overdue: of the open ones, past their due time at the refresh.
        sum(overdue)::bigint as follow_ups_overdue,
        -- follow_ups_unowned: of the open ones, without an owner.
        sum(unowned)::bigint as follow_ups_unowned,
        -- follow_up_completion: done over those not closed as won't do (null without any).
        sum(done) / nullif(sum(follow_ups) - sum(wont_do), 0) as follow_up_completion
    from per_incident
    group by assigned_team, week
),

final as (
    select * from metrics
)

select * from final
