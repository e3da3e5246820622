-- A department's key names its department (a catalog code: SAT, SAMR, ...): the HTTP
-- ingest (query/ingest.py) lets it send only the sources that department owns, and
-- records who sent what. Older department keys have none and cannot send.
alter table api_key add column department text;

-- One row per file or batch sent over HTTP: who, what, and what became of it. Kept with
-- the keys (schema `access`), across a rebuild of the read model.
create table ingest (
    at            timestamptz not null default now(),
    key_id        text not null,
    department    text not null,
    source        text not null,
    name          text,                 -- the file name the department gave, if any
    bytes         bigint not null,
    sha256        text not null,        -- of the body as received
    read          integer not null,
    sent          integer not null,
    acknowledged  integer not null,
    rejected      integer not null,
    error         text                  -- why publishing failed, if it did
);
create index ingest_key_at on ingest (key_id, at desc);
