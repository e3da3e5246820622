-- A key's watchlist: the credit codes whose changes GET /v1/changes returns to it
-- (query/watchlist.py). Kept with the keys (schema `access`), across a rebuild of the
-- read model; a code may be watched before the read model knows it.
create table watchlist (
    key_id    text not null,
    uscc      text not null,
    added_at  timestamptz not null default now(),
    primary key (key_id, uscc)
);
create index watchlist_uscc on watchlist (uscc);
