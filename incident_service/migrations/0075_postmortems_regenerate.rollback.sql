-- Nothing to restore: post-mortems are regenerated from the record on demand.
select 1;
