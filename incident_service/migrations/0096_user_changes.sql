-- Every change of a user, by whom and when: created, updated (which fields), deactivated
-- (DELETE /api/v1/users/{id} or PATCH active=false: a soft delete, the row stays so that
-- every record naming them still does) and reactivated. Written by the statement that
-- makes the change. Memberships have theirs in team_member_changes (0088).
-- depends: 0086_people

create table user_changes (
    id          bigint generated always as identity primary key,
    user_id     uuid not null references users (id),
    change      varchar(20) not null
        check (change in ('created', 'updated', 'deactivated', 'reactivated')),
    fields      jsonb not null default '[]' check (jsonb_typeof(fields) = 'array'),
    actor       varchar(200) not null,
    changed_at  timestamptz not null default now()
);
create index user_changes_user_idx on user_changes (user_id, id);
