-- People and teams as records. Until now a team was a string on each row and a person a
-- string in `assignee` or an escalation target; the strings stay (the team string is the
-- team's slug, so every existing `team` / `assigned_team` column already names a team), and
-- everything new refers to a person by `users.id`.
--
-- Backfill: a team row for every team string in use; a user for every distinct assignee
-- (named by the string; no email is known), linked to the incident by `assignee_id` and
-- made a member of the teams whose incidents they were assigned.
-- depends: 0001_incidents 0003_escalation 0010_integrations 0020_api_keys 0070_schedule_teams 0072_subscriber_teams

create table users (
    id           uuid primary key default gen_random_uuid(),
    name         varchar(200) not null,
    email        varchar(320),
    chat_handle  varchar(100),
    time_zone    varchar(64) not null default 'UTC',
    created_by   varchar(200) not null,
    created_at   timestamptz not null default now(),
    updated_by   varchar(200),
    updated_at   timestamptz not null default now(),
    deactivated_at timestamptz
);
-- An address names one person, whatever its case.
create unique index users_email_key on users (lower(email)) where email is not null;

create table teams (
    slug          varchar(100) primary key,
    name          varchar(200) not null,
    default_escalation_policy_id uuid references escalation_policies (id) on delete set null,
    created_by    varchar(200) not null,
    created_at    timestamptz not null default now(),
    updated_by    varchar(200),
    updated_at    timestamptz not null default now()
);

create table team_members (
    team      varchar(100) not null references teams (slug) on delete cascade,
    user_id   uuid not null references users (id) on delete cascade,
    added_by  varchar(200) not null,
    added_at  timestamptz not null default now(),
    primary key (team, user_id)
);
create index team_members_user_idx on team_members (user_id);

-- A key may act for a person: records then name that user as the actor.
alter table api_keys add column user_id uuid references users (id);
alter table incidents add column assignee_id uuid references users (id);

insert into teams (slug, name, created_by)
select distinct team, team, 'migration:0086_people'
from (
    select assigned_team as team from incidents
    union select team from oncall_schedules where team is not null
    union select team from escalation_policies where team is not null
    union select team from integrations where team is not null
    union select team from event_subscribers where team is not null
    union select team from api_keys where team is not null
) as used
where team is not null and team <> ''
on conflict do nothing;

with people as (
    insert into users (name, created_by)
    select distinct assignee, 'migration:0086_people'
    from incidents
    where assignee is not null and assignee <> ''
    returning id, name
), linked as (
    update incidents i set assignee_id = p.id
    from people p
    where i.assignee = p.name
    returning i.assigned_team, p.id as user_id
)
insert into team_members (team, user_id, added_by)
select distinct assigned_team, user_id, 'migration:0086_people' from linked
on conflict do nothing;
