"""The read model across the profile's v1 -> v2 upgrade, on a real PostgreSQL.

A v1 profile knows no patent: for an enterprise without patents, what the v2 worker
renders is what ``profile_v2`` (readmodel/migrations/0004_profile_v2.sql) derives from
the v1 profile. Both ways a v1 profile reaches the read model are checked against the
pure fold's v2 render of the same facts: rows an old sink stored (the migration upgrades
them, no rebuild), and v1 messages a new sink reads (it writes them through the function).
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from readmodel import rows as r
from readmodel.migrate import MIGRATIONS, SCHEMA, migrate
from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from sink.convert import convert
from sink.writer import prepare, write_batch
from tests.outputs import oracle
from tests.province import AS_OF, province

V1 = 5  # the manifest's id of credit_profile.v1
FIRMS = 300
codec = Codec(ManifestRegistry.load())


@pytest.fixture(scope="module")
def without_patents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The pure fold's v2 profiles of a province whose patent events are left out."""
    events = province(tmp_path_factory.mktemp("v2"), FIRMS, seed=5)
    everything = list(itertools.chain(*(e for s, e in events.items() if s != "patent")))
    profiles, _ = oracle(everything, AS_OF)
    assert sum(1 for p in profiles.values() if p["ip_pledge"]) > 10, "too few trademark holders"
    assert any(p["ip_pledge"] is None for p in profiles.values())
    return profiles


def v1_frame(profile: dict[str, Any]) -> bytes:
    return codec.encode_framed(codec.registry.by_id(V1), profile)


def canonical(profile: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(r.to_json(profile)))


async def stored(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(f"select uscc, profile from {SCHEMA}.enterprise")  # noqa: S608 - a constant
    return {row["uscc"]: json.loads(row["profile"]) for row in rows}


def differing(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]) -> list[str]:
    assert set(got) == set(want)
    return [f"{u}.{k}: {got[u].get(k)!r} != {v!r}" for u in sorted(want)
            for k, v in canonical(want[u]).items() if got[u].get(k) != v]  # fmt: skip


async def test_rows_an_old_sink_stored_are_migrated_forward_to_the_v2_render(
    database_url: str, without_patents: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    before_v2 = tmp_path / "migrations"
    before_v2.mkdir()
    for path in sorted(MIGRATIONS.glob("000[123]_*.sql")):
        shutil.copy(path, before_v2)
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn, folder=before_v2) == [
            "0001_read_model", "0002_dead_letter", "0003_changes"]  # fmt: skip
        # As a v1 sink wrote them: the decoded v1 message, without the fields it lacks.
        v1_fields = {f["name"] for f in codec.registry.by_id(V1).schema["fields"]}
        old_rows = [r.profile_rows({k: v for k, v in codec.decode(v1_frame(p))[0].items()
                                    if k in v1_fields}).enterprise
                    for p in without_patents.values()]  # fmt: skip
        await conn.copy_records_to_table("enterprise", schema_name=SCHEMA,
                                         columns=r.ENTERPRISE, records=old_rows)  # fmt: skip
        assert all("patents" not in p for p in (await stored(conn)).values())
        assert (await migrate(conn))[0] == "0004_profile_v2"  # and any later one
        assert differing(await stored(conn), without_patents) == []
    finally:
        await conn.close()


async def test_v1_messages_a_new_sink_reads_are_written_as_the_v2_render(
    database_url: str, without_patents: dict[str, dict[str, Any]]
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        await prepare(conn)
        records = [(offset, p["uscc"].encode(), v1_frame(p), 0)
                   for offset, p in enumerate(without_patents.values())]  # fmt: skip
        batch, skipped = convert("profiles", "t.profiles", 0, records)
        assert (skipped, batch.letters) == (0, [])
        await write_batch(conn, batch)
        assert differing(await stored(conn), without_patents) == []
        # And a v2 message is written as it is, patents and all.
        holder = {**next(iter(without_patents.values())), "version": 10**6}
        holder["patents"] = [{**_PATENT, "pledges": []}]
        holder["invention_patent_count"] = 1
        frame = codec.encode("profiles", holder)
        batch, _ = convert("profiles", "t.profiles", 0, [(len(records), b"k", frame, 0)])
        await write_batch(conn, batch)
        assert (await stored(conn))[holder["uscc"]] == canonical(holder)
    finally:
        await conn.close()


_PATENT = {
    "patent_no": "201710601862.3", "patent_kind": "INVENTION", "title": "一种方法",
    "application_date": AS_OF.replace(year=2017), "grant_date": None, "term_ends_on": None,
    "status": "IN_FORCE", "transferred_from": None, "transferred_to": None,
    "invalidation_decision_no": None, "partially_invalidated": False,
}  # fmt: skip
