-- Trained model versions: each artifact with its feature spec, training window and
-- metrics; at most one active version per model name; every state change in the history.
-- depends: 0001_incidents

create table model_versions (
    id              bigserial primary key,
    name            varchar(100) not null,
    version         integer not null,
    status          varchar(20) not null default 'candidate'
        check (status in ('candidate', 'active', 'retired')),
    artifact        bytea not null,
    feature_spec    jsonb not null,
    metrics         jsonb not null,
    config          jsonb not null,
    train_opened_from timestamptz,
    train_opened_to   timestamptz,
    train_as_of     timestamptz not null,
    created_by      varchar(200) not null,
    created_at      timestamptz not null default now(),
    unique (name, version)
);

-- One active version per model name, enforced by the database.
create unique index model_versions_one_active on model_versions (name) where status = 'active';

create table model_version_events (
    id          bigserial primary key,
    name        varchar(100) not null,
    version     integer not null,
    event       varchar(20) not null
        check (event in ('registered', 'promoted', 'rejected', 'retired', 'rolled_back')),
    reason      text not null default '',
    actor       varchar(200) not null,
    at          timestamptz not null default now(),
    foreign key (name, version) references model_versions (name, version)
);
create index model_version_events_name_idx on model_version_events (name, at);
