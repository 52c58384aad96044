drop table if exists webhook_replays;
drop table if exists integration_rate_buckets;
drop table if exists integration_audit;
alter table integrations
    drop column if exists rate_per_min,
    drop column if exists rate_burst,
    drop column if exists updated_at;
