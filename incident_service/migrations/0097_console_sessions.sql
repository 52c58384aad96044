-- Console sign-in sessions. The browser holds a random token in an HttpOnly cookie; only
-- its SHA-256 is stored. Every session acts as one API key (`key_id`): the key the person
-- signed in with, or, for an identity provider's sign-in, the key the service keeps for
-- that user (`api_keys.console_user_id`), so a session has exactly a key's scopes, team
-- and rate limit, and revoking the key ends its sessions. `csrf_token` must come back
-- with every write the cookie authenticates. Sessions end at `expires_at`, after
-- `idle_s` without a request, or at logout (`ended_at`, `ended_by`).
-- depends: 0096_user_changes

create table console_sessions (
    id            uuid primary key default gen_random_uuid(),
    token_hash    char(64) not null unique,
    key_id        uuid not null references api_keys (id),
    via           varchar(20) not null check (via in ('api_key', 'oidc')),
    csrf_token    varchar(64) not null,
    created_at    timestamptz not null default now(),
    last_seen_at  timestamptz not null default now(),
    expires_at    timestamptz not null,
    ended_at      timestamptz,
    ended_by      varchar(200)
);
create index console_sessions_key_idx on console_sessions (key_id) where ended_at is null;
create index console_sessions_expiry_idx on console_sessions (expires_at);

-- The key an identity provider's sign-in acts through, one per user: its secret is never
-- shown (nobody can present it), its scopes follow the user's role.
alter table api_keys add column console_user_id uuid unique references users (id);

-- A person's role in the console and for their console key: viewer, responder, manager,
-- admin (auth/roles.py maps them to scopes).
alter table users add column role varchar(20) not null default 'responder'
    check (role in ('viewer', 'responder', 'manager', 'admin'));
