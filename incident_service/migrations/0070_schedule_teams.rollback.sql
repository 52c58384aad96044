-- Back to globally unique names: a copy made for another team (same name) is renamed
-- with its team as a suffix; the copies and the policies' targets stay as they are.
alter table incident_escalations drop column if exists first_page_failed;
drop index if exists oncall_schedules_team_idx;
alter table oncall_schedules drop constraint if exists oncall_schedules_team_name_key;
update oncall_schedules s set name = left(s.name || ' (' || coalesce(s.team, '') || ')', 200)
where exists (
    select 1 from oncall_schedules o
    where o.name = s.name and o.id <> s.id
      and (o.team is null or o.team < s.team or (o.team = s.team and o.id < s.id))
);
alter table oncall_schedules add constraint oncall_schedules_name_key unique (name);
alter table escalation_policies drop column if exists on_behalf_of;
alter table oncall_overrides drop column if exists on_behalf_of;
alter table oncall_schedules drop column if exists on_behalf_of;
alter table oncall_schedules drop column if exists team;
