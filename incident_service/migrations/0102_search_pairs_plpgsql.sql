-- The adjacent-pairs column is computed on every insert into incidents, incident_timeline
-- and alerts, and on every update of an incident. As a SQL function with an aggregate it
-- cannot be inlined, so PostgreSQL planned its body again on each call (about 0.1-0.2 ms
-- per row, inside statements that hold the incident row's lock). A PL/pgSQL body keeps its
-- plan for the session, and an empty text (a timeline entry without a note) returns at
-- once. Same results for every input, so no stored value changes and no table is rewritten.
-- depends: 0101_incident_assignee_index

create or replace function search_adjacent_pairs(v tsvector) returns text[]
language plpgsql immutable strict parallel safe as $$
begin
    if v = ''::tsvector then
        return '{}'::text[];
    end if;
    return coalesce((
        select array_agg(distinct left(a.lexeme, 100) || ' ' || left(b.lexeme, 100))
        from (select lexeme, unnest(positions) as pos from unnest(v)) as a
        join (select lexeme, unnest(positions) as pos from unnest(v)) as b
            on b.pos = a.pos + 1
    ), '{}'::text[]);
end
$$;
