-- Escalation: on-call schedules with rotation layers and overrides, escalation
-- policies per team, each incident's escalation state, and every notification sent.
-- depends: 0002_responses

create table oncall_schedules (
    id         uuid primary key default gen_random_uuid(),
    name       varchar(200) not null unique,
    timezone   varchar(64) not null,
    layers     jsonb not null check (jsonb_typeof(layers) = 'array'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    updated_by varchar(200) not null
);

create table oncall_overrides (
    id          uuid primary key default gen_random_uuid(),
    schedule_id uuid not null references oncall_schedules (id) on delete cascade,
    person      varchar(200) not null,
    starts_at   timestamptz not null,
    ends_at     timestamptz not null,
    created_at  timestamptz not null default now(),
    created_by  varchar(200) not null,
    check (ends_at > starts_at)
);
create index oncall_overrides_schedule_idx on oncall_overrides (schedule_id, starts_at);

create table escalation_policies (
    id         uuid primary key default gen_random_uuid(),
    team       varchar(100) not null unique,
    name       varchar(200) not null,
    levels     jsonb not null check (jsonb_typeof(levels) = 'array'),
    repeat     integer not null default 0 check (repeat between 0 and 10),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    updated_by varchar(200) not null
);

-- `tick` counts the automatic steps the escalation workflow has taken: a step retried
-- after a crash finds its tick already done and changes nothing, so no level is skipped
-- or repeated.
create table incident_escalations (
    incident_id       varchar(100) primary key references incidents (incident_id),
    policy_id         uuid,
    policy            jsonb not null,
    level             integer not null default 0,
    round             integer not null default 0,
    tick              integer not null default 0,
    last_escalated_at timestamptz,
    stopped_reason    text,
    updated_at        timestamptz not null default now()
);

create table escalation_notifications (
    id              bigserial primary key,
    incident_id     varchar(100) not null references incidents (incident_id),
    tick            integer,  -- the workflow step that sent it; null when a person escalated
    level           integer not null,
    round           integer not null,
    target_type     varchar(20) not null,
    target          varchar(200) not null,
    recipient       varchar(200) not null,
    channel         varchar(40) not null,
    delivery_status varchar(20) not null default 'pending'
        check (delivery_status in ('pending', 'delivered', 'failed')),
    idempotency_key varchar(400) not null unique,
    attempts        integer not null default 0,
    last_error      text,
    created_by      varchar(200) not null,
    created_at      timestamptz not null default now(),
    delivered_at    timestamptz
);
create index escalation_notifications_incident_idx on escalation_notifications (incident_id, id);
