"""Batches of partitions -> one PostgreSQL transaction: their rows and next offsets.

Rows go in by ``COPY`` into temporary tables, then one ``INSERT ... SELECT ... ON
CONFLICT`` per table, so a batch costs a handful of statements whatever its size:

- profiles: upserted only where the incoming ``version`` is newer than the stored one;
  the children (listings, measures, tax grades, trademarks) of exactly those enterprises
  are replaced;
- notices: inserted once per ``notice_id`` (a replayed notice is the same notice); an
  ``IMPOSED`` notice turns ``lifted`` when its listing's ``LIFTED`` notice is stored;
- events: inserted once per ``event_id``;
- changes (the change feed, :mod:`sink.changes`): the stored row of each enterprise is
  read (and locked) before its upsert and compared with the row written; each notice
  stored for the first time is one change; a ``NOTIFY zjcredit_changes`` at commit wakes
  the query service's live streams;

and in the same transaction the batches' dead letters are recorded
(:mod:`sink.deadletters`) and ``sink_offset`` gets each partition's next offset, which
is where the sink resumes (BRIEF principle 4). The sink writes everything one poll
fetched, over all its partitions, in one transaction: a live poll brings a few records
for each of dozens of partitions, and a transaction per partition was most of the
sink's time and of the end-to-end freshness.

In a rebuild (``sink rebuild``) the profiles come as COPY text lines (:mod:`sink.bulk`),
and those of enterprises with no row yet are copied straight into the tables
(:func:`_write_copies`); everything else is written as above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from readmodel import rows as r
from readmodel.migrate import SCHEMA
from sink.bulk import TABLES as COPY_TABLES
from sink.bulk import CopyProfile
from sink.changes import Change, Snapshot, notice_change, profile_changes
from sink.deadletters import RECORD, LetterRow

__all__ = ["STORE_OFFSET", "Batch", "merged", "prepare", "write_batch", "write_batches"]

_CHILDREN = {
    "listing": r.LISTING,
    "penalty_measure": r.PENALTY_MEASURE,
    "tax_grade": r.TAX_GRADE,
    "trademark": r.TRADEMARK,
}
_TEMP = {
    "enterprise": r.ENTERPRISE,
    **_CHILDREN,
    "notice": r.NOTICE,
    "notice_measure": r.NOTICE_MEASURE,
    "event": r.EVENT,
}


@dataclass
class Batch:
    """The rows one partition's batch produced, its dead letters, and where the
    partition resumes."""

    topic: str
    partition: int
    next_offset: int
    profiles: list[r.ProfileRows] = field(default_factory=list)
    notices: list[r.Row] = field(default_factory=list)
    notice_measures: list[r.Row] = field(default_factory=list)
    events: list[r.Row] = field(default_factory=list)
    letters: list[LetterRow] = field(default_factory=list)
    copies: list[CopyProfile] = field(default_factory=list)  # profiles, in a rebuild

    def row_count(self) -> int:
        return len(self.profiles) + len(self.copies) + len(self.notices) + len(self.events)


async def prepare(conn: asyncpg.Connection) -> None:
    """Create this connection's temporary tables (emptied at every commit)."""
    for table in _TEMP:
        await conn.execute(
            f"create temp table if not exists tmp_{table} "
            f"(like {SCHEMA}.{table} including defaults) on commit delete rows"
        )


