"""The Faust app: one agent folds the co-partitioned source topics into credit profiles.

Shape (one worker process; several share the consumer group, partitions bound them):

- Faust runs the group: membership (static, with ``--instance``), the co-partitioned
  assignment, one transactional producer per input partition, the agent, the timers and
  the process's life cycle;
- its consumer hands the agent one message per fetched partition batch
  (:class:`streams.faust_door.BatchScheduler`), and the agent takes several at a time;
- each batch goes through :class:`streams.checkpoint.Checkpoint`: admit offsets, fold
  with the pure core, send the states (``<group>.state``, compacted), profiles, notices and
  dead letters in the partition's transaction, commit it with the input offsets, then
  write the states to the partition's local store (streams/store.py);
- an owned partition's store is restored from the changelog when it is assigned
  (streams/partitions.py, streams/restore.py);
- a revocation waits for the batch committing and holds the next until the new
  assignment is taken (streams/fence.py), so Faust never stops a producer mid-transaction;
- a timer on the leader sends one tick per partition (``--tick-interval``); a tick makes
  the batch sweep the partition's states whose listings reach their planned end, from
  the store's sweep index, inside the same transactions as everything else.

Memory is bounded by configuration (``--cache-states``, the stores' block cache and
memtables, ``--batch-size``), not by the number of enterprises.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from aiokafka.errors import KafkaError
from faust.serializers import codecs

from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from streams.batch import BatchProcessor
from streams.changelog import changelog_topic
from streams.checkpoint import Checkpoint, CheckpointContext, Fault, Totals, replay
from streams.clock import Clock
from streams.core import load_rules
from streams.errors import CorruptStoreError, StaleAssignmentError
from streams.faust_door import (
    BalancedAssignor,
    BatchScheduler,
    PartitionProducers,
    check,
    request_rejoin,
    shorten_fetch_wait,
)
from streams.fence import RebalanceFence
from streams.metrics import WorkerMetrics
from streams.partitions import Owned, Partitions, Status
from streams.reader import Reader, TopicPartition
from streams.restore import Restored
from streams.stall import StallWatch
from streams.store import StoreResources

__all__ = ["WorkerOptions", "build_app"]

log = logging.getLogger("zjcredit.worker")
ROLES = (*SOURCES, "ticks")
# A batch is at most this many fetched chunks, each at most batch_size / this records:
# while catching up the chunks are full; live, a batch gathers the small fetches of up to
# --batch-within seconds, so one transaction per partition carries many of them.
FETCHES_PER_BATCH = 50
_CORRUPT_RETRIES = 3  # a batch refolded after its partition's store was found corrupt
_STALE_BACKOFF_MAX_S = 60.0  # the longest wait before asking a group for an assignment again
# Behind, and no progress on a partition for this long: seek back. At 15 s (checked every
# 5 s) a restart at 1,000,000 states took 22.6 s to fold its first new event, every time
# Faust's consumer skipped it (faust-streaming#596); a needless seek only re-fetches.
_STALL_S = 4.0
_LAG_EVERY_S = 2.0
_FETCH_CODEC = "zjcredit-fetch"


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs (``zjcredit worker`` flags).

    Attributes:
        bootstrap_servers: Kafka, ``host:port[,host:port]``.
        topic_prefix: the project's topic prefix (``ZJCREDIT_TOPIC_PREFIX``).
        partitions: partition count of every topic (``ZJCREDIT_PARTITIONS``).
        replication_factor: of the state changelog topic.
        data_dir: this worker's own directory: its partition stores (``--data-dir``).
        clock: the ``as_of`` source (fixed date or the wall clock).
        batch_size: most input records per batch (``--batch-size``).
        batch_within: seconds a batch waits to fill (``--batch-within``).
        tick_interval: seconds between expiry sweeps (``--tick-interval``).
        app_id: Faust app id = consumer group and transactional id prefix (``--group``).
        instance: the static group member id (``--instance``); None: dynamic membership.
        cache_states: decoded states kept in memory, over all partitions.
        store_cache_mib: the stores' shared block cache.
        write_buffer_mib: the stores' memtables, together.
        session_timeout: seconds without a heartbeat before the group drops a member.
        fault: tests only (``ZJCREDIT_WORKER_FAULT``): ``sent:N``, ``committed:N`` or
            ``rebuild:N``, the worker SIGKILLs itself at that step of its N-th transaction;
            ``pause:N``: it SIGSTOPs itself at ``sent:N`` (base/settings.py).
    """

    bootstrap_servers: str
    topic_prefix: str
    partitions: int
    replication_factor: int
    data_dir: Path
    clock: Clock = field(default_factory=Clock)
    batch_size: int = 10_000
    batch_within: float = 0.1
    tick_interval: float = 60.0
    app_id: str = ""
    instance: str | None = None
    cache_states: int = 20_000
    store_cache_mib: int = 64
    write_buffer_mib: int = 64
    session_timeout: float = 30.0
    fault: str | None = None

    @property
    def id(self) -> str:
        return self.app_id or f"{self.topic_prefix}.worker"


