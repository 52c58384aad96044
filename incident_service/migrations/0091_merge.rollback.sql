-- Merged incidents cannot be represented without MERGED: they go back to RESOLVED.
update incidents set status = 'RESOLVED', resolved_at = coalesce(resolved_at, merged_at)
where status = 'MERGED';

alter table incidents
    drop constraint if exists incidents_merged_has_target,
    drop constraint if exists incidents_not_merged_into_itself;
drop index if exists incidents_merged_into;
alter table incidents
    drop column if exists merged_by,
    drop column if exists merged_at,
    drop column if exists merged_into;

alter table incidents
    drop constraint if exists incidents_status_check,
    add constraint incidents_status_check check (status in ('OPEN', 'ACKNOWLEDGED', 'INVESTIGATING', 'IDENTIFIED', 'MONITORING', 'RESOLVED', 'CLOSED'));
