-- OIDC sign-ins under way (console/oidc.py): between the redirect to the identity
-- provider and its return, the state (by its SHA-256), the nonce, the PKCE verifier and
-- where to go afterwards, bound to the browser that started it (the SHA-256 of a cookie).
-- A row is taken (deleted) by the callback that uses it: a state works once.
-- depends: 0097_console_sessions

create table oidc_logins (
    state_sha256    char(64) primary key,
    browser_sha256  char(64) not null,
    nonce           varchar(100) not null,
    code_verifier   varchar(128) not null,
    next_path       varchar(2000) not null default '/ui/',
    created_at      timestamptz not null default now(),
    expires_at      timestamptz not null
);
create index oidc_logins_expires_idx on oidc_logins (expires_at);
