drop index if exists follow_ups_overdue_due_idx;
alter table follow_ups drop column if exists overdue_raised_for;
