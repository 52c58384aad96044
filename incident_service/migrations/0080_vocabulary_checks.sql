-- The CHECKs on severities and statuses, as incident_service/vocabulary.py generates them
-- (`check_constraints()`), with the values 0001 and 0002 spelled out. A new word goes into
-- the vocabulary and a new migration carries its generated text: tests/test_vocabulary.py
-- compares the newest such migration with the generator and the live database with both.
-- depends: 0077_subscriber_names_per_team

alter table incidents
    drop constraint if exists incidents_severity_check,
    add constraint incidents_severity_check check (severity in ('SEV1_CRITICAL', 'SEV2_HIGH', 'SEV3_MEDIUM', 'SEV4_LOW'));

alter table incidents
    drop constraint if exists incidents_status_check,
    add constraint incidents_status_check check (status in ('OPEN', 'ACKNOWLEDGED', 'INVESTIGATING', 'IDENTIFIED', 'MONITORING', 'RESOLVED', 'CLOSED'));

alter table automated_responses
    drop constraint if exists automated_responses_status_check,
    add constraint automated_responses_status_check check (execution_status in ('pending', 'in_progress', 'succeeded', 'failed', 'skipped'));