class _PassThrough(codecs.Codec):
    """The agent topic's value codec: the fetched records arrive decoded already."""

    def _loads(self, s: Any) -> Any:
        return s

    def _dumps(self, s: Any) -> Any:  # pragma: no cover - nothing is sent through it
        return s


class _Folder:
    """The agent's body: batches of fetched records in, checkpoints through."""

    def __init__(self, app: faust.App, options: WorkerOptions, metrics: WorkerMetrics) -> None:
        prefix = options.topic_prefix
        self.app, self.options, self.metrics = app, options, metrics
        self.topics = {role: f"{prefix}.{role}" for role in ROLES}
        self.outputs = {
            role: f"{prefix}.{role}" for role in ("profiles", "penalties", "deadletters")
        }
        self.changelog = changelog_topic(options.id)
        self.processor = BatchProcessor(Codec(ManifestRegistry.load()), load_rules())
        self.producers = PartitionProducers(app, self.topics["enterprise"])
        self.partitions = Partitions(
            bootstrap_servers=options.bootstrap_servers,
            group=options.id,
            changelog=self.changelog,
            topics=self.topics,
            data_dir=options.data_dir,
            resources=StoreResources(options.store_cache_mib, options.write_buffer_mib),
            producers=self.producers,
            cache_states=options.cache_states,
        )
        self.holes = Reader(options.bootstrap_servers, options.id)
        self.fence = RebalanceFence()
        self._stale = 0  # stale assignments in a row (streams/errors.py StaleAssignmentError)
        self.fault = Fault.parse(options.fault)
        if self.fault is not None:
            self.partitions.on_copied = self.fault.on_copied
        self.partitions.replay = self._replay
        self.partitions.on_restored = self._restored
        self.partitions.on_lost = self._lost
        self._rejoin_asked = False  # for a lost partition, and no assignment came since
        self.context: CheckpointContext | None = None
        self._starting = asyncio.Lock()
        self.totals = Totals()
        self.commits = 0
        self.stalls: StallWatch[tuple[str, int]] = StallWatch(_STALL_S)

    async def start(self) -> CheckpointContext:
        """Open the hole reader and make the checkpoints' context (once; idempotent)."""
        async with self._starting:
            if self.context is not None:
                return self.context
            await self.holes.__aenter__()
            self.context = self._context()
            return self.context

    def _context(self) -> CheckpointContext:
        return CheckpointContext(
            app=self.app,
            group=self.options.id,
            changelog=self.changelog,
            topics=self.topics,
            outputs=self.outputs,
            processor=self.processor,
            partitions=self.partitions,
            producers=self.producers,
            holes=self.holes,
            fence=self.fence,
            fault=self.fault,
        )

    async def stop(self) -> None:
        await self.partitions.close()
        if self.context is not None:
            await self.holes.__aexit__(None, None, None)

    async def _replay(self, owned: Owned, reader: Reader) -> None:
        context = await self.start()
        totals = await replay(context, owned, reader, as_of=self.options.clock.today(),
                              now=dt.datetime.now(dt.UTC))  # fmt: skip
        log.info("partition=%d rebuilt its states from %d input records", owned.number,
                 totals.replayed)  # fmt: skip
        self.totals.replayed += totals.replayed

    def _restored(self, restored: Restored) -> None:
        self.metrics.on_restore(restored.rebuilt is not None, restored.records, restored.seconds)

    def _lost(self, owned: Owned) -> None:
        """A partition still assigned here lost its transactional producer to another one
        with the same transactional id (the other worker of a rebalance that raced, or a
        zombie's): nobody would fold it until the next rebalance, which may never come.
        Ask for one: whoever the group then gives it to starts its producer again, and
        that fences every other (a zombie's rejoin costs the group one more rebalance).

        One request until the assignment it brings; a partition lost after that (its
        batch's commit refused after the rebalance) asks again. A window of time
        instead (one request in 10 s) left such a partition unfolded for good when a
        zombie woke (tests/faults/test_zombie_worker.py)."""
        if self._rejoin_asked:
            return  # the assignment asked for serves every partition lost meanwhile
        self._rejoin_asked = True
        log.warning("partition=%d lost while assigned here: asking the group for a new "
                    "assignment", owned.number)  # fmt: skip
        request_rejoin(self.app)

    async def on_revoked(self) -> None:
        # Before Faust stops the revoked partitions' producers (streams/fence.py).
        await self.fence.close(within=self.options.session_timeout / 2)

    async def on_assigned(self, assigned: Any) -> None:
        shorten_fetch_wait(self.app)  # the consumer exists now; idempotent
        self._rejoin_asked = False  # a partition lost from now on asks again
        try:
            await self.partitions.assign(assigned)
            self._stale = 0
        except StaleAssignmentError as error:
            # Not a fault of this worker's: own nothing (its batches are skipped, nothing
            # is committed for them) and ask again, backing off if the group keeps
            # answering the same (a follower's rejoin does not force a rebalance).
            delay = min(_STALE_BACKOFF_MAX_S, float(2**self._stale - 1))
            self._stale += 1
            log.warning(
                "%s (made before this worker subscribed to it): owning no partition and "
                "asking the group for a new assignment in %.0f s", error, delay,
            )  # fmt: skip
            await self.partitions.assign(())
            request_rejoin(self.app, delay)
        finally:
            self.fence.reopen()

    async def handle(self, fetches: Sequence[Sequence[Any]]) -> None:
        context = await self.start()
        started = time.perf_counter()
        self.stalls.on_batch(sum(len(f) for f in fetches), self.options.batch_size,
                             time.monotonic())  # fmt: skip
        for attempt in range(1, _CORRUPT_RETRIES + 1):
            checkpoint = Checkpoint(context, fetches)
            try:
                totals = await checkpoint.run(self.options.clock.today(), dt.datetime.now(dt.UTC))
                break
            except CorruptStoreError as error:
                # Found while folding, before anything was sent: rebuild that partition's
                # store from the changelog, then fold the same batch again.
                if attempt == _CORRUPT_RETRIES:
                    raise
                log.error("%s: rebuilding it from the changelog, then this batch again", error)
                await self.partitions.rebuild(error.partition, str(error))
        for result in checkpoint.results():
            for source, freshness in result.events.items():
                self.metrics.on_events(source, len(freshness), freshness)
            for kind, count in result.notices.items():
                self.metrics.on_notices(kind, count)
            for reason in result.dead_letters:
                self.metrics.on_dead_letter(reason)
        self.metrics.on_input_fixes(totals.filled, totals.dropped)
        self.metrics.on_batch(time.perf_counter() - started, totals.profiles)
        for name in ("events", "profiles", "notices", "dead_letters", "filled", "dropped",
                     "replayed", "partitions"):  # fmt: skip
            setattr(self.totals, name, getattr(self.totals, name) + getattr(totals, name))
        self.commits += totals.partitions

    async def unstall(self, lag: dict[tuple[str, int], tuple[int | None, int]]) -> None:
        """Send Faust's consumer back to a partition the worker is behind on and which has
        not moved for a while: the rest of a hole it skipped (faust-streaming#596) comes
        with no later record to reveal it."""
        for tp, position in self.stalls.stalled(lag, time.monotonic()):
            log.warning("partition=%r behind at %d (end %d) with nothing coming: "
                        "reading from there again", f"{tp[0]}[{tp[1]}]", position,
                        lag[tp][0])  # fmt: skip
            await self.app.consumer.seek_wait({faust.types.TP(*tp): position})

    async def lag(self) -> dict[tuple[str, int], tuple[int | None, int]]:
        """``(topic, partition) -> (last stable offset, next offset to fold)`` of the owned,
        restored partitions (the ends asked of the broker, not of Faust's consumer, which
        knows them only for partitions it fetched lately)."""
        positions = {
            (self.topics[role], number): position
            for number, owned in list(self.partitions.owned.items())
            if owned.status is Status.READY
            for role, position in owned.positions.items()
        }
        if not positions or self.context is None:
            return {}
        ends = await self.holes.ends([TopicPartition(t, p) for t, p in positions])
        return {tp: (ends.get(TopicPartition(*tp)), at) for tp, at in positions.items()}

    def progress_line(self) -> str:
        t = self.totals
        return (f"worker events={t.events} profiles={t.profiles} notices={t.notices} "
                f"dead_letters={t.dead_letters}")  # fmt: skip


