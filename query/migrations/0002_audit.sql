-- Who read what the public does not see: one row per answered read by a bank, department
-- or admin key (query/audit.py). In the schema `access`, so a rebuild of the read model
-- keeps it; rows older than the retention (ZJCREDIT_AUDIT_RETENTION_DAYS) are pruned.

create table audit (
    at       timestamptz not null,
    key_id   text not null,          -- the public part of the key (`zjcredit keys list`)
    role     text not null check (role in ('bank', 'department', 'admin')),
    route    text not null,          -- the route's template, e.g. /v1/enterprises/{uscc}
    uscc     text                    -- the enterprise read, as asked (normalised)
);

create index audit_key_at on audit (key_id, at desc);
create index audit_uscc_at on audit (uscc, at desc);
create index audit_at on audit (at);
