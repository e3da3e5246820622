-- API keys of the query service. They live in the schema `access`, not in `credit`: the
-- read model can be dropped and rebuilt from Kafka, the keys cannot.

create table api_key (
    key_id      text primary key,            -- public part of the key, shown by `keys list`
    name        text not null,               -- who holds it ("Bank of Ningbo credit desk")
    role        text not null check (role in ('bank', 'department', 'admin')),
    key_sha256  bytea not null unique,       -- sha256 of the whole key; the key itself is never stored
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz
);
