-- A follow-up past its due date while still to do is said once: the worker's sweep raises a
-- `follow_up_overdue` timeline entry and event and records here the due instant it raised
-- them for, in the same statement. A due date moved later arms it again; the same one never
-- twice, whatever the sweep's retries or the number of workers.
-- Follow-ups already overdue when this is applied are raised by the first sweep.
-- depends: 0089_followups

alter table follow_ups add column overdue_raised_for timestamptz;
-- What the sweep looks for: small (raised ones drop out), read in due order.
create index follow_ups_overdue_due_idx on follow_ups (due_at, id)
    where state in ('open', 'in_progress') and overdue_raised_for is distinct from due_at;
