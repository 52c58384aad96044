drop index if exists incidents_assignee_id_idx;
