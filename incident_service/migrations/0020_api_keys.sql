-- API keys: only a SHA-256 hash of each key is stored. Keys are 256-bit random tokens, so
-- a fast hash is enough (no dictionary to attack); the prefix lets people tell keys apart.
-- depends: 0001_incidents

create table api_keys (
    id              uuid primary key default gen_random_uuid(),
    name            varchar(200) not null,
    prefix          varchar(20) not null,
    key_hash        char(64) not null unique,
    scopes          text[] not null,
    team            varchar(100),
    -- requests per second allowed to this key; null means the service default
    rate_limit      integer check (rate_limit is null or rate_limit > 0),
    created_by      varchar(200) not null,
    created_at      timestamptz not null default now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    revoked_by      varchar(200)
);
