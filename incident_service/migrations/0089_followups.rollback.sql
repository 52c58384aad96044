-- Follow-ups made since are lost; the review's action items are still in postmortem_reviews.
drop table if exists postmortem_versions;
alter table postmortems
    drop column if exists state,
    drop column if exists version,
    drop column if exists state_changed_by,
    drop column if exists state_changed_at,
    drop column if exists published_by,
    drop column if exists published_at;
drop table if exists follow_ups;
