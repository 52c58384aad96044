-- Every reminder raised because an incident's stakeholder update was overdue.
with

source as (
    select * from raw.update_reminders
),

final as (
    select
        id as reminder_id,
        incident_id,
        due_at,
        raised_at,
        recipient_type
    from source
)

select * from final
