-- Who deleted a configuration row, when, and what it was. Schedules, escalation policies,
-- subscribers and on-call overrides leave no row behind when deleted, so the record of the
-- change lives here (written by the same statement as the delete: crud.Table.delete).
-- `row` is the resource as the API showed it, without its secrets.
-- depends: 0003_escalation 0004_relay

create table config_deletions (
    id           bigint generated always as identity primary key,
    resource     varchar(100) not null,
    resource_id  uuid not null,
    team         varchar(100),
    row          jsonb not null,
    deleted_by   varchar(200) not null,
    deleted_at   timestamptz not null default now()
);
create index config_deletions_resource_idx on config_deletions (resource, resource_id);
create index config_deletions_team_idx on config_deletions (team, deleted_at desc);
