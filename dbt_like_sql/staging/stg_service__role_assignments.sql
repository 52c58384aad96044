-- Every holding of an incident role (commander, scribe, communications, a team's own):
-- who took it, when, and when they were relieved (null: still holding it).
with

source as (
    select * from raw.incident_role_assignments
),

final as (
    select
        id as assignment_id,
        incident_id,
        role,
        user_id,
        assumed_at,
        relieved_at
    from source
)

select * from final
