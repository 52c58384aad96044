-- Stakeholder updates: what the response tells people outside it (the status page and chat
-- show them), each team's update cadence per severity, and the reminders raised when an
-- active incident's update is overdue.
-- depends: 0001_incidents 0086_people

create table incident_updates (
    id                bigserial primary key,
    incident_id       varchar(100) not null references incidents (incident_id),
    -- The public status of this update (Statuspage's realtime vocabulary), not the
    -- incident's lifecycle status, which is kept beside it as it was when posted.
    status            varchar(20) not null
        check (status in ('investigating', 'identified', 'monitoring', 'resolved')),
    message           text not null,
    severity          varchar(20) not null,
    incident_status   varchar(20) not null,
    posted_by         varchar(200) not null,
    posted_by_user_id uuid references users (id),
    posted_at         timestamptz not null default now()
);
-- The list (newest first) and the reminder sweep's "last update of this incident".
create index incident_updates_incident_idx on incident_updates (incident_id, id desc);

-- Keyed by the team string incidents carry (a team need not have a `teams` row).
-- `every_minutes`: severity -> minutes (a number, or null: no reminders); a severity left
-- out takes the service's default (updates/schemas.py DEFAULT_CADENCE).
create table update_cadences (
    team          varchar(100) primary key,
    every_minutes jsonb not null check (jsonb_typeof(every_minutes) = 'object'),
    updated_by    varchar(200) not null,
    updated_at    timestamptz not null default now()
);

-- One row per reminder raised: the slot it was due at is unique per incident, so a sweep
-- re-run after a crash, or by a second worker, raises nothing twice.
create table update_reminders (
    id                bigserial primary key,
    incident_id       varchar(100) not null references incidents (incident_id),
    due_at            timestamptz not null,
    raised_at         timestamptz not null default now(),
    every_minutes     double precision not null,
    recipient_type    varchar(20) not null,
    recipient         varchar(200) not null,
    recipient_user_id uuid,
    unique (incident_id, due_at)
);
create index update_reminders_incident_idx on update_reminders (incident_id, due_at desc);
