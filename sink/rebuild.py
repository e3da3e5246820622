"""``zjcredit sink rebuild``: drop the read model and write it again from the topics.

The whole of it, in order (one function, :func:`rebuild`, which the command and the sink
bench both run):

1. refuse while a sink runs against the database (a running sink holds
   :data:`~sink.service.SINK_LOCK` shared);
2. drop the schema ``credit`` (tables, stored offsets, letters), apply the migrations,
   and drop the secondary indexes, recorded to be built at the end (:mod:`sink.indexes`);
3. consume every topic the sink reads from the beginning, in a consumer group of its own,
   until each partition reaches the end it had when the rebuild started, writing as the
   sink does (each partition's batch and its next offset in one transaction, the same
   dead letters, the same change rows) but for one thing: a profile of an enterprise
   with no row yet is copied straight into the tables (``SinkOptions.bulk``);
4. build the secondary indexes again.

Then ``zjcredit sink`` continues from the offsets stored. Killed or stopped anywhere,
the rebuild leaves a read model whose rows match its stored offsets: a second rebuild
starts over; ``zjcredit sink`` goes on from there (building first any index step 4 did
not).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

import asyncpg

from readmodel.migrate import drop, migrate
from sink.errors import SinkRunningError
from sink.indexes import build_deferred, defer_indexes
from sink.metrics import SinkMetrics
from sink.service import SINK_LOCK, Sink, SinkOptions, Totals

__all__ = ["BATCH", "DECODE_WORKERS", "POLL", "Rebuild", "rebuild_options"]

BATCH = 2_500  # records per transaction (raw COPY reaches its rate at about this size)
POLL = 50_000  # records per poll, all partitions together
# Processes decoding while the main one writes (``zjcredit sink rebuild --decode-workers``):
# decoding a profile costs a process more than PostgreSQL's writing it.
DECODE_WORKERS = 2


def rebuild_options(options: SinkOptions) -> SinkOptions:
    """``options`` for a rebuild: a consumer group of its own, stop when caught up, the
    bulk writes, and (unless ``options`` sets them) bigger polls cut into batches of
    :data:`BATCH` records, polled again while two per decoding process are left to write,
    so that decoding the next batches overlaps writing this one."""
    return replace(
        options,
        group=f"{options.topic_prefix}.sink-rebuild-{uuid.uuid4().hex[:8]}",
        until_caught_up=True,
        bulk=True,
        max_records=max(options.max_records, POLL),
        max_batch=options.max_batch or BATCH,
        ahead=max(options.ahead, 2 * options.decode_workers),
    )


async def _reset(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        if not await conn.fetchval("select pg_try_advisory_lock($1)", SINK_LOCK):
            raise SinkRunningError("a sink is running against this database: stop it first")
        await drop(conn)
        await migrate(conn)
        await defer_indexes(conn)
        await conn.execute("select pg_advisory_unlock($1)", SINK_LOCK)
    finally:
        await conn.close()


class Rebuild:
    """One rebuild. ``await Rebuild(options).run()``; ``sink.stop()`` ends it early (the
    read model is then partial, with its offsets: ``zjcredit sink`` or a second rebuild
    goes on from there or starts over)."""

    def __init__(
        self,
        options: SinkOptions,
        metrics: SinkMetrics | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.options = rebuild_options(options)
        self.sink = Sink(self.options, metrics=metrics, say=say)
        self.say = self.sink.say

    async def run(self) -> Totals:
        await _reset(self.options.database_url)
        self.say("read model dropped and recreated; consuming every topic from the beginning")
        totals = await self.sink.run()
        if not self.sink.caught_up:
            self.say("stopped before the end: `zjcredit sink` goes on from here (or rebuild again)")
            return totals
        conn = await asyncpg.connect(self.options.database_url)
        try:
            await build_deferred(conn, self.say)
        finally:
            await conn.close()
        return totals
