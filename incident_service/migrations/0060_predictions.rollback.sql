alter table response_decisions drop column if exists inputs;
drop index if exists incidents_text_idx;
drop table if exists incident_predictions;
alter table incidents drop column if exists predictions;
