-- What changed for an enterprise, as the sink wrote it: the change feed of the query
-- service (GET /v1/changes, query/changes.py). Written by the sink in the transaction
-- that wrote the profile or notice the change comes from (sink/changes.py decides what
-- is a change), so the feed and the tables never disagree.
--
-- Order and cursor: (txid, id). ``id`` alone would skip rows: two sink transactions take
-- ids 101 and 102, the one with 102 commits first, a reader moves past 102, then 101
-- commits behind it. A reader instead returns only rows whose transaction is older than
-- every transaction still running (txid < pg_snapshot_xmin(pg_current_snapshot())), in
-- (txid, id) order: no transaction can still commit a row before them.
create table change (
    txid         xid8 not null default pg_current_xact_id(),
    id           bigint generated always as identity,
    uscc         text not null,
    kind         text not null check (kind in ('grade', 'score_band', 'listed', 'lifted',
                                               'escalated', 'tax_grade', 'credit_line_refused')),
    before       jsonb,
    after        jsonb,
    detail       jsonb,
    reported_at  timestamptz not null,     -- when the department reported what caused it
    changed_at   timestamptz not null default clock_timestamp(),
    primary key (txid, id)
);
create index change_uscc on change (uscc, txid, id);
create index change_changed_at on change (changed_at);