def build_app(options: WorkerOptions, metrics: WorkerMetrics | None = None) -> faust.App:
    """The worker's Faust app, ready for ``faust.Worker(app).execute_from_commandline()``."""
    codecs.register(_FETCH_CODEC, _PassThrough())
    metrics = metrics or WorkerMetrics.default()
    app = faust.App(
        options.id,
        broker=[f"kafka://{b.strip()}" for b in options.bootstrap_servers.split(",")],
        store="memory://",
        processing_guarantee="exactly_once",
        topic_partitions=options.partitions,
        topic_replication_factor=options.replication_factor,
        topic_allow_declare=True,  # Faust declares its leader-election topic itself
        web_enabled=False,
        datadir=str(options.data_dir / "faust"),
        consumer_auto_offset_reset="earliest",
        PartitionAssignor=BalancedAssignor,
        ConsumerScheduler=BatchScheduler.with_chunk(
            math.ceil(options.batch_size / FETCHES_PER_BATCH)
        ),
        consumer_group_instance_id=options.instance,
        broker_session_timeout=options.session_timeout,
        broker_heartbeat_interval=max(1.0, options.session_timeout / 10),
        # One produce request carries up to ~1 MB per partition (the broker's default
        # message.max.bytes): a batch's changelog and profiles go in a few round trips.
        producer_max_batch_size=900_000,
        producer_max_request_size=1_000_000,
        stream_buffer_maxsize=1024,
    )
    check(app)
    folder = _Folder(app, options, metrics)
    inputs = app.topic(
        *folder.topics.values(),
        value_serializer=_FETCH_CODEC,
        acks=False,  # the checkpoint commits these offsets, in the partitions' transactions
    )
    max_fetches = FETCHES_PER_BATCH

    @app.agent(inputs, name="fold")
    async def fold(stream: Any) -> None:
        await folder.start()
        try:
            async for fetches in stream.take(max_fetches, within=options.batch_within):
                try:
                    await folder.handle(fetches)
                except Exception as error:
                    if app.should_stop:  # shutting down mid-batch: its transactions abort
                        log.info("stopping: a batch of %d fetches is left to the next start",
                                 len(fetches))  # fmt: skip
                        return
                    # Not a record's fault (those become dead letters): Kafka or the disk
                    # failed. Stop the worker rather than let Faust restart the agent on
                    # half-known state; a restart recovers from the changelog.
                    log.exception("the worker stops: %s", error)
                    await app.crash(error)
                    return
        finally:
            await folder.stop()

    async def _assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await folder.on_assigned(args[0])  # the new assignment: a set of TPs

    async def _revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await folder.on_revoked()

    app.on_partitions_assigned.connect(_assigned)
    app.on_partitions_revoked.connect(_revoked)

    @app.timer(options.tick_interval, on_leader=True)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        tick = {"as_of": options.clock.today(), "sent_at": dt.datetime.now(dt.UTC)}
        value = folder.processor.codec.encode("ticks", tick)
        for partition in range(options.partitions):
            await app.producer.send(folder.topics["ticks"], None, value, partition, None, None)

    @app.timer(30.0)  # type: ignore[untyped-decorator]
    async def report() -> None:
        log.info("%s", folder.progress_line())

    @app.timer(_LAG_EVERY_S)  # type: ignore[untyped-decorator]
    async def lag() -> None:
        # Per-partition consumer lag for /metrics (zjcredit_worker_consumer_lag).
        try:
            behind = await folder.lag()
        except KafkaError as error:  # the broker is away: no lag known this time
            log.info("consumer lag unknown: %s", error)
            return
        metrics.observe_lag(behind)
        await folder.unstall(behind)

    app.folder = folder  # type: ignore[attr-defined]  # for tests and the bench
    # Keep the receivers alive (Faust's signals hold them weakly).
    app._zjcredit_receivers = (_assigned, _revoked)  # type: ignore[attr-defined]
    return app
