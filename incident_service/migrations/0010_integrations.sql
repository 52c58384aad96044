-- Integrations (inbound alert sources and outbound vendor syncs), alerts, vendor links
-- and the state of every outbound sync. Secrets are never stored here: inbound keys are
-- kept as SHA-256 digests, vendor credentials come from the environment.
-- depends: 0001_incidents

create table integrations (
    id              uuid primary key default gen_random_uuid(),
    kind            varchar(30) not null
        check (kind in ('events-v2', 'alertmanager', 'grafana',
                        'pagerduty', 'jira', 'servicenow')),
    name            varchar(200) not null,
    team            varchar(100) not null,
    -- Outbound: the severities this integration receives (empty = every severity).
    severities      text[] not null default '{}',
    -- Non-secret options: PagerDuty service id, Jira project and field mapping, label
    -- to severity mapping for alert sources, ...
    config          jsonb not null default '{}'::jsonb,
    -- Inbound only: sha256 of the routing/integration key, and its first characters so a
    -- person can tell keys apart without the key being recoverable.
    key_sha256      char(64) unique,
    key_prefix      varchar(8),
    enabled         boolean not null default true,
    created_by      varchar(200) not null,
    created_at      timestamptz not null default now()
);
create index integrations_outbound_idx on integrations (team, kind) where key_sha256 is null;

-- Which incident a dedup key currently feeds. One row per (integration, dedup key, incident);
-- the open one is the latest whose incident is still active.
create table alert_groups (
    id              bigserial primary key,
    integration_id  uuid not null references integrations (id),
    dedup_key       varchar(255) not null,
    incident_id     varchar(100) not null references incidents (incident_id),
    status          varchar(20) not null default 'triggered'
        check (status in ('triggered', 'acknowledged', 'resolved')),
    alert_count     integer not null default 0,
    -- Alertmanager/Grafana: each member alert's last status, by fingerprint.
    members         jsonb not null default '{}'::jsonb,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create unique index alert_groups_open_idx on alert_groups (integration_id, dedup_key)
    where status <> 'resolved';
create index alert_groups_incident_idx on alert_groups (incident_id);

-- Every alert received, verbatim, linked to the incident it fed.
create table alerts (
    id              bigserial primary key,
    integration_id  uuid not null references integrations (id),
    group_id        bigint references alert_groups (id),
    incident_id     varchar(100) references incidents (incident_id),
    dedup_key       varchar(255) not null,
    action          varchar(20) not null
        check (action in ('trigger', 'acknowledge', 'resolve')),
    summary         text not null default '',
    severity        varchar(20),
    source          varchar(1024),
    payload         jsonb not null,
    received_at     timestamptz not null default now()
);
create index alerts_incident_idx on alerts (incident_id, id);

-- One row per incident and vendor record.
create table integration_links (
    id              bigserial primary key,
    incident_id     varchar(100) not null references incidents (incident_id),
    integration_id  uuid not null references integrations (id),
    system          varchar(20) not null check (system in ('pagerduty', 'jira', 'servicenow')),
    remote_id       varchar(200) not null,
    remote_key      varchar(200),
    remote_url      text,
    -- The status we last pushed (or saw) remotely: an echo of it coming back is ignored.
    remote_status   varchar(40),
    last_synced_at  timestamptz not null default now(),
    created_at      timestamptz not null default now(),
    unique (incident_id, integration_id),
    unique (system, remote_id)
);

-- The state of every outbound sync (one per event and integration), visible in the API.
create table integration_syncs (
    sync_id         varchar(200) primary key,
    incident_id     varchar(100) not null references incidents (incident_id),
    integration_id  uuid not null references integrations (id),
    system          varchar(20) not null,
    action          varchar(20) not null,
    status          varchar(20) not null default 'pending'
        check (status in ('pending', 'retrying', 'succeeded', 'failed', 'skipped')),
    attempts        integer not null default 0,
    last_error      text,
    next_attempt_at timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index integration_syncs_incident_idx on integration_syncs (incident_id, created_at);

-- Where the outbound dispatcher has read the outbox up to (one row per consumer).
create table integration_cursors (
    consumer        varchar(60) primary key,
    last_event_id   uuid,
    updated_at      timestamptz not null default now()
);
