"""The sink process: Kafka topics -> the PostgreSQL read model, exactly once.

It consumes (read_committed) the profiles and penalties topics, and the five source
topics for the event history, as one consumer group. Per partition, each fetched batch
becomes one PostgreSQL transaction holding its rows, its dead letters *and* the
partition's next offset (:mod:`sink.writer`). On every assignment the consumer seeks to
the offsets stored in PostgreSQL, never to Kafka's committed offsets: a crash anywhere
replays exactly what was not committed to the database.

Faults:

- PostgreSQL down or failing over (connection errors, class 08/57, serialization
  failures): consumption pauses, the batch is retried with exponential backoff (0.5 s to
  30 s), each attempt is logged and counted; nothing is dropped. A partition revoked
  meanwhile is left to its new owner.
- Nothing a record holds stops the sink. Each record meets one decision point: a
  tombstone, a value that does not decode, a frame of the wrong subject or rows that
  cannot be built become a dead letter in :func:`sink.convert.convert`; rows PostgreSQL
  refuses for their data (:data:`REFUSED`: class 22 data exception, 23 constraint, 54
  program limit, such as a key too large for its index) make the batch be written again
  record by record, each in a savepoint, and the refused record becomes a dead letter
  (``refused_<SQLSTATE>``). The rest of the batch and the offset commit. Reasons and the
  at-most-once protocol: :mod:`sink.deadletters`.
- Bad *input* events on the source topics: the worker has already dead-lettered them,
  so the sink skips them (counted) and the history holds what the worker folded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from readmodel.migrate import SCHEMA, migrate
from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from sink.convert import Converted, convert
from sink.deadletters import LetterRow, Outbox, letter_row, refused
from sink.indexes import build_deferred
from sink.metrics import SinkMetrics
from sink.writer import Batch, merged, prepare, write_batch, write_batches

__all__ = ["REFUSED", "RETRIABLE", "SINK_LOCK", "Sink", "SinkOptions", "Totals"]

log = logging.getLogger("zjcredit.sink")

RETRIABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,  # class 08
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, cannot connect now
    asyncpg.exceptions.TransactionRollbackError,  # class 40: serialization, deadlock
    asyncpg.exceptions.InterfaceError,  # the connection was closed under us
    asyncpg.exceptions.InternalClientError,  # a shutdown's FATAL read while idle, then a query
)
REFUSED: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DataError,  # class 22
    asyncpg.exceptions.IntegrityConstraintViolationError,  # class 23
    asyncpg.exceptions.ProgramLimitExceededError,  # class 54: e.g. an index row too large
)
SINK_LOCK = 0x7A6A_736B  # "zjsk": held by a running sink; rebuild needs it free


@dataclass(frozen=True)
class SinkOptions:
    """How a sink runs (``zjcredit sink`` flags).

    Attributes:
        bootstrap_servers: Kafka, ``host:port[,...]``.
        database_url: PostgreSQL (``DATABASE_URL``).
        topic_prefix: the project's topic prefix.
        group: consumer group (default ``<prefix>.sink``).
        max_records: most records fetched per poll (all partitions together); a live
            poll's batches are written in one transaction (``--max-records``).
        max_batch: most records of one partition per transaction (0: all it fetched);
            smaller batches let the decoding of the next overlap the writing of this one.
        ahead: poll again once at most this many batches are left to write (0: when all
            are written, in one transaction); more keeps the decoding processes busy while
            PostgreSQL writes (a rebuild: one transaction a batch).
        until_caught_up: stop once every partition reaches the end it had at start
            (``sink rebuild``); else run until stopped.
        decode_workers: processes decoding batches while PostgreSQL writes (0: inline).
        bulk: ``sink rebuild``'s writes: profiles decoded into COPY text lines
            (:mod:`sink.bulk`), those of enterprises with no row yet copied straight
            into the tables; the secondary indexes the rebuild deferred are left to it.
    """

    bootstrap_servers: str
    database_url: str
    topic_prefix: str
    group: str = ""
    max_records: int = 10_000
    max_batch: int = 0
    ahead: int = 0
    until_caught_up: bool = False
    decode_workers: int = 0
    bulk: bool = False
    # Every source's topic too, for the event history (a bad input event is the worker's
    # dead letter: skipped here).
    roles: tuple[str, ...] = ("profiles", "penalties", *SOURCES)

    @property
    def group_id(self) -> str:
        return self.group or f"{self.topic_prefix}.sink"


@dataclass
class Totals:
    """What a sink did so far: batches, rows written per table, skipped input events,
    dead letters sent, retries."""

    batches: int = 0
    rows: dict[str, int] = field(default_factory=lambda: {"enterprise": 0, "notice": 0, "event": 0})
    skipped: int = 0
    dead_letters: int = 0
    retries: int = 0


class _Seeker(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, position every partition at the offset stored in PostgreSQL."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.sink.forget(revoked)
        log.info("revoked %s", _names(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        # Only noted here: aiokafka calls this while a batch may be in flight on the
        # sink's one connection, and must not wait on PostgreSQL (session timeout).
        # The loop positions them before it handles anything of theirs.
        self.sink.to_position.update(assigned)


def _names(tps: Any) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(tps)) or "nothing"


class Sink:
    """One sink process. ``await Sink(options).run()``; ``stop()`` ends it after a batch.

    ``letters_every``: seconds between checks for dead letters to send besides those
    just recorded (re-queued by an operator, left by a stopped sink, in doubt).
    """

    letters_every = 30.0

    def __init__(
        self,
        options: SinkOptions,
        metrics: SinkMetrics | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self.metrics = metrics or SinkMetrics.default()
        self.say = say or log.info
        self.codec = Codec(ManifestRegistry.load())
        self.roles = {f"{options.topic_prefix}.{role}": role for role in options.roles}
        self.totals = Totals()
        self.caught_up = False  # with until_caught_up: every partition reached its end
        self._stop = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._end: dict[TopicPartition, int] = {}
        self._positions: dict[TopicPartition, int] = {}  # next offset stored, per partition
        # Where each assigned partition must continue: set when it is positioned at its
        # stored offset. A fetch from before that (aiokafka starts fetching as soon as a
        # partition is assigned, while we still read PostgreSQL) is dropped, not written.
        self._next: dict[TopicPartition, int] = {}
        self.to_position: set[TopicPartition] = set()  # assigned, not yet positioned
        self._pool: ProcessPoolExecutor | None = None
        self._outbox: Outbox | None = None
        self._letters_due = 0.0  # time.monotonic() of the next check for letters

    def stop(self) -> None:
        self._stop.set()

    # -- connections ------------------------------------------------------------------
    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            conn = await asyncpg.connect(self.options.database_url, timeout=10)
            try:
                await migrate(conn)
                await prepare(conn)
                # Holding this for the process's life tells `sink rebuild` we are running.
                await conn.execute("select pg_advisory_lock_shared($1)", SINK_LOCK)
                if not self.options.bulk:  # indexes a stopped rebuild left unbuilt
                    await build_deferred(conn, self.say)
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def seek_to_stored(self, assigned: Sequence[TopicPartition]) -> None:
        """Position ``assigned`` at their stored offsets (the beginning if none)."""
        consumer = self._consumer
        assert consumer is not None
        stored = await self._with_retries(
            lambda conn: conn.fetch(
                f'select topic, "partition", next_offset from {SCHEMA}.sink_offset '
                "where topic = any($1::text[])",
                sorted({tp.topic for tp in assigned}),
            )
        )
        offsets = {TopicPartition(t, p): o for t, p, o in stored}
        current = consumer.assignment()
        assigned = [tp for tp in assigned if tp in current]  # revoked meanwhile: skip
        for tp in assigned:
            if tp in offsets:
                consumer.seek(tp, offsets[tp])
            else:
                await consumer.seek_to_beginning(tp)
            self._next[tp] = offsets.get(tp, 0)
            self.to_position.discard(tp)
        self.say(f"assigned {_names(assigned)}: resuming from PostgreSQL's stored offsets")

    async def _with_retries(self, action: Callable[[asyncpg.Connection], Any]) -> Any:
        """Run ``action(conn)``; on a retriable failure pause, back off, reconnect, retry."""
        delay = 0.5
        paused = False
        try:
            while True:
                try:
                    result = await action(await self._connection())
                    self.metrics.set_database_up(True)
                    return result
                except RETRIABLE as error:
                    await self._drop_connection()
                    self.metrics.on_retry()
                    self.metrics.set_database_up(False)
                    self.totals.retries += 1
                    if not paused and self._consumer is not None:
                        self._consumer.pause(*self._consumer.assignment())
                        paused = True
                    log.warning(
                        "PostgreSQL unavailable (%s: %s); retrying in %.1f s",
                        type(error).__name__,
                        error,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            if paused and self._consumer is not None:
                self._consumer.resume(*self._consumer.assignment())

    # -- the loop ---------------------------------------------------------------------
    async def run(self) -> Totals:
        """Consume until stopped (or caught up, with ``until_caught_up``)."""
        o = self.options
        self._producer = AIOKafkaProducer(
            bootstrap_servers=o.bootstrap_servers, acks="all", enable_idempotence=True
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=o.bootstrap_servers,
            group_id=o.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
            # aiokafka keeps one fetch in flight per broker: while it long-polls the
            # partitions with nothing new (500 ms by default), records committed on the
            # others wait for it.
            fetch_max_wait_ms=100,
        )
        await self._with_retries(lambda conn: conn.fetchval("select 1"))
        if o.decode_workers > 0:
            self._pool = ProcessPoolExecutor(
                o.decode_workers, mp_context=mp.get_context("forkserver")
            )
        await self._producer.start()
        self._outbox = Outbox(
            self._producer,
            self.codec,
            f"{o.topic_prefix}.deadletters",
            on_sent=self.metrics.on_dead_letter,
            on_in_doubt=self.metrics.on_dead_letter_in_doubt,
        )
        await self._consumer.start()
        try:
            await self._publish_letters()  # those a stopped sink recorded and did not send
            self._consumer.subscribe(topics=sorted(self.roles), listener=_Seeker(self))
            if o.until_caught_up:
                await self._remember_ends()
            await self._loop()
        finally:
            await self._consumer.stop()
            await self._producer.stop()
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
            if self._conn is not None:
                await self._conn.close()
        return self.totals

    async def _loop(self) -> None:
        """Poll, decode, write, until stopped (after the batch in hand) or caught up.

        Every batch of a poll starts decoding at once (in the pool, while earlier ones are
        written; per partition batches are written in order). The next poll waits until
        at most ``ahead`` batches are left to write: 0 (the live sink) writes a whole poll
        in one transaction before the next, a rebuild keeps its decoding processes busy
        meanwhile.
        """
        o, consumer = self.options, self._consumer
        assert consumer is not None
        pending: deque[tuple[TopicPartition, Sequence[Any], asyncio.Future[Converted]]] = deque()
        try:
            while not self._stop.is_set():
                if self.to_position:
                    await self.seek_to_stored(sorted(self.to_position))
                if len(pending) <= o.ahead:
                    timeout = 0 if pending else 500  # writing is waiting: take what is there
                    fetched = await consumer.getmany(timeout_ms=timeout, max_records=o.max_records)
                    pending.extend((tp, recs, asyncio.ensure_future(self._convert(tp, recs)))
                                   for tp, recs in self._batches(fetched))  # fmt: skip
                if pending and not o.ahead:  # live: the whole poll in one transaction
                    polled = list(pending)
                    pending.clear()
                    await self._handle_all([(tp, recs, await job) for tp, recs, job in polled])
                elif pending:  # a rebuild: a transaction a batch, the next ones decoding
                    tp, recs, job = pending.popleft()
                    await self._handle(tp, recs, await job)
                    if pending:
                        continue
                if time.monotonic() >= self._letters_due:
                    await self._publish_letters()
                self.metrics.observe_lag(consumer, self._positions)
                if o.until_caught_up and await self._caught_up():
                    self.caught_up = True
                    return
        finally:
            for *_, job in pending:  # stopped: not written, read again from the offsets
                job.cancel()
            await asyncio.gather(*(job for *_, job in pending), return_exceptions=True)

    def _batches(
        self, fetched: dict[TopicPartition, list[Any]]
    ) -> list[tuple[TopicPartition, Any]]:
        """A poll's records as batches: per partition, at most ``max_batch`` records each."""
        ready = [(tp, recs) for tp, recs in fetched.items() if self._positioned(tp, recs)]
        size = self.options.max_batch
        if not size:
            return ready
        return [(tp, recs[i : i + size]) for tp, recs in ready for i in range(0, len(recs), size)]

    async def _remember_ends(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        parts = []
        for topic in self.roles:
            for p in consumer.partitions_for_topic(topic) or await self._partitions(topic):
                parts.append(TopicPartition(topic, p))
        self._end = await consumer.end_offsets(parts)

    async def _partitions(self, topic: str) -> set[int]:
        consumer = self._consumer
        assert consumer is not None
        await consumer._client.force_metadata_update()  # partitions before any assignment
        return consumer.partitions_for_topic(topic) or set()

    async def _caught_up(self) -> bool:
        """Every partition consumed up to the end it had at start (positions, not stored
        offsets: a transaction's commit marker takes an offset no record has)."""
        consumer = self._consumer
        assert consumer is not None
        assigned = consumer.assignment()
        if not assigned or self.to_position:
            return False
        for tp, end in self._end.items():
            if end == 0:
                continue
            # Positioned at its stored offset first: before that, the position is where
            # aiokafka started on its own, and what it fetched there was dropped.
            if tp not in assigned or tp not in self._next or await consumer.position(tp) < end:
                return False
        return True

    def forget(self, revoked: Any) -> None:
        for tp in revoked:
            self._next.pop(tp, None)
            self.to_position.discard(tp)

    def _positioned(self, tp: TopicPartition, records: Sequence[Any]) -> bool:
        expected = self._next.get(tp)
        # A fetch from before the partition was positioned at its stored offset is dropped.
        return expected is not None and records[0].offset >= expected

    async def _convert(self, tp: TopicPartition, records: Sequence[Any]) -> Converted:
        raw = [(x.offset, x.key, x.value, x.timestamp) for x in records]
        args = (self.roles[tp.topic], tp.topic, tp.partition, raw, self.options.bulk)
        if self._pool is None:
            return convert(*args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, convert, *args)

    async def _handle_all(
        self, fetched: Sequence[tuple[TopicPartition, Sequence[Any], Converted]]
    ) -> None:
        """Write a poll's batches, every partition's, in one transaction; if PostgreSQL
        refuses a row, each partition's batch again on its own (then record by record)."""
        consumer = self._consumer
        owned = consumer.assignment() if consumer is not None else set()
        # Revoked while we fetched: the new owner starts from the stored offset.
        fetched = [(tp, recs, conv) for tp, recs, conv in fetched if tp in owned]
        if len(fetched) <= 1:
            for tp, recs, conv in fetched:
                await self._handle(tp, recs, conv)
            return
        started = time.perf_counter()
        batches = [batch for _, _, (batch, _) in fetched]
        try:
            written = await self._with_retries(lambda conn: write_batches(conn, batches))
        except REFUSED:
            for tp, recs, conv in fetched:
                await self._handle(tp, recs, conv)
            return
        for tp, _, (batch, skipped) in fetched:
            self.totals.skipped += skipped
            self._positions[tp] = self._next[tp] = batch.next_offset
        self._count(merged(batches), written, time.perf_counter() - started)
        if any(batch.letters for batch in batches):
            await self._publish_letters()

    async def _handle(
        self, tp: TopicPartition, records: Sequence[Any], converted: Converted
    ) -> None:
        started = time.perf_counter()
        batch, skipped = converted
        self.totals.skipped += skipped
        if self._consumer is not None and tp not in self._consumer.assignment():
            return  # revoked while we fetched: the new owner starts from the stored offset
        lettered = bool(batch.letters)
        try:
            written = await self._with_retries(lambda conn: write_batch(conn, batch))
        except REFUSED as error:
            log.warning(
                "partition=%r offset=%d PostgreSQL refused a row (%s); writing one by one",
                f"{tp.topic}[{tp.partition}]",
                records[0].offset,
                error,
            )
            written, lettered = await self._with_retries(
                lambda conn: self._write_one_by_one(conn, tp, records)
            )
        self._positions[tp] = self._next[tp] = batch.next_offset
        self._count(batch, written, time.perf_counter() - started)
        if lettered:
            await self._publish_letters()

    def _count(self, batch: Batch, written: dict[str, int], seconds: float) -> None:
        self.totals.batches += 1
        for table, n in written.items():
            self.totals.rows[table] += n
        now = dt.datetime.now(dt.UTC)
        reported = [p.enterprise[19] for p in batch.profiles] + [e[5] for e in batch.events]
        if self.options.bulk:  # a rebuild replays history: its freshness says nothing
            reported = []
        self.metrics.on_batch(
            written, batch.row_count(), seconds, [(now - t).total_seconds() for t in reported]
        )

    async def _write_one_by_one(
        self, conn: asyncpg.Connection, tp: TopicPartition, records: Sequence[Any]
    ) -> tuple[dict[str, int], bool]:
        """Write each record in its own savepoint; a refused one becomes a dead letter.

        Returns the rows written per table and whether any letter was recorded.
        """
        written = {"enterprise": 0, "notice": 0, "event": 0}
        letters: list[LetterRow] = []
        async with conn.transaction():
            for record in records:
                raw = [(record.offset, record.key, record.value, record.timestamp)]
                single, _ = convert(self.roles[tp.topic], tp.topic, tp.partition, raw)
                if single.letters:
                    letters.extend(single.letters)
                    continue
                try:
                    async with conn.transaction():  # a savepoint
                        got = await write_batch(conn, single, store_offset=False)
                except REFUSED as error:
                    letters.append(
                        letter_row(tp.topic, tp.partition, record.offset, key=record.key,
                                   value=record.value, reason=refused(error),
                                   message=str(error))
                    )  # fmt: skip
                    continue
                for table, n in got.items():
                    written[table] += n
            # The letters and the offset past them, in the same transaction as the rows.
            tail = Batch(tp.topic, tp.partition, records[-1].offset + 1, letters=letters)
            await write_batch(conn, tail)
        return written, bool(letters)

    async def _publish_letters(self) -> None:
        """Send the recorded dead letters (after their transaction committed)."""
        assert self._outbox is not None
        self.totals.dead_letters += await self._outbox.publish(self._with_retries)
        self._letters_due = time.monotonic() + self.letters_every
