-- Model predictions on incidents. The latest one is on the incident itself (the
-- API returns it as `predictions`); every scoring is also a row of `incident_predictions`
-- with the model version, what triggered it and the elapsed time, so predictions can be
-- compared with what happened (calibration and drift reports) and policies evaluated
-- offline. Plus the indexes the similar-incidents search uses.
-- depends: 0002_responses 0040_model_registry

alter table incidents add column predictions jsonb;

create table incident_predictions (
    id                       bigserial primary key,
    incident_id              varchar(100) not null references incidents (incident_id),
    model_name               varchar(100) not null,
    model_version            integer not null,
    trigger                  varchar(40) not null,  -- 'created' or the new status
    elapsed_hours            double precision not null,
    severity_probabilities   jsonb not null,
    suggested_severity       varchar(20) not null,
    ttr_p10_hours            double precision not null,
    ttr_p50_hours            double precision not null,
    ttr_p90_hours            double precision not null,
    expected_remaining_hours double precision not null,
    scored_at                timestamptz not null default now()
);
create index incident_predictions_incident_idx on incident_predictions (incident_id, id);
create index incident_predictions_scored_idx on incident_predictions (scored_at);

-- The inputs each response decision was made on (the incident's fields and the model's
-- predictions), so policies can be evaluated offline against what happened.
alter table response_decisions add column inputs jsonb not null default '{}'::jsonb;

-- Similar incidents: candidates share a service (incidents_services_idx, 0001) or words of
-- the title and description (this full-text index; 'simple' keeps service names and error
-- codes as they are written).
create index incidents_text_idx on incidents using gin (
    to_tsvector('simple', title || ' ' || description)
);
