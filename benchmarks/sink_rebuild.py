"""``zjcredit bench sink --rebuild-profiles N``: ``zjcredit sink rebuild`` beside raw COPY.

In the sink bench's run, on its broker and PostgreSQL server, in a scratch database of
its own:

- **fill** (untimed): fresh topics (every one the sink reads; only the profiles topic
  holds records) get N final profiles, cloned from the bench's folded province: the
  i-th clone is profile ``i mod len(province)`` under the i-th credit code of
  :func:`benchmarks.worker_scale.credit_code` and, past the first round, a name of its
  own, spliced into its Avro frame (:class:`_Clones`);
- **rebuild**: :class:`sink.rebuild.Rebuild`, the code ``zjcredit sink rebuild`` runs,
  timed from its first batch to the read model complete (every partition caught up,
  and whatever the rebuild does after its last batch);
- **raw COPY**: the very same rows (enterprise + children; the same cloning applied to
  the rows of the province's profiles, checked against decoding the clones' frames on
  a sample) copied into the same tables, freshly dropped and migrated, in transactions
  of 2,500 rows (row building not timed);

alternating, twice each, best of each. Printed as ``sink rebuild profiles=N
rebuild_rows_s=... copy_rows_s=... ratio=x.xx goal=0.85``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

import asyncpg

from base.settings import Settings
from benchmarks.harness import BenchError
from benchmarks.worker_scale import credit_code
from readmodel import rows as r
from readmodel.migrate import SCHEMA, drop, migrate
from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from schemas.topics import create_topics, project_topics
from sink.metrics import SinkMetrics
from sink.rebuild import DECODE_WORKERS, Rebuild
from sink.service import SinkOptions

__all__ = [
    "GOAL_REBUILD",
    "RebuildBench",
    "Timing",
    "copy_rows",
    "reset_read_model",
    "run_rebuild_bench",
    "table_rows",
]

GOAL_REBUILD = 0.85
Say = Callable[[str], None]
_BATCH = 2_500  # rows per raw COPY transaction, as the sink bench's raw COPY
_CHECK_EVERY = 997  # clones decoded from their frames to check the cloned rows
_TABLES = {
    "enterprise": r.ENTERPRISE,
    "listing": r.LISTING,
    "penalty_measure": r.PENALTY_MEASURE,
    "tax_grade": r.TAX_GRADE,
    "trademark": r.TRADEMARK,
}


@dataclass(frozen=True)
class RebuildBench:
    profiles: int
    rebuild_rate: float
    copy_rate: float

    @property
    def ratio(self) -> float:
        return self.rebuild_rate / self.copy_rate

    def line(self) -> str:
        return (f"sink rebuild profiles={self.profiles} "
                f"rebuild_rows_s={self.rebuild_rate:.0f} copy_rows_s={self.copy_rate:.0f} "
                f"ratio={self.ratio:.2f} goal={GOAL_REBUILD:.2f}")  # fmt: skip


class Timing(SinkMetrics):
    """Sink metrics that also note when the first batch started and the last one ended."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry  # noqa: PLC0415

        super().__init__(CollectorRegistry())
        self.first: float | None = None
        self.last = 0.0

    def on_batch(self, written: object, records: int, seconds: float, freshness: object) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now - seconds
        self.last = now
        super().on_batch(written, records, seconds, freshness)  # type: ignore[arg-type]


# Two-character name prefixes of the clones after the first round (so that every
# enterprise name of a million is distinct, as the name's trigram index would meet them).
_POOL = "东南西北中新华兴盛达宏远嘉德丰泰恒通福安"


def _renamable(name: object) -> str | None:
    """``name`` if its first two characters take 3 bytes each in UTF-8 (CJK), else None."""
    if isinstance(name, str) and len(name) >= 2 and all(len(c.encode()) == 3 for c in name[:2]):
        return name
    return None


