-- The incidents assigned to a person ("Mine" in the console, the list's `involving`
-- filter): without an index a person's incidents were found by walking every incident.
-- depends: 0100_oidc_logins

create index incidents_assignee_id_idx on incidents (assignee_id) where assignee_id is not null;
