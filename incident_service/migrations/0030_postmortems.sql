-- Post-mortems: one per incident, generated from the record when it is
-- resolved; regenerated when a reopened incident is resolved again. `document` is the
-- structured post-mortem the Markdown and HTML are rendered from.
-- depends: 0001_incidents

create table postmortems (
    incident_id  varchar(100) primary key references incidents (incident_id),
    resolved_at  timestamptz,
    document     jsonb not null check (jsonb_typeof(document) = 'object'),
    markdown     text not null,
    generated_by varchar(200) not null,
    generated_at timestamptz not null default now()
);
