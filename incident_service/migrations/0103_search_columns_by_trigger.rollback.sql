-- Back to generated columns (this rewrites the four tables). Dropping a column drops its
-- indexes, so both are made again with 0085's and 0093's names and expressions.
drop trigger if exists search_columns on incidents;
drop trigger if exists search_columns on incident_timeline;
drop trigger if exists search_columns on alerts;
drop trigger if exists search_columns on postmortems;
drop function if exists search_columns();

do $do$
declare
    t record;
begin
    for t in select * from (values
        ('incidents', $e$setweight(to_tsvector('english', title), 'A')
            || setweight(to_tsvector('english', left(description, 100000)), 'B')$e$),
        ('incident_timeline',
            $e$setweight(to_tsvector('english', left(coalesce(note, ''), 100000)), 'B')$e$),
        ('alerts', $e$setweight(to_tsvector('english', left(summary, 100000)), 'B')
            || setweight(to_tsvector('english', coalesce(source, '')), 'D')$e$),
        ('postmortems', $e$setweight(to_tsvector('english', left(markdown, 100000)), 'C')$e$)
    ) as v(name, expr) loop
        execute format('alter table %I drop column search_tsv, drop column search_pairs', t.name);
        execute format('alter table %I add column search_tsv tsvector'
            ' generated always as (%s) stored', t.name, t.expr);
        execute format('alter table %I add column search_pairs text[]'
            ' generated always as (search_adjacent_pairs(%s)) stored', t.name, t.expr);
        execute format('create index %I on %I using gin (search_tsv)', t.name || '_search_idx', t.name);
        execute format('create index %I on %I using gin (search_pairs)', t.name || '_pairs_idx', t.name);
        execute format('alter table %I alter column search_tsv set statistics 1000', t.name);
        execute format('alter table %I alter column search_pairs set statistics 1000', t.name);
    end loop;
end
$do$;
