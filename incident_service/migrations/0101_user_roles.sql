-- A user's role in the console (docs/operations.md, "Sign-in and roles"), mapped onto the
-- API key scopes: viewer = incidents:read; responder = + incidents:write; manager =
-- + config:write; admin = admin. An OIDC session takes its scopes from it on every request;
-- an admin changes it through PATCH /api/v1/users/{id} (recorded in user_changes).
-- depends: 0100_sessions

alter table users add column role varchar(20) not null default 'viewer'
    check (role in ('viewer', 'responder', 'manager', 'admin'));
