-- One row per incident: its times to acknowledge and resolve, time in each status,
-- reopens, escalations, alerts and automated responses with their outcomes, and the
-- flags the reliability marts count (after hours, repeat, SLO met). A MERGED incident
-- (`is_merged`) is a duplicate folded into another: it has no resolution of its own, is
-- not unresolved either, and the reliability marts leave it out (its target counts).
-- A view: each mart reads a few of its columns, and at ten million incidents copying
-- all forty into a table costs more than computing those few where they are read.
-- materialized: view
with

-- Read twice below (the repeat look-up and the row itself): not materialized, so each
-- use reads only the columns it needs instead of a copy of every column of every row.
incidents as not materialized (
    select *, epoch_us(created_at) as created_us from int_incidents
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

-- A repeat: the same service had another incident in the 7 days before (opened in the
-- same instant: the smaller incident_id came first). Found per service and UTC day, not
-- with a window over every incident (a sort of all of them, joined back by id: three
-- times slower): every incident but the first of its service's day follows that one
-- within the day, and the first is a repeat if the service's latest incident in the 7
-- days before is at most 7 days older.
service_days as (
    select
        service,
        created_us // 86400000000 as created_day,
        min({'created_us': created_us, 'incident_id': incident_id}).incident_id
            as first_incident_id,
        max(created_us) as last_created_us
    from incidents
    -- A merged duplicate is not an incident of its own: it makes nothing a repeat.
    where status <> 'MERGED'
    group by service, created_day
),

repeat_lookup as (
    select
        service,
        created_day,
        first_incident_id,
        max(last_created_us) over (
            partition by service order by created_day
            range between 7 preceding and 1 preceding
        ) as previous_created_us
    from service_days
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
        -- Integer arithmetic on epoch microseconds, not interval or calendar functions on
        -- timestamptz: the same values in UTC, several times faster (those go through ICU
        -- row by row), and exact (differences of epoch() doubles are rounded twice).
        -- Epochs since 1970 are positive, so integer division (//) floors.
        epoch(incidents.created_at) as created_s,
        (epoch_us(incidents.acknowledged_at) - incidents.created_us) / 1e6
            as time_to_acknowledge_s,
        (epoch_us(incidents.resolved_at) - incidents.created_us) / 1e6 as time_to_resolve_s,
        incidents.resolved_at is null and incidents.status <> 'MERGED' as is_unresolved,
        incidents.status = 'MERGED' as is_merged,
        -- The Monday 00:00 UTC starting the week (1970-01-01 was a Thursday).
        make_timestamptz(
            (incidents.created_us + 259200000000) // 604800000000 * 604800000000 - 259200000000
        ) as week,
        -- Hours since the epoch in the owning team's local time (offsets are whole hours).
        incidents.created_us // 3600000000 + coalesce(teams.utc_offset_h, 0) as local_hours,
        coalesce(teams.utc_offset_h, 0) as team_utc_offset_h,
        status_durations.open_s,
        status_durations.acknowledged_s,
        status_durations.investigating_s,
        status_durations.identified_s,
        status_durations.monitoring_s,
        status_durations.resolved_s,
        coalesce(
            incidents.incident_id <> repeat_lookup.first_incident_id
                or incidents.created_us - repeat_lookup.previous_created_us <= 604800000000,
            false
        ) as is_repeat,
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
    left join repeat_lookup
        on repeat_lookup.service = incidents.service
        and repeat_lookup.created_day = incidents.created_us // 86400000000
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
        local_hours % 24 not between 9 and 17 or (local_hours // 24 + 3) % 7 >= 5
            as is_after_hours,
        coalesce(time_to_acknowledge_s <= ack_target_s, false) as met_ack_slo,
        coalesce(time_to_resolve_s <= resolve_target_s, false) as met_resolve_slo
    from joined
),

final as (
    select * exclude (local_hours) from flagged
)

select * from final
