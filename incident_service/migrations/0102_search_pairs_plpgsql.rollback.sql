create or replace function search_adjacent_pairs(v tsvector) returns text[]
language sql immutable strict parallel safe as $$
    select coalesce(array_agg(distinct left(a.lexeme, 100) || ' ' || left(b.lexeme, 100)), '{}')
    from (select lexeme, unnest(positions) as pos from unnest(v)) as a
    join (select lexeme, unnest(positions) as pos from unnest(v)) as b on b.pos = a.pos + 1
$$;
