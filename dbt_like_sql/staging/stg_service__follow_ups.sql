-- Every follow-up of an incident: owner, priority, state (open, in_progress, done,
-- wont_do), when it is due and when it was completed, and its Jira issue once exported.
with

source as (
    select * from raw.follow_ups
),

final as (
    select
        id as follow_up_id,
        incident_id,
        owner_id,
        priority,
        state,
        source as created_from,
        due_at,
        completed_at,
        external_key as jira_key,
        created_at,
        updated_at
    from source
)

select * from final
