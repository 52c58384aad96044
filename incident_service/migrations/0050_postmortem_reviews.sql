-- What people add to a post-mortem: contributing factors and action items,
-- saved through PUT /api/v1/incidents/{id}/postmortem/review (the review notebook uses
-- it). Kept apart from `postmortems`, which is regenerated from the record; each save is
-- also a `postmortem_reviewed` timeline entry with who and when.
-- depends: 0030_postmortems

create table postmortem_reviews (
    incident_id          varchar(100) primary key references incidents (incident_id),
    contributing_factors jsonb not null check (jsonb_typeof(contributing_factors) = 'array'),
    action_items         jsonb not null check (jsonb_typeof(action_items) = 'array'),
    updated_by           varchar(200) not null,
    updated_at           timestamptz not null default now()
);
