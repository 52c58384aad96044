-- PagerDuty Events API v2 change events (deploys, config changes): kept as records beside
-- the alerts of the same integration; they open no incident.
-- depends: 0011_integration_cursor

create table change_events (
    id             bigserial primary key,
    integration_id uuid not null references integrations (id),
    summary        varchar(1024) not null,
    source         varchar(1024),
    occurred_at    timestamptz,
    payload        jsonb not null,
    received_at    timestamptz not null default now()
);
create index change_events_integration_idx on change_events (integration_id, id);
