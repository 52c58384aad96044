-- Every on-call schedule belongs to a team, as policies do: a team's key sees and changes
-- its own team's schedules only, and a policy targets only its own team's schedules.
-- Config writes also record the request body's `actor` beside the authenticated key, as
-- `on_behalf_of`.
-- depends: 0003_escalation

alter table oncall_schedules add column team varchar(100);
alter table oncall_schedules add column on_behalf_of varchar(200);
alter table oncall_overrides add column on_behalf_of varchar(200);
alter table escalation_policies add column on_behalf_of varchar(200);

-- Names are unique within a team (a global name would tell one team another's names).
alter table oncall_schedules drop constraint oncall_schedules_name_key;

-- Existing schedules take the team of the policies that target them. A schedule targeted
-- by several teams' policies stays with the first team (by name) and every other team gets
-- its own copy (same name, layers and overrides), which that team's policy now targets.
-- A schedule no policy uses keeps team null: "unassigned", seen and changed only by keys
-- restricted to no team, and targetable by no policy until an admin gives it a team.
do $$
declare
    pair record;
    copy_id uuid;
begin
    for pair in
        select s.id as sid, p.id as pid, p.team,
               row_number() over (partition by s.id order by p.team) as n
        from oncall_schedules s
        join escalation_policies p on jsonb_path_exists(
            p.levels, '$[*].targets[*] ? (@.type == "schedule" && @.id == $id)',
            jsonb_build_object('id', s.id::text))
        order by s.id, p.team
    loop
        if pair.n = 1 then
            update oncall_schedules set team = pair.team where id = pair.sid;
        else
            insert into oncall_schedules
                (name, timezone, layers, created_at, updated_at, updated_by, team)
            select name, timezone, layers, created_at, now(), 'migration 0070', pair.team
            from oncall_schedules where id = pair.sid
            returning id into copy_id;
            insert into oncall_overrides
                (schedule_id, person, starts_at, ends_at, created_at, created_by)
            select copy_id, person, starts_at, ends_at, created_at, created_by
            from oncall_overrides where schedule_id = pair.sid;
            update escalation_policies set levels = (
                select jsonb_agg(
                    jsonb_set(level, '{targets}', (
                        select jsonb_agg(
                            case when t ->> 'type' = 'schedule' and t ->> 'id' = pair.sid::text
                                 then jsonb_set(t, '{id}', to_jsonb(copy_id::text))
                                 else t end
                            order by tn)
                        from jsonb_array_elements(level -> 'targets') with ordinality as x (t, tn)))
                    order by ln)
                from jsonb_array_elements(levels) with ordinality as y (level, ln))
            where id = pair.pid;
        end if;
    end loop;
end
$$;

-- Override spans now lie in 1970..2199 (UTC). Older ones are clipped to it (one ending
-- past year 9999 could not even be read back into the service); one wholly outside goes.
delete from oncall_overrides
where starts_at >= '2200-01-01T00:00:00Z' or ends_at <= '1970-01-01T00:00:00Z';
update oncall_overrides set
    starts_at = greatest(starts_at, '1970-01-01T00:00:00Z'),
    ends_at = least(ends_at, '2200-01-01T00:00:00Z')
where starts_at < '1970-01-01T00:00:00Z' or ends_at > '2200-01-01T00:00:00Z';

-- Why an escalation's first page reached nobody (null: someone was reached, or not known
-- yet): what `page_oncall` reports, whichever of the two finishes first.
alter table incident_escalations add column first_page_failed text;

alter table oncall_schedules
    add constraint oncall_schedules_team_name_key unique nulls not distinct (team, name);
create index oncall_schedules_team_idx on oncall_schedules (team, name);
