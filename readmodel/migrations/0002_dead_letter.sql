-- The sink's dead letters, recorded in the same transaction as the partition's offset
-- (sink/deadletters.py). A record is recorded at most once: its letter is written with
-- the offset that moves past it, and (topic, partition, offset) is the key. After the
-- commit the sink claims recorded letters ('sending'), sends them to <prefix>.deadletters
-- and marks them 'sent'. A letter claimed by a sink that died before marking it is
-- 'in_doubt': it may or may not be on the topic, and is never sent again on its own.
create table dead_letter (
    source_topic  text not null,
    "partition"   integer not null,
    "offset"      bigint not null,
    reason        text not null,
    message       text not null,
    key           bytea,
    value         bytea,
    failed_at     timestamptz not null,
    state         text not null default 'recorded'
                  check (state in ('recorded', 'sending', 'sent', 'in_doubt')),
    claimed_by    integer,                -- pg_backend_pid() of the claiming connection
    sent_at       timestamptz,
    primary key (source_topic, "partition", "offset")
);
create index dead_letter_unsent on dead_letter (failed_at) where state <> 'sent';