class _Clones:
    """The i-th clone of the province's profile ``i mod len(frames)``, in round ``i div
    len(frames)``: the i-th credit code of :func:`benchmarks.worker_scale.credit_code` in
    place of its own, and from round 1 on its name's first two characters replaced (a
    name of two CJK characters or more; same byte length, so the Avro frame is spliced)."""

    def __init__(self, codec: Codec, frames: list[tuple[bytes, bytes]], count: int) -> None:
        self.frames, self.count = frames, count
        self.base = [r.profile_rows(codec.decode(value)[0]) for _, value in frames]
        self.names = [_renamable(rows.enterprise[1]) for rows in self.base]

    def _names(self, i: int) -> tuple[str, str] | None:
        name, round_ = self.names[i % len(self.frames)], i // len(self.frames)
        if name is None or round_ == 0:
            return None
        prefix = _POOL[round_ // len(_POOL) % len(_POOL)] + _POOL[round_ % len(_POOL)]
        return name, prefix + name[2:]

    def frame(self, i: int) -> tuple[bytes, bytes]:
        """``(key, frame)`` of clone ``i``."""
        key, frame = self.frames[i % len(self.frames)]
        code = credit_code(i)[0].encode()
        frame = frame.replace(key, code)
        if names := self._names(i):
            frame = frame.replace(names[0].encode(), names[1].encode())
        return code, frame

    def rows(self, start: int, stop: int) -> list[r.ProfileRows]:
        """The rows of clones ``start`` to ``stop`` (before ``count``)."""
        out = []
        for i in range(start, min(stop, self.count)):
            rows = self.base[i % len(self.base)]
            old, new = rows.enterprise[0], credit_code(i)[0]
            e = list(rows.enterprise)
            e[0], e[-1] = new, e[-1].replace(f'"{old}"', f'"{new}"')
            if names := self._names(i):
                e[1], e[-1] = names[1], e[-1].replace(f'"{names[0]}"', f'"{names[1]}"')
            out.append(r.ProfileRows(
                tuple(e),
                [(new, *x[1:]) for x in rows.listings],
                [(new, *x[1:]) for x in rows.measures],
                [(new, *x[1:]) for x in rows.tax_grades],
                [(new, *x[1:]) for x in rows.trademarks],
            ))  # fmt: skip
        return out

    def check(self, codec: Codec) -> None:
        """The cloned rows are what the sink builds from the cloned frames (on a sample)."""
        for i in range(0, self.count, _CHECK_EVERY):
            built = r.profile_rows(codec.decode(self.frame(i)[1])[0])
            if built != self.rows(i, i + 1)[0]:
                raise BenchError(f"clone {i}: its rows are not the rows of its frame")


def _fill(bootstrap: str, topic: str, clones: _Clones, say: Say) -> None:
    from kafka import KafkaProducer  # noqa: PLC0415

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             compression_type="lz4", batch_size=512 * 1024)  # fmt: skip
    shown = time.monotonic()
    count = clones.count
    for i in range(count):
        key, value = clones.frame(i)
        producer.send(topic, key=key, value=value)
        if time.monotonic() - shown > 15:
            shown = time.monotonic()
            say(f"  sent {i:,} of {count:,} profiles")
    producer.flush()
    producer.close()


async def reset_read_model(database_url: str) -> None:
    """Drop the scratch database's read model and migrate it again (empty tables)."""
    conn = await asyncpg.connect(database_url)
    try:
        await drop(conn)
        await migrate(conn)
    finally:
        await conn.close()


async def _time_rebuild(bootstrap: str, database_url: str, prefix: str, expected: int) -> float:
    timing = Timing()
    options = SinkOptions(bootstrap, database_url, prefix, decode_workers=DECODE_WORKERS)
    job = Rebuild(options, metrics=timing, say=lambda _: None)  # as `zjcredit sink rebuild`
    totals = await job.run()
    done = time.perf_counter()
    if totals.rows["enterprise"] != expected or timing.first is None:
        raise BenchError(f"the rebuild wrote {totals.rows['enterprise']} of {expected} profiles")
    return expected / (done - timing.first)


def table_rows(profiles: list[r.ProfileRows]) -> dict[str, list[r.Row]]:
    """The rows of ``profiles`` per table, as raw COPY writes them."""
    return {
        "enterprise": [p.enterprise for p in profiles],
        "listing": [x for p in profiles for x in p.listings],
        "penalty_measure": [x for p in profiles for x in p.measures],
        "tax_grade": [x for p in profiles for x in p.tax_grades],
        "trademark": [x for p in profiles for x in p.trademarks],
    }


async def copy_rows(conn: asyncpg.Connection, parts: dict[str, list[r.Row]]) -> None:
    """Raw COPY of ``parts`` (:func:`table_rows`) in one transaction: the raw limit."""
    async with conn.transaction():
        for table, records in parts.items():
            if records:
                await conn.copy_records_to_table(
                    table, schema_name=SCHEMA, records=records, columns=_TABLES[table]
                )


async def _time_copy(database_url: str, clones: _Clones) -> float:
    await reset_read_model(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        took = 0.0
        for start in range(0, clones.count, _BATCH):
            parts = table_rows(clones.rows(start, start + _BATCH))  # not timed
            started = time.perf_counter()
            await copy_rows(conn, parts)
            took += time.perf_counter() - started
        return clones.count / took
    finally:
        await conn.close()


def run_rebuild_bench(settings: Settings, bootstrap: str, database_url: str,
                      frames: list[tuple[bytes, bytes]], *, count: int,
                      say: Say = print) -> RebuildBench:  # fmt: skip
    """Fill a profiles topic with ``count`` clones of ``frames``; time the rebuild of a
    read model from it beside raw COPY of its rows, in ``database_url`` (a scratch one)."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, project_topics(replace(settings, topic_prefix=prefix)))
    codec = Codec(ManifestRegistry.load())
    clones = _Clones(codec, frames, count)
    clones.check(codec)
    say(f"rebuild: sending {count:,} profiles to {prefix}.profiles ...")
    _fill(bootstrap, f"{prefix}.profiles", clones, say)
    rebuild_rates, copy_rates = [], []
    for round_ in (1, 2):
        rate = asyncio.run(_time_rebuild(bootstrap, database_url, prefix, count))
        rebuild_rates.append(rate)
        say(f"round {round_}: sink rebuild {rate:,.0f} rows/s")
        rate = asyncio.run(_time_copy(database_url, clones))
        copy_rates.append(rate)
        say(f"round {round_}: raw COPY     {rate:,.0f} rows/s")
    return RebuildBench(count, max(rebuild_rates), max(copy_rates))
