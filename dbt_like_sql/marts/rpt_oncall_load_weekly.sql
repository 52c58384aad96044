-- Pages per on-call engineer and week, and how many came after hours.
with

incidents as (
    select * from fct_incidents
),

metrics as (
    select
        assigned_team as team,
        coalesce(assignee, 'unassigned') as engineer,
        week,
        -- pages: incidents assigned to the engineer, by the week they opened.
        count(*) as pages,
        -- after_hours_pages: of those, opened outside 09:00-18:00 local team time or at a weekend.
        count(*) filter (where is_after_hours) as after_hours_pages,
        -- sev1_pages: of those, at SEV1_CRITICAL.
        count(*) filter (where severity = 'SEV1_CRITICAL') as sev1_pages
    from incidents
    group by assigned_team, coalesce(assignee, 'unassigned'), week
),

final as (
    select * from metrics
)

select * from final
