-- Reliability by team, service and week (weeks start Monday 00:00 UTC), plus one total
-- row per week (team and service '(all)', is_total) so trends use the same definitions.
-- Merged incidents (duplicates folded into another) are left out: their target is the
-- incident, counted once and timed once.
-- Incremental: a refresh rebuilds only the weeks whose incidents changed since the last
-- one (and the week after: a repeat looks back 7 days); see pipelines/sql_transforms.py.
-- materialized: incremental
-- lookback_days: 7
-- Counts are count_if(...)::bigint rather than count(*) filter (where ...): the same
-- numbers in a third less time (count_if alone returns a hugeint).
-- Each measure's p50 and p90 are elements of one quantile_cont(x, [0.5, 0.9]): DuckDB
-- plans the two identical aggregates as one, so each value is kept once per group, not
-- once per quantile (exact and interpolated as quantile_cont(x, 0.5) and (x, 0.9)).
with

incidents as (
    select * from fct_incidents where not is_merged
),

metrics as (
    select
        case when grouping(assigned_team) = 1 then '(all)' else assigned_team end as team,
        case when grouping(service) = 1 then '(all)' else service end as service,
        week,
        grouping(service) = 1 as is_total,
        -- incidents: incidents opened in the week.
        count(*) as incidents,
        -- sev1_incidents: incidents opened in the week at SEV1_CRITICAL.
        count_if(severity = 'SEV1_CRITICAL')::bigint as sev1_incidents,
        -- sev2_incidents: incidents opened in the week at SEV2_HIGH.
        count_if(severity = 'SEV2_HIGH')::bigint as sev2_incidents,
        -- sev3_incidents: incidents opened in the week at SEV3_MEDIUM.
        count_if(severity = 'SEV3_MEDIUM')::bigint as sev3_incidents,
        -- sev4_incidents: incidents opened in the week at SEV4_LOW.
        count_if(severity = 'SEV4_LOW')::bigint as sev4_incidents,
        -- mtta_mean_s: mean seconds from open to first acknowledgement, over acknowledged incidents.
        avg(time_to_acknowledge_s) as mtta_mean_s,
        -- mtta_p50_s: median seconds from open to first acknowledgement (interpolated).
        quantile_cont(time_to_acknowledge_s, [0.5, 0.9])[1] as mtta_p50_s,
        -- mtta_p90_s: 90th percentile of seconds from open to first acknowledgement.
        quantile_cont(time_to_acknowledge_s, [0.5, 0.9])[2] as mtta_p90_s,
        -- mttr_mean_s: mean seconds from open to resolution, over resolved incidents.
        avg(time_to_resolve_s) as mttr_mean_s,
        -- mttr_p50_s: median seconds from open to resolution (interpolated).
        quantile_cont(time_to_resolve_s, [0.5, 0.9])[1] as mttr_p50_s,
        -- mttr_p90_s: 90th percentile of seconds from open to resolution.
        quantile_cont(time_to_resolve_s, [0.5, 0.9])[2] as mttr_p90_s,
        -- ack_slo_attainment: share of incidents acknowledged within their severity's target (seeds/slo_targets.csv); unacknowledged counts as missed.
        avg(met_ack_slo::integer) as ack_slo_attainment,
        -- resolve_slo_attainment: share of incidents resolved within their severity's target; unresolved counts as missed.
        avg(met_resolve_slo::integer) as resolve_slo_attainment,
        -- repeat_incidents: incidents whose service had another incident in the 7 days before.
        count_if(is_repeat)::bigint as repeat_incidents,
        -- after_hours_pages: incidents opened outside 09:00-18:00 local team time or at a weekend.
        count_if(is_after_hours)::bigint as after_hours_pages,
        -- oncall_engineers: distinct assignees of the week's incidents.
        count(distinct assignee) as oncall_engineers,
        -- after_hours_pages_per_engineer: after_hours_pages divided by oncall_engineers.
        count_if(is_after_hours) / nullif(count(distinct assignee), 0)
            as after_hours_pages_per_engineer
    from incidents
    group by grouping sets ((assigned_team, service, week), (week))
),

final as (
    select * from metrics
)

select * from final
