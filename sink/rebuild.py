"""``zjcredit sink rebuild``: drop the read model and write it again from the topics.

The whole of it, in order (one function, :func:`rebuild`, which the command and the sink
bench both run):

1. refuse while a sink runs against the database (a running sink holds
   :data:`~sink.service.SINK_LOCK` shared);
2. drop the schema ``credit`` (tables, stored offsets, letters) and apply the migrations;
3. consume every topic the sink reads from the beginning, in a consumer group of its own,
   until each partition reaches the end it had when the rebuild started; then
   ``zjcredit sink`` continues from the offsets stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

import asyncpg

from readmodel.migrate import drop, migrate
from sink.errors import SinkRunningError
from sink.metrics import SinkMetrics
from sink.service import SINK_LOCK, Sink, SinkOptions, Totals

__all__ = ["Rebuild", "rebuild_options"]


def rebuild_options(options: SinkOptions) -> SinkOptions:
    """``options`` for a rebuild: a consumer group of its own, stop when caught up."""
    return replace(
        options,
        group=f"{options.topic_prefix}.sink-rebuild-{uuid.uuid4().hex[:8]}",
        until_caught_up=True,
    )


async def _reset(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        if not await conn.fetchval("select pg_try_advisory_lock($1)", SINK_LOCK):
            raise SinkRunningError("a sink is running against this database: stop it first")
        await drop(conn)
        await migrate(conn)
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
        return await self.sink.run()
