-- The CHECKs as 0001 and 0002 wrote them (the same values).
alter table incidents
    drop constraint if exists incidents_severity_check,
    add constraint incidents_severity_check
        check (severity in ('SEV1_CRITICAL', 'SEV2_HIGH', 'SEV3_MEDIUM', 'SEV4_LOW'));

alter table incidents
    drop constraint if exists incidents_status_check,
    add constraint incidents_status_check
        check (status in ('OPEN', 'ACKNOWLEDGED', 'INVESTIGATING', 'IDENTIFIED',
                          'MONITORING', 'RESOLVED', 'CLOSED'));

alter table automated_responses
    drop constraint if exists automated_responses_status_check,
    add constraint automated_responses_status_check check (
        execution_status in ('pending', 'in_progress', 'succeeded', 'failed', 'skipped'));
