-- Automated responses: labels for policy conditions, the response row's
-- progress columns, the policy decision per incident, and the durable workflow inbox that
-- the incident's own transaction writes and the worker sweeps.
-- depends: 0001_incidents

alter table incidents
    add column labels jsonb not null default '{}'::jsonb
        check (jsonb_typeof(labels) = 'object');

alter table automated_responses
    add column position        smallint not null default 1,
    add column parameters      jsonb not null default '{}'::jsonb,
    add column policy_id       varchar(100),
    add column stop_on_failure boolean not null default false,
    add column max_attempts    integer not null default 3 check (max_attempts >= 1),
    add column deadline_s      double precision not null default 60 check (deadline_s > 0),
    add column attempts        integer not null default 0,
    add column last_error      text,
    add column started_at      timestamptz,
    add column created_at      timestamptz not null default now(),
    add column updated_at      timestamptz not null default now(),
    add column updated_by      varchar(200) not null default 'system',
    add constraint automated_responses_status_check check (
        execution_status in ('pending', 'in_progress', 'succeeded', 'failed', 'skipped'));
-- executed_at is when the action finished (succeeded, failed or skipped), not when the
-- row was written.
alter table automated_responses alter column executed_at drop default;
alter table automated_responses alter column executed_at drop not null;

-- Which policies matched an incident and why (and why the others did not).
create table response_decisions (
    incident_id    varchar(100) primary key references incidents (incident_id),
    policy_version varchar(100) not null,
    matched        jsonb not null,
    not_matched    jsonb not null,
    decided_at     timestamptz not null default now()
);

-- Work for the worker, written in the same transaction as what caused it, so nothing
-- accepted is lost even when no worker is running. `workflow_id` is the DBOS workflow
-- id, which makes starting it twice harmless.
create table workflow_inbox (
    id            bigserial primary key,
    kind          varchar(40) not null,
    workflow_id   varchar(200) not null unique,
    incident_id   varchar(100) not null,
    args          jsonb not null default '{}'::jsonb,
    created_at    timestamptz not null default now(),
    dispatched_at timestamptz
);
create index workflow_inbox_pending_idx on workflow_inbox (id) where dispatched_at is null;

create function workflow_inbox_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('workflow_inbox', '');
    return null;
end $$;
create trigger workflow_inbox_notify after insert on workflow_inbox
    for each statement execute function workflow_inbox_notify();

-- Workers and their heartbeats: a worker whose heartbeat stops is dead, and another
-- worker recovers the DBOS workflows it had (by executor id).
create table workflow_workers (
    executor_id  varchar(200) primary key,
    hostname     varchar(200) not null,
    pid          integer not null,
    started_at   timestamptz not null default now(),
    heartbeat_at timestamptz not null default now()
);
