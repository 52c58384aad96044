alter table integration_cursors drop column position_id;
alter table integration_cursors drop column position_txid;
alter table integration_cursors add column last_event_id uuid;
