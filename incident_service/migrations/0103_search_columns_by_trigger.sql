-- The search columns (0085, 0093) were generated columns, which PostgreSQL 15 computes
-- again on every UPDATE of the row, whatever it changed: each acknowledge or status change
-- of an incident re-parsed its title and description twice (the lexemes, then their pairs).
-- They become plain columns kept by triggers that run only when their text is written,
-- and parse it once for both. A timeline entry without a note (most of them: status
-- changes, actions' transitions) keeps NULL, which no search matches, instead of an empty
-- vector. DROP EXPRESSION keeps every stored value: no table is rewritten.
-- depends: 0102_search_pairs_plpgsql

alter table incidents alter column search_tsv drop expression;
alter table incidents alter column search_pairs drop expression;
alter table incident_timeline alter column search_tsv drop expression;
alter table incident_timeline alter column search_pairs drop expression;
alter table alerts alter column search_tsv drop expression;
alter table alerts alter column search_pairs drop expression;
alter table postmortems alter column search_tsv drop expression;
alter table postmortems alter column search_pairs drop expression;

-- One function for the four tables: each branch is planned only when its table's row
-- comes, so a branch may name columns the other tables lack.
create function search_columns() returns trigger language plpgsql as $$
begin
    if tg_table_name = 'incidents' then
        new.search_tsv := setweight(to_tsvector('english', new.title), 'A')
            || setweight(to_tsvector('english', left(new.description, 100000)), 'B');
    elsif tg_table_name = 'incident_timeline' then
        new.search_tsv := setweight(to_tsvector('english', left(new.note, 100000)), 'B');
    elsif tg_table_name = 'alerts' then
        new.search_tsv := setweight(to_tsvector('english', left(new.summary, 100000)), 'B')
            || setweight(to_tsvector('english', coalesce(new.source, '')), 'D');
    else
        new.search_tsv := setweight(to_tsvector('english', left(new.markdown, 100000)), 'C');
    end if;
    new.search_pairs := search_adjacent_pairs(new.search_tsv);  -- strict: NULL stays NULL
    return new;
end
$$;

create trigger search_columns before insert or update of title, description
    on incidents for each row execute function search_columns();
create trigger search_columns before insert or update of note
    on incident_timeline for each row execute function search_columns();
create trigger search_columns before insert or update of summary, source
    on alerts for each row execute function search_columns();
create trigger search_columns before insert or update of markdown
    on postmortems for each row execute function search_columns();
