-- The outbound dispatcher's position in the outbox is a (txid, id) pair, as the event
-- feed orders it; an event id alone cannot be resumed from safely.
-- depends: 0010_integrations

alter table integration_cursors drop column last_event_id;
alter table integration_cursors add column position_txid xid8 not null default '0'::xid8;
alter table integration_cursors add column position_id bigint not null default 0;
