-- Secondary indexes `zjcredit sink rebuild` dropped to load its rows faster, recorded
-- (name, the CREATE INDEX that makes it again) in the transaction that dropped them and
-- deleted in the one that builds each again (sink/indexes.py). Empty but while a rebuild
-- loads: a rebuild stopped or killed before its end leaves its rows, and the next sink
-- to start builds those indexes before its first batch.
create table deferred_index (
    name        text primary key,
    definition  text not null
);
