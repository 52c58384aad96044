-- Merges by team and week (weeks start Monday 00:00 UTC, the week of the merge): how many
-- duplicates each team folded into how many incidents. Only the service merges. The
-- merged incidents themselves are left out of the reliability mart (their target counts).
with

incidents as (
    select * from stg_service__incidents
),

merged as (
    select
        assigned_team,
        merged_into,
        make_timestamptz(
            (epoch_us(merged_at) + 259200000000) // 604800000000 * 604800000000 - 259200000000
        ) as week
    from incidents
    where status = 'MERGED' and merged_at is not null
),

metrics as (
    select
        assigned_team as team,
        week,
        -- merges: incidents merged into another in the week (duplicates folded away).
        count(*) as merges,
        -- merge_targets: distinct incidents the week's merged incidents were folded into.
        count(distinct merged_into) as merge_targets
    from merged
    group by assigned_team, week
),

final as (
    select * from metrics
)

select * from final
