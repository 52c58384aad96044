-- Integrations that can be cut off and held to a rate: per-integration intake limits
-- (the buckets are shared by every API replica), an audit trail of who changed an
-- integration, and the replay cache of signed inbound webhooks.
-- depends: 0012_change_events

-- Events per minute and burst for an inbound integration (null: the server's default).
alter table integrations
    add column rate_per_min integer check (rate_per_min > 0),
    add column rate_burst integer check (rate_burst > 0),
    add column updated_at timestamptz;

-- Every change to an integration and who made it (created, updated, disabled, enabled,
-- key_rotated); the key itself is never recorded.
create table integration_audit (
    id              bigserial primary key,
    integration_id  uuid not null references integrations (id),
    action          varchar(30) not null,
    actor           varchar(200) not null,
    details         jsonb not null default '{}'::jsonb,
    occurred_at     timestamptz not null default now()
);
create index integration_audit_integration_idx on integration_audit (integration_id, id);

-- One token bucket per inbound integration, updated by one statement per request so that
-- every API replica draws from the same bucket. Rate and burst are copied from the
-- integration on each request, so a changed limit applies at once. Unlogged: a bucket is
-- worth no WAL flush per request, and after a crash buckets simply start full again.
create unlogged table integration_rate_buckets (
    integration_id  uuid primary key references integrations (id),
    tokens          double precision not null,
    rate_per_s      double precision not null,
    burst           double precision not null,
    allowed         boolean not null,
    updated_at      timestamptz not null default clock_timestamp()
);

-- Signatures and event ids of inbound webhooks already accepted, until their timestamp
-- leaves the accepted window: a captured request cannot be replayed. Expired rows are
-- deleted opportunistically by the receiving requests.
create table webhook_replays (
    digest          char(64) primary key,
    expires_at      timestamptz not null
);
create index webhook_replays_expiry_idx on webhook_replays (expires_at);
