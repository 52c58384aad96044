-- Idempotency keys belong to the API key that sent them: two clients (or two teams) that
-- happen to pick the same Idempotency-Key each get their own incident, and neither learns
-- the other's id. A null api_key_id is a key the service used for itself (no API key);
-- those share one space as before (NULLS NOT DISTINCT). `key` first: lookups by key use
-- the index.
--
-- Rate-limit state shared by every API replica: one row per API key holding its GCRA
-- "theoretical arrival time" (seconds since the epoch). Unlogged: it changes on every
-- request, needs no WAL, and losing it in a crash only refills the buckets. A low
-- fillfactor leaves room for HOT updates (no indexed column changes).
-- depends: 0020_api_keys

alter table idempotency_keys drop constraint idempotency_keys_pkey;
alter table idempotency_keys add column api_key_id uuid references api_keys (id);
alter table idempotency_keys
    add constraint idempotency_keys_api_key_key unique nulls not distinct (key, api_key_id);

create unlogged table api_key_rate_limits (
    key_id  uuid primary key,
    tat     double precision not null,
    allowed boolean not null
) with (fillfactor = 50);
