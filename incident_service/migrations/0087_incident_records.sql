-- The responder's record: incidents become editable under optimistic concurrency, and gain
-- notes (with their edit history) and links to other incidents.
--
-- `version` counts the incident's changes; answers carry it as the ETag and `If-Match`
-- compares it. A trigger bumps it on every UPDATE of the row, whoever writes it (a status
-- move, an edit, a merge written elsewhere): a write that forgot to would let a stale
-- If-Match through.
-- depends: 0086_people

alter table incidents add column version integer not null default 1;

create function incidents_bump_version() returns trigger language plpgsql as $$
begin
    new.version := old.version + 1;
    return new;
end $$;

create trigger incidents_version before update on incidents
    for each row execute function incidents_bump_version();

-- A note: what a responder wrote, who wrote it (the key's actor string and, when the key
-- acts for a person, the user), for whom (`internal` or `stakeholder`). Its timeline
-- entry (kind `note`) names it by id in `details.note_id`.
create table incident_notes (
    id             bigint generated always as identity primary key,
    incident_id    varchar(100) not null references incidents (incident_id),
    body           text not null,
    visibility     varchar(20) not null check (visibility in ('internal', 'stakeholder')),
    author         varchar(200) not null,
    author_user_id uuid references users (id),
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    edit_count     integer not null default 0
);
create index incident_notes_incident_idx on incident_notes (incident_id, id);

-- Every earlier body of an edited note, with who replaced it and when.
create table incident_note_edits (
    id            bigint generated always as identity primary key,
    note_id       bigint not null references incident_notes (id),
    previous_body text not null,
    edited_by     varchar(200) not null,
    edited_by_user_id uuid references users (id),
    edited_at     timestamptz not null default now()
);
create index incident_note_edits_note_idx on incident_note_edits (note_id, id);

-- A link between two incidents, stored once: `parent` reads source = parent, target =
-- child; `related` has no direction (source is the lesser id). One link per pair of
-- incidents, whichever way round.
create table incident_links (
    id              bigint generated always as identity primary key,
    source_incident varchar(100) not null references incidents (incident_id),
    target_incident varchar(100) not null references incidents (incident_id),
    kind            varchar(20) not null check (kind in ('parent', 'related')),
    created_by      varchar(200) not null,
    created_by_user_id uuid references users (id),
    created_at      timestamptz not null default now(),
    check (source_incident <> target_incident)
);
create unique index incident_links_pair_key on incident_links (
    least(source_incident, target_incident), greatest(source_incident, target_incident));
create index incident_links_target_idx on incident_links (target_incident);
create index incident_links_source_idx on incident_links (source_incident);
