-- The roles a person holds now ("mine" in the console): by holder, current holdings only.
-- depends: 0097_console_sessions

create index incident_role_assignments_holder_idx on incident_role_assignments (user_id)
    where relieved_at is null;
