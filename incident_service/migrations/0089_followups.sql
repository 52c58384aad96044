-- Follow-ups: the actions an incident leaves behind, each tracked to done (or won't do)
-- with an owner (a users.id), a due date and a priority; optionally exported to the
-- team's Jira, whose issue's status comes back. The review's action items, a JSON list
-- inside postmortem_reviews until now, become follow-ups rows (owner_id null: the review
-- named people by a free string, kept as `owner_name`; state open).
--
-- Post-mortems gain a review state (draft -> in_review -> published) and versions: a
-- published post-mortem is frozen in postmortem_versions, and any later change starts
-- the next version as a draft.
-- depends: 0086_people 0075_postmortems_regenerate 0010_integrations

create table follow_ups (
    id                 uuid primary key default gen_random_uuid(),
    incident_id        varchar(100) not null references incidents (incident_id),
    title              varchar(500) not null,
    owner_id           uuid references users (id),
    -- The owner as a review wrote it (a name, not a user); shown until owner_id is set.
    owner_name         varchar(200),
    -- `due_date` when a date was given; `due_at` is the instant it is overdue from (the
    -- end of that day, UTC, for a date).
    due_date           date,
    due_at             timestamptz,
    priority           varchar(10) not null default 'medium'
        check (priority in ('low', 'medium', 'high', 'urgent')),
    state              varchar(20) not null default 'open'
        check (state in ('open', 'in_progress', 'done', 'wont_do')),
    source             varchar(20) not null default 'incident'
        check (source in ('incident', 'review')),
    completed_at       timestamptz,
    -- Its issue in the team's Jira, once exported (one per follow-up).
    external_integration_id uuid references integrations (id),
    external_id        varchar(200),
    external_key       varchar(200),
    external_url       text,
    external_status    varchar(60),
    external_synced_at timestamptz,
    created_by         varchar(200) not null,
    created_at         timestamptz not null default now(),
    updated_by         varchar(200) not null,
    updated_at         timestamptz not null default now(),
    check (due_date is null or due_at is not null)
);
create index follow_ups_incident_idx on follow_ups (incident_id, created_at, id);
create index follow_ups_created_idx on follow_ups (created_at desc, id desc);
create index follow_ups_owner_idx on follow_ups (owner_id, created_at desc, id desc)
    where owner_id is not null;
create index follow_ups_open_due_idx on follow_ups (due_at) where state in ('open', 'in_progress');
create unique index follow_ups_external_idx on follow_ups (external_integration_id, external_id)
    where external_id is not null;
-- The review's action items are matched to their follow-ups by title.
create unique index follow_ups_review_title_idx on follow_ups (incident_id, lower(title))
    where source = 'review';

insert into follow_ups (
    incident_id, title, owner_name, due_date, due_at, source, created_by, created_at,
    updated_by, updated_at)
select distinct on (r.incident_id, lower(left(btrim(item ->> 'action'), 500)))
       r.incident_id,
       left(btrim(item ->> 'action'), 500),
       nullif(left(item ->> 'owner', 200), ''),
       due.day,
       (due.day + 1)::timestamp at time zone 'UTC',
       'review', 'migration:0089_followups', r.updated_at, 'migration:0089_followups',
       r.updated_at
from postmortem_reviews r
cross join lateral jsonb_array_elements(r.action_items) as item
cross join lateral (
    select case when item ->> 'due' ~ '^\d{4}-\d{2}-\d{2}$' then (item ->> 'due')::date end as day
) as due
where jsonb_typeof(item) = 'object' and coalesce(btrim(item ->> 'action'), '') <> ''
order by r.incident_id, lower(left(btrim(item ->> 'action'), 500));

alter table postmortems
    add column state varchar(20) not null default 'draft'
        check (state in ('draft', 'in_review', 'published')),
    add column version integer not null default 1 check (version >= 1),
    add column state_changed_by varchar(200),
    add column state_changed_at timestamptz,
    add column published_by varchar(200),
    add column published_at timestamptz;

-- Every published version, as it was published: never updated.
create table postmortem_versions (
    incident_id  varchar(100) not null references incidents (incident_id),
    version      integer not null,
    document     jsonb not null check (jsonb_typeof(document) = 'object'),
    markdown     text not null,
    published_by varchar(200) not null,
    published_at timestamptz not null,
    primary key (incident_id, version)
);
