drop table if exists api_key_rate_limits;
-- Keys become global again: where several API keys used the same one, keep the oldest.
delete from idempotency_keys a using idempotency_keys b
    where a.key = b.key and (a.created_at, a.ctid) > (b.created_at, b.ctid);
alter table idempotency_keys drop constraint if exists idempotency_keys_api_key_key;
alter table idempotency_keys drop column if exists api_key_id;
alter table idempotency_keys add primary key (key);