def _cols(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


_UPSERT_ENTERPRISE = f"""
insert into {SCHEMA}.enterprise ({_cols(r.ENTERPRISE)})
select {_cols(r.ENTERPRISE[:-1])}, {SCHEMA}.profile_v2(profile) from tmp_enterprise
on conflict (uscc) do update set
    {", ".join(f'"{c}" = excluded."{c}"' for c in r.ENTERPRISE[1:])},
    committed_at = clock_timestamp()
where {SCHEMA}.enterprise.version < excluded.version
returning uscc
"""
_INSERT_NOTICES = f"""
insert into {SCHEMA}.notice ({_cols(r.NOTICE)}) select {_cols(r.NOTICE)} from tmp_notice
on conflict (notice_id) do nothing
returning notice_id, kind, uscc, sector, decision_no, listing_department, sectors, reason,
          reported_at
"""
# "for update": a second sink on the same partition (a rebalance's overlap) waits here,
# then compares with what the first one wrote, so a change is not recorded twice.
_STORED = f"""
select uscc, grade, score, tax_grade, credit_eligible from {SCHEMA}.enterprise
where uscc = any($1::text[]) for update
"""
_INSERT_CHANGE = f"""
insert into {SCHEMA}.change (uscc, kind, before, after, detail, reported_at)
values ($1, $2, $3::jsonb, $4::jsonb, $5::jsonb, $6)
"""
_INSERT_NOTICE_MEASURES = f"""
insert into {SCHEMA}.notice_measure ({_cols(r.NOTICE_MEASURE)})
select {_cols(r.NOTICE_MEASURE)} from tmp_notice_measure on conflict do nothing
"""
_LIFT = f"""
update {SCHEMA}.notice i set status = 'lifted', lifted_at = l.effective_at
from {SCHEMA}.notice l
where i.uscc = any($1::text[]) and i.kind = 'IMPOSED' and i.status = 'active'
  and l.kind = 'LIFTED' and l.uscc = i.uscc and l.sector = i.sector
  and l.decision_no = i.decision_no and l.listed_on is not distinct from i.listed_on
"""
_INSERT_EVENTS = f"""
insert into {SCHEMA}.event ({_cols(r.EVENT)}) select {_cols(r.EVENT)} from tmp_event
on conflict (event_id) do nothing
"""
STORE_OFFSET = f"""
insert into {SCHEMA}.sink_offset (topic, "partition", next_offset) values ($1, $2, $3)
on conflict (topic, "partition") do update set next_offset = excluded.next_offset
"""


async def _copy(conn: asyncpg.Connection, table: str, records: list[r.Row]) -> None:
    # Emptied first: a record written alone in a savepoint (after a refused batch) must
    # not carry every earlier record of the transaction along with it.
    await conn.execute(f"truncate tmp_{table}")
    if records:
        await conn.copy_records_to_table(f"tmp_{table}", records=records, columns=_TEMP[table])


_AT = {c: i for i, c in enumerate(r.ENTERPRISE)}


def _snapshot(row: r.Row) -> Snapshot:
    """The change-relevant fields of an enterprise row about to be written."""
    return Snapshot(row[_AT["grade"]], row[_AT["score"]], row[_AT["tax_grade"]],
                    row[_AT["credit_eligible"]])  # fmt: skip


async def _write_profiles(conn: asyncpg.Connection, profiles: list[r.ProfileRows],
                          changes: list[Change]) -> int:  # fmt: skip
    newest: dict[str, r.ProfileRows] = {}
    for p in profiles:  # one row per enterprise: the highest version in the batch
        old = newest.get(p.enterprise[0])
        if old is None or old.enterprise[16] < p.enterprise[16]:
            newest[p.enterprise[0]] = p
    stored = {
        row["uscc"]: Snapshot(row["grade"], row["score"], row["tax_grade"], row["credit_eligible"])
        for row in await conn.fetch(_STORED, list(newest))
    }
    await _copy(conn, "enterprise", [p.enterprise for p in newest.values()])
    changed = [row[0] for row in await conn.fetch(_UPSERT_ENTERPRISE)]
    if not changed:
        return 0
    keep = set(changed)
    chosen = [p for uscc, p in newest.items() if uscc in keep]
    for p in chosen:
        row = p.enterprise
        changes += profile_changes(row[0], stored.get(row[0]), _snapshot(row),
                                   row[_AT["last_reported_at"]])  # fmt: skip
    children = {
        "listing": [x for p in chosen for x in p.listings],
        "penalty_measure": [x for p in chosen for x in p.measures],
        "tax_grade": [x for p in chosen for x in p.tax_grades],
        "trademark": [x for p in chosen for x in p.trademarks],
    }
    for table, records in children.items():
        await conn.execute(f"delete from {SCHEMA}.{table} where uscc = any($1::text[])", changed)
        if records:
            await conn.copy_records_to_table(
                table, schema_name=SCHEMA, records=records, columns=_CHILDREN[table]
            )
    return len(changed)


def merged(batches: Sequence[Batch]) -> Batch:
    """The rows and letters of ``batches`` as one batch (its topic, partition and offset
    are meaningless: each batch's own offset is stored)."""
    if len(batches) == 1:
        return batches[0]
    out = Batch("", -1, -1)
    for b in batches:
        out.profiles += b.profiles
        out.notices += b.notices
        out.notice_measures += b.notice_measures
        out.events += b.events
        out.letters += b.letters
        out.copies += b.copies
    return out


async def _copy_text(conn: asyncpg.Connection, table: str, lines: list[bytes],
                     schema: str | None = SCHEMA) -> None:  # fmt: skip
    data = b"".join(lines)
    if data:
        columns = _TEMP[table.removeprefix("tmp_")]
        # A memoryview: asyncpg would take bytes for a file name.
        await conn.copy_to_table(table, schema_name=schema, source=memoryview(data),
                                 format="text", columns=columns)  # fmt: skip


async def _write_copies(conn: asyncpg.Connection, copies: list[CopyProfile],
                        changes: list[Change]) -> int:  # fmt: skip
    """A rebuild's profiles: as :func:`_write_profiles`, but an enterprise with no row yet
    (the read model started empty) is copied straight into the tables, not upserted: it
    has no children to replace and no change to record (it changed from nothing). The
    rest (a version after one stored by an earlier batch, a v1 profile that needs
    ``profile_v2``) takes the upsert, exactly as in the live sink."""
    newest: dict[str, CopyProfile] = {}
    for p in copies:  # one row per enterprise: the highest version in the batch
        old = newest.get(p.uscc)
        if old is None or old.version < p.version:
            newest[p.uscc] = p
    stored = {
        row["uscc"]: Snapshot(row["grade"], row["score"], row["tax_grade"], row["credit_eligible"])
        for row in await conn.fetch(_STORED, list(newest))
    }
    fresh = [p for p in newest.values() if p.uscc not in stored and not p.upgrade]
    others = [p for p in newest.values() if p.uscc in stored or p.upgrade]
    await _copy_text(conn, "enterprise", [p.lines[0] for p in fresh])
    changed: list[str] = []
    if others:
        await conn.execute("truncate tmp_enterprise")
        await _copy_text(conn, "tmp_enterprise", [p.lines[0] for p in others], schema=None)
        changed = [row[0] for row in await conn.fetch(_UPSERT_ENTERPRISE)]
    keep = set(changed)
    replaced = [p for p in others if p.uscc in keep]
    for p in replaced:
        changes += profile_changes(p.uscc, stored.get(p.uscc), p.snapshot, p.reported_at)
    chosen = fresh + replaced
    for i, table in enumerate(COPY_TABLES[1:], start=1):
        if changed:
            await conn.execute(
                f"delete from {SCHEMA}.{table} where uscc = any($1::text[])", changed
            )
        await _copy_text(conn, table, [p.lines[i] for p in chosen])
    return len(chosen)


async def write_batch(
    conn: asyncpg.Connection, batch: Batch, *, store_offset: bool = True
) -> dict[str, int]:
    """Write ``batch`` and its next offset in one transaction; rows written per table.

    ``store_offset=False`` writes the rows only (a record written alone, in a savepoint,
    when PostgreSQL refused the batch).
    """
    return await write_batches(conn, [batch], store_offset=store_offset)


async def write_batches(
    conn: asyncpg.Connection, batches: Sequence[Batch], *, store_offset: bool = True
) -> dict[str, int]:
    """Write ``batches`` (of distinct partitions) and each one's next offset in one
    transaction; rows written per table."""
    batch = merged(batches)
    written = {"enterprise": 0, "notice": 0, "event": 0}
    changes: list[Change] = []
    async with conn.transaction():
        if batch.profiles:
            written["enterprise"] = await _write_profiles(conn, batch.profiles, changes)
        if batch.copies:
            written["enterprise"] += await _write_copies(conn, batch.copies, changes)
        if batch.notices:
            await _copy(conn, "notice", batch.notices)
            await _copy(conn, "notice_measure", batch.notice_measures)
            stored = await conn.fetch(_INSERT_NOTICES)
            written["notice"] = len(stored)
            changes += [notice_change(dict(n)) for n in stored]
            await conn.execute(_INSERT_NOTICE_MEASURES)
            await conn.execute(_LIFT, sorted({n[2] for n in batch.notices}))
        if batch.events:
            await _copy(conn, "event", batch.events)
            status = await conn.execute(_INSERT_EVENTS)
            written["event"] = int(status.split()[-1])
        if batch.letters:
            await conn.executemany(RECORD, batch.letters)
        if changes:
            await conn.executemany(_INSERT_CHANGE, [_change_row(c) for c in changes])
            await conn.execute("select pg_notify($1, '')", r.CHANGES_CHANNEL)
        if store_offset:
            await conn.executemany(
                STORE_OFFSET, [(b.topic, b.partition, b.next_offset) for b in batches]
            )
    return written


def _change_row(c: Change) -> tuple[object, ...]:
    def jsonb(value: object) -> str | None:  # SQL null for none, not a jsonb 'null'
        return r.to_json(value) if value is not None else None

    return (c.uscc, c.kind, jsonb(c.before), jsonb(c.after), jsonb(c.detail), c.reported_at)
