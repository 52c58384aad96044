-- Merging incidents: a source moves to the terminal status MERGED and points at the
-- incident it was folded into (`merged_into`, with who and when), so its old links keep
-- answering and later alerts with its dedup keys find the target. The vocabulary's CHECKs
-- are regenerated for MERGED (incident_service/vocabulary.py `check_constraints()`).
-- depends: 0086_people

alter table incidents
    add column merged_into varchar(100) references incidents (incident_id),
    add column merged_at timestamptz,
    add column merged_by varchar(200),
    add constraint incidents_not_merged_into_itself check (merged_into <> incident_id),
    add constraint incidents_merged_has_target check ((status = 'MERGED') = (merged_into is not null));

-- "What was merged into this incident": the target's sources, and the warehouse's merges.
create index incidents_merged_into on incidents (merged_into) where merged_into is not null;

alter table incidents
    drop constraint if exists incidents_severity_check,
    add constraint incidents_severity_check check (severity in ('SEV1_CRITICAL', 'SEV2_HIGH', 'SEV3_MEDIUM', 'SEV4_LOW'));

alter table incidents
    drop constraint if exists incidents_status_check,
    add constraint incidents_status_check check (status in ('OPEN', 'ACKNOWLEDGED', 'INVESTIGATING', 'IDENTIFIED', 'MONITORING', 'RESOLVED', 'CLOSED', 'MERGED'));

alter table automated_responses
    drop constraint if exists automated_responses_status_check,
    add constraint automated_responses_status_check check (execution_status in ('pending', 'in_progress', 'succeeded', 'failed', 'skipped'));
