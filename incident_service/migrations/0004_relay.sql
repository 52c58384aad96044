-- The event relay: subscribers and how far each has been delivered. Positions
-- use the outbox's (txid, id) order, which never lets a late commit fall behind a cursor.
-- depends: 0002_responses

create table event_subscribers (
    id              uuid primary key default gen_random_uuid(),
    name            varchar(200) not null unique,
    kind            varchar(20) not null check (kind in ('webhook', 'nats')),
    url             text,
    subject         varchar(200),
    secret          text,
    event_types     jsonb not null default '[]'::jsonb check (jsonb_typeof(event_types) = 'array'),
    active          boolean not null default true,
    position_txid   xid8 not null default '0',
    position_id     bigint not null default 0,
    delivered_count bigint not null default 0,
    failures        integer not null default 0,
    last_error      text,
    next_attempt_at timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    updated_by      varchar(200) not null,
    check ((kind = 'webhook' and url is not null) or (kind = 'nats' and subject is not null))
);

create function outbox_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('outbox', '');
    return null;
end $$;
create trigger outbox_notify after insert on outbox
    for each statement execute function outbox_notify();
