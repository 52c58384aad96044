-- The incident record, its timeline, automated responses, the transactional outbox and
-- idempotency keys. Column names and maximum lengths follow ../shared/SPEC.md.
-- depends:

create table incidents (
    id                uuid primary key default gen_random_uuid(),
    incident_id       varchar(100) not null unique,
    title             varchar(500) not null,
    description       text not null default '',
    severity          varchar(20) not null
        check (severity in ('SEV1_CRITICAL', 'SEV2_HIGH', 'SEV3_MEDIUM', 'SEV4_LOW')),
    status            varchar(20) not null
        check (status in ('OPEN', 'ACKNOWLEDGED', 'INVESTIGATING', 'IDENTIFIED',
                          'MONITORING', 'RESOLVED', 'CLOSED')),
    affected_services jsonb not null default '[]'::jsonb
        check (jsonb_typeof(affected_services) = 'array'),
    assigned_team     varchar(100) not null,
    assignee          varchar(200),
    created_by        varchar(200) not null,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    acknowledged_at   timestamptz,
    resolved_at       timestamptz,
    closed_at         timestamptz,
    reopen_count      integer not null default 0
);

-- The list is newest first with keyset paging on (created_at, id); each filter gets an
-- index that serves both the filter and that order.
create index incidents_created_idx on incidents (created_at desc, id desc);
create index incidents_status_idx on incidents (status, created_at desc, id desc);
create index incidents_severity_idx on incidents (severity, created_at desc, id desc);
create index incidents_team_idx on incidents (assigned_team, created_at desc, id desc);
create index incidents_services_idx on incidents using gin (affected_services jsonb_path_ops);

-- The number in INC-YYYYMMDD-NNN comes from one sequence per UTC day, created on the
-- day's first incident. nextval takes no row lock, so concurrent creates never queue
-- behind each other's commits (a shared counter row serialised them: ~600/s at most).
-- Unique under any concurrency; a create that rolls back leaves a gap, as sequences do.
create function next_incident_number(day date) returns bigint
language plpgsql as $$
declare
    seq text := 'incident_seq_' || to_char(day, 'YYYYMMDD');
begin
    if to_regclass(seq) is null then
        begin
            execute format('create sequence if not exists %I minvalue 1', seq);
        exception when unique_violation or duplicate_table then
            null;  -- created by a concurrent transaction in the meantime
        end;
    end if;
    return nextval(seq);
end
$$;

create table incident_timeline (
    id          bigserial primary key,
    incident_id varchar(100) not null references incidents (incident_id),
    kind        varchar(40) not null,
    actor       varchar(200) not null,
    from_status varchar(20),
    to_status   varchar(20),
    note        text,
    details     jsonb not null default '{}'::jsonb,
    occurred_at timestamptz not null default now()
);
create index incident_timeline_incident_idx on incident_timeline (incident_id, id);

create table automated_responses (
    id               uuid primary key default gen_random_uuid(),
    response_id      varchar(100) not null unique,
    incident_id      varchar(100) not null references incidents (incident_id),
    action_type      varchar(100) not null,
    action_details   text not null default '',
    execution_status varchar(20) not null,
    executed_at      timestamptz default now()
);
create index automated_responses_incident_idx on automated_responses (incident_id);

-- Transactional outbox. `txid` is the writing transaction's id: a reader only returns rows
-- whose transaction is older than every transaction still in flight
-- (pg_snapshot_xmin), so a row that commits late can never land behind a consumer's
-- cursor. Order is (txid, id).
create table outbox (
    id          bigserial primary key,
    event_id    uuid not null unique default gen_random_uuid(),
    txid        xid8 not null default pg_current_xact_id(),
    event_type  varchar(60) not null,
    incident_id varchar(100),
    payload     jsonb not null,
    created_at  timestamptz not null default now()
);
create index outbox_order_idx on outbox (txid, id);

create table idempotency_keys (
    key          varchar(255) primary key,
    request_hash char(64) not null,
    incident_id  varchar(100) references incidents (incident_id),
    created_at   timestamptz not null default now()
);
