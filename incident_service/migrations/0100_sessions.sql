-- Console sign-in sessions (auth/sessions.py). The cookie holds a random token; only its
-- SHA-256 is stored, so a leaked table opens no session. A session stands for the API key
-- it was opened with ("sign in with an API key": the key's scopes and team, checked on
-- every request, so revoking the key ends it) or for a user signed in through OIDC (the
-- user's role and the team their groups map to). Logout and expiry end it; rows stay
-- with `ended_at` as the record of who was signed in when.
-- depends: 0096_user_changes

create table sessions (
    id_sha256     char(64) primary key,
    api_key_id    uuid references api_keys (id),
    user_id       uuid references users (id),
    -- OIDC sessions: the team the user's groups map to (null: every team, admins only).
    team          varchar(100),
    csrf_token    varchar(64) not null,
    created_at    timestamptz not null default now(),
    expires_at    timestamptz not null,
    last_seen_at  timestamptz not null default now(),
    ended_at      timestamptz,
    ended_by      varchar(200),
    check (api_key_id is not null or user_id is not null)
);
create index sessions_api_key_idx on sessions (api_key_id) where ended_at is null;
create index sessions_user_idx on sessions (user_id) where ended_at is null;
