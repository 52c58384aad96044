drop table if exists workflow_workers;
drop trigger if exists workflow_inbox_notify on workflow_inbox;
drop function if exists workflow_inbox_notify();
drop table if exists workflow_inbox;
drop table if exists response_decisions;
alter table automated_responses drop constraint if exists automated_responses_status_check;
alter table automated_responses
    drop column if exists position, drop column if exists parameters,
    drop column if exists policy_id, drop column if exists stop_on_failure,
    drop column if exists max_attempts, drop column if exists deadline_s,
    drop column if exists attempts, drop column if exists last_error,
    drop column if exists started_at, drop column if exists created_at,
    drop column if exists updated_at, drop column if exists updated_by;
alter table incidents drop column if exists labels;
