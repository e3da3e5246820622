-- The "Credit Zhejiang" read model: what the query service reads. Built by the sink from
-- the profiles, penalties and source topics; it can be dropped and rebuilt from them.

create extension if not exists pg_trgm;

-- One row per enterprise: the queried fields as columns, the whole profile as jsonb.
create table enterprise (
    uscc              text primary key,
    name              text,
    status            text not null,
    city_code         text,
    district_code     text,
    industry_section  text,
    size_class        text,
    established_on    date,
    zjtx_level        text,            -- 专精特新: level while active, else null
    tax_grade         text check (tax_grade in ('A', 'B', 'M', 'C', 'D')),
    score             integer not null check (score between 0 and 1000),
    grade             text not null check (grade in ('EXCELLENT', 'GOOD', 'FAIR', 'POOR')),
    credit_eligible   boolean,
    credit_amount     numeric(18, 2),
    listed_sectors    text[] not null default '{}',  -- key sectors with a listing in force
    rules_version     text not null,
    version           bigint not null,
    as_of             date not null,
    updated_at        timestamptz not null,
    last_reported_at  timestamptz not null,
    committed_at      timestamptz not null default clock_timestamp(),  -- when written, for freshness
    profile           jsonb not null
);
-- Name search on Chinese names: trigram GIN (the cluster's C.UTF-8 ctype keeps CJK
-- characters as word characters; tested in tests/integration/test_postgres_engine.py).
create index enterprise_name_trgm on enterprise using gin (name gin_trgm_ops);
create index enterprise_city on enterprise (city_code, uscc);
create index enterprise_grade on enterprise (grade, uscc);
create index enterprise_zjtx on enterprise (zjtx_level, uscc) where zjtx_level is not null;
create index enterprise_sectors on enterprise using gin (listed_sectors);

-- Key-sector listings, in force and ended.
create table listing (
    uscc            text not null,
    sector          text not null,
    decision_no     text not null,
    department      text not null,
    listed_on       date not null,
    planned_end_on  date,
    reason          text,
    in_force        boolean not null,
    ended_on        date,
    ground          text,
    primary key (uscc, sector, decision_no)
);
create index listing_sector on listing (sector, in_force, uscc);

-- Joint-penalty measures in force, per enterprise: a department's checklist.
create table penalty_measure (
    uscc          text not null,
    sector        text not null,
    decision_no   text not null,
    measure_code  text not null,
    measure       text not null,
    department    text not null,
    primary key (uscc, sector, decision_no, measure_code, department)
);
create index penalty_measure_department on penalty_measure (department, uscc);

-- Tax credit grades by year.
create table tax_grade (
    uscc              text not null,
    year              integer not null,
    grade             text not null check (grade in ('A', 'B', 'M', 'C', 'D')),
    score             numeric(5, 2),
    direct_judgement  boolean not null,
    repaired          boolean not null,
    primary key (uscc, year)
);

-- Trademarks (with their active pledges summed).
create table trademark (
    uscc             text not null,
    registration_no  text not null,
    mark_name        text,
    nice_class       integer,
    status           text not null,
    valid_until      date,
    well_known       boolean not null,
    pledges          integer not null,
    pledged_amount   numeric(18, 2) not null,
    primary key (uscc, registration_no)
);

-- Joint-penalty notices, as the worker published them. An IMPOSED notice's status turns
-- 'lifted' when the LIFTED notice of the same listing arrives.
create table notice (
    notice_id           text primary key,
    kind                text not null check (kind in ('IMPOSED', 'LIFTED', 'ESCALATED')),
    uscc                text not null,
    sector              text,
    decision_no         text,
    listing_department  text,
    listed_on           date,
    sectors             text[] not null,
    reason              text not null,
    effective_at        timestamptz not null,
    reported_at         timestamptz not null,
    source_event_id     text,
    status              text not null check (status in ('active', 'lifted', 'final')),
    lifted_at           timestamptz,
    measures            jsonb not null
);
create index notice_uscc on notice (uscc, effective_at);
create index notice_listing on notice (uscc, sector, decision_no, listed_on);

create table notice_measure (
    notice_id     text not null references notice (notice_id) on delete cascade,
    measure_code  text not null,
    department    text not null,
    primary key (notice_id, measure_code, department)
);
create index notice_measure_department on notice_measure (department, notice_id);

-- Every accepted input event: the history a department or an auditor reads.
create table event (
    event_id     uuid primary key,
    source       text not null,
    event_type   text not null,
    uscc         text not null,
    occurred_at  timestamptz not null,
    reported_at  timestamptz not null,
    payload      jsonb not null,
    topic        text not null,
    "partition"  integer not null,
    "offset"     bigint not null
);
create index event_uscc on event (uscc, reported_at desc, event_id);

-- The sink's own consumed offsets: stored with the rows, in the same transaction.
create table sink_offset (
    topic        text not null,
    "partition"  integer not null,
    next_offset  bigint not null,
    primary key (topic, "partition")
);
