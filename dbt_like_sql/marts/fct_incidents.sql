-- One row per incident: its times to acknowledge and resolve, time in each status,
-- reopens, escalations, alerts and automated responses with their outcomes, and the
-- flags the reliability marts count (after hours, repeat, SLO met).
with

incidents as (
    select * from int_incidents
),

intervals as (
    select * from int_status_intervals
),

timeline as (
    select * from stg_service__timeline
),

responses as (
    select * from stg_service__automated_responses
),

teams as (
    select * from stg_platform__teams
),

slo_targets as (
    select * from seeds.slo_targets
),

status_durations as (
    select
        incident_id,
        sum(duration_s) filter (where status = 'OPEN') as open_s,
        sum(duration_s) filter (where status = 'ACKNOWLEDGED') as acknowledged_s,
        sum(duration_s) filter (where status = 'INVESTIGATING') as investigating_s,
        sum(duration_s) filter (where status = 'IDENTIFIED') as identified_s,
        sum(duration_s) filter (where status = 'MONITORING') as monitoring_s,
        sum(duration_s) filter (where status = 'RESOLVED') as resolved_s
    from intervals
    group by incident_id
),

timeline_counts as (
    select
        incident_id,
        count(*) filter (where kind = 'escalated') as escalations,
        count(*) filter (where kind = 'alert') as alerts
    from timeline
    group by incident_id
),

response_counts as (
    select
        incident_id,
        count(*) as automated_responses,
        count(*) filter (where execution_status = 'succeeded') as automated_responses_succeeded,
        count(*) filter (where execution_status = 'failed') as automated_responses_failed
    from responses
    group by incident_id
),

joined as (
    select
        incidents.*,
        epoch(incidents.acknowledged_at - incidents.created_at) as time_to_acknowledge_s,
        epoch(incidents.resolved_at - incidents.created_at) as time_to_resolve_s,
        incidents.resolved_at is null as is_unresolved,
        date_trunc('week', incidents.created_at) as week,
        coalesce(teams.utc_offset_h, 0) as team_utc_offset_h,
        status_durations.open_s,
        status_durations.acknowledged_s,
        status_durations.investigating_s,
        status_durations.identified_s,
        status_durations.monitoring_s,
        status_durations.resolved_s,
        coalesce(timeline_counts.escalations, 0)
            + coalesce(incidents.reassignment_count, 0) as escalations,
        coalesce(timeline_counts.alerts, 0) as alerts,
        coalesce(response_counts.automated_responses, 0) as automated_responses,
        coalesce(response_counts.automated_responses_succeeded, 0)
            as automated_responses_succeeded,
        coalesce(response_counts.automated_responses_failed, 0) as automated_responses_failed,
        slo_targets.ack_target_s,
        slo_targets.resolve_target_s
    from incidents
    left join status_durations using (incident_id)
    left join timeline_counts using (incident_id)
    left join response_counts using (incident_id)
    left join teams on teams.team = incidents.assigned_team
    left join slo_targets on slo_targets.severity = incidents.severity
),

flagged as (
    select
        *,
        -- Local time of the owning team: before 09:00, from 18:00, or a weekend.
        hour(created_at + to_hours(team_utc_offset_h)) not between 9 and 17
            or isodow(created_at + to_hours(team_utc_offset_h)) >= 6 as is_after_hours,
        -- A repeat: the same service had another incident in the 7 days before.
        coalesce(
            created_at - lag(created_at) over (partition by service order by created_at)
                <= interval 7 day,
            false
        ) as is_repeat,
        coalesce(time_to_acknowledge_s <= ack_target_s, false) as met_ack_slo,
        coalesce(time_to_resolve_s <= resolve_target_s, false) as met_resolve_slo
    from joined
),

final as (
    select * from flagged
)

select * from final
