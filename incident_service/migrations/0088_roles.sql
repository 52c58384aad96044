-- Incident roles (commander, scribe, communications, and each team's own: the role
-- types), who held them when (assignments; the current holders are the view
-- incident_roles), the checklist their tasks put on an incident, and the audit of team
-- membership.
--
-- A holding is a row: assumed when assigned, relieved when replaced or removed, never
-- deleted, so the history and the current holder are the same records (one current holder
-- per role and incident, guaranteed by a partial unique index). A role's tasks are copied
-- onto the incident as checklist items the first time the role is assigned there.
-- depends: 0001_incidents 0086_people

create table incident_role_types (
    id           uuid primary key default gen_random_uuid(),
    -- null: built in, the same for every team; else the team that defined it.
    team         varchar(100) references teams (slug) on delete cascade,
    slug         varchar(40) not null check (slug ~ '^[a-z][a-z0-9_-]{0,39}$'),
    name         varchar(200) not null,
    instructions text not null default '',
    -- The tasks whoever takes the role is given: a JSON list of titles.
    tasks        jsonb not null default '[]' check (jsonb_typeof(tasks) = 'array'),
    created_by   varchar(200) not null,
    created_at   timestamptz not null default now(),
    updated_by   varchar(200),
    updated_at   timestamptz not null default now()
);
-- A slug names one role for a team: its own or a built-in one.
create unique index incident_role_types_slug_key on incident_role_types (coalesce(team, ''), slug);

insert into incident_role_types (team, slug, name, instructions, tasks, created_by) values
    (null, 'commander', 'Incident commander',
     'Coordinates the response: decides, delegates, and keeps the incident moving.',
     '["Confirm the severity", "Assign a communications lead", "Post the first stakeholder update"]',
     'migration:0088_roles'),
    (null, 'scribe', 'Scribe',
     'Keeps the timeline: decisions, actions and who took them, as they happen.',
     '["Record the decisions and actions on the timeline", "Collect links to graphs and logs"]',
     'migration:0088_roles'),
    (null, 'communications', 'Communications lead',
     'Keeps stakeholders informed at a steady cadence.',
     '["Post an update to stakeholders", "Agree the cadence of the next updates"]',
     'migration:0088_roles');

create table incident_role_assignments (
    id           bigserial primary key,
    incident_id  varchar(100) not null references incidents (incident_id),
    role         varchar(40) not null,
    user_id      uuid not null references users (id),
    assigned_by  varchar(200) not null,
    assumed_at   timestamptz not null default now(),
    relieved_by  varchar(200),
    relieved_at  timestamptz,
    check ((relieved_at is null) = (relieved_by is null))
);
create unique index incident_role_assignments_current on incident_role_assignments (incident_id, role)
    where relieved_at is null;
create index incident_role_assignments_incident_idx on incident_role_assignments (incident_id, id);

-- Who holds which role on each incident now: what other features read (the stakeholder
-- update reminder looks here for the communications lead, then the commander).
create view incident_roles as
select incident_id, role, user_id, assigned_by, assumed_at
from incident_role_assignments
where relieved_at is null;

create table incident_checklist_items (
    id           bigserial primary key,
    incident_id  varchar(100) not null references incidents (incident_id),
    role         varchar(40) not null,
    position     integer not null,
    title        text not null,
    created_by   varchar(200) not null,
    created_at   timestamptz not null default now(),
    done_by      varchar(200),
    done_at      timestamptz,
    -- Who last unticked it and when (ticking again keeps this; unticking clears done_*).
    undone_by    varchar(200),
    undone_at    timestamptz,
    -- A role's tasks come once per incident, however often the role changes hands.
    unique (incident_id, role, position)
);

-- Team membership as it changed: every addition and removal, by whom and when (the
-- current members are team_members).
create table team_member_changes (
    id          bigserial primary key,
    team        varchar(100) not null references teams (slug) on delete cascade,
    user_id     uuid not null references users (id) on delete cascade,
    change      varchar(10) not null check (change in ('added', 'removed')),
    actor       varchar(200) not null,
    changed_at  timestamptz not null default now()
);
create index team_member_changes_team_idx on team_member_changes (team, id);
