"""The Faust app: one agent folds the four co-partitioned source topics into profiles.

Shape (one worker process; several share the consumer group, partitions bound them):

- the agent reads ``<prefix>.{enterprise,tax,trademark,blacklist}`` and ``<prefix>.ticks``
  as raw bytes, in batches taken straight from its channel (:mod:`streams.intake`), and
  hands each batch to
  :class:`streams.batch.BatchProcessor`, which decodes, validates and folds it with the
  pure core, once per enterprise per batch;
- the state of each enterprise lives in a Table (memory store, see below) whose changelog
  the agent writes itself, together with the profile (compacted ``profiles`` topic) and
  the notices (``penalties``) or dead letters (``deadletters``), inside the transaction of
  the input partition (:mod:`streams.transactions`), under ``exactly_once``;
- a timer on the leader sends one tick per partition (``--tick-interval``); a tick makes
  the agent sweep that partition's enterprises whose listings reached their planned end
  date, inside the same transactions as everything else.

Store: memory. rocksdict installs here, but Faust writes RocksDB outside the Kafka
transaction: after a crash the local state could be ahead of the committed outputs, and
the idempotent fold would then silently skip the outputs of the aborted transaction.
The memory store is rebuilt from the committed changelog (read_committed) on start, at
the cost of reading it: see the README's benchmark section for the measured rate.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from kafka.partitioner.default import murmur2

from schemas.codec import Codec
from schemas.errors import ContractError
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from streams import state_codec
from streams.batch import BatchProcessor, Message, PartitionResult
from streams.clock import Clock
from streams.continuity import Continuity, Received
from streams.core import Profile, load_rules, next_due
from streams.faust_fixes import (
    patch_commit_runs,
    patch_recovery_highwaters,
    patch_seek_to_committed,
    settle_repairs,
)
from streams.intake import batches
from streams.metrics import WorkerMetrics
from streams.pending import PendingStates
from streams.transactions import Delivery, PartitionRevoked, Record, TransactionalSender

__all__ = ["WorkerOptions", "build_app"]

log = logging.getLogger("zjcredit.worker")
TABLE = "profile-state"


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs (``zjcredit worker`` flags).

    Attributes:
        bootstrap_servers: Kafka, ``host:port[,host:port]``.
        topic_prefix: the project's topic prefix (``ZJCREDIT_TOPIC_PREFIX``).
        partitions: partition count of every topic (``ZJCREDIT_PARTITIONS``).
        replication_factor: for the topics Faust declares (changelog).
        data_dir: Faust's working directory.
        clock: the ``as_of`` source (fixed date or the wall clock).
        batch_size: most messages per batch (``--batch-size``).
        batch_within: seconds to wait for a batch to fill (``--batch-within``).
        tick_interval: seconds between expiry sweeps (``--tick-interval``).
        app_id: Faust app id = consumer group and transactional id prefix.
    """

    bootstrap_servers: str
    topic_prefix: str
    partitions: int
    replication_factor: int
    data_dir: Path
    clock: Clock = field(default_factory=Clock)
    batch_size: int = 5000
    batch_within: float = 0.5
    tick_interval: float = 60.0
    app_id: str = ""

    @property
    def id(self) -> str:
        return self.app_id or f"{self.topic_prefix}.worker"


class _Folder:
    """The agent's body: batches in, transactional outputs out."""

    def __init__(self, app: faust.App, table: Any, options: WorkerOptions,
                 metrics: WorkerMetrics) -> None:  # fmt: skip
        prefix = options.topic_prefix
        self.app, self.table, self.options, self.metrics = app, table, options, metrics
        self.roles = {f"{prefix}.{role}": role for role in (*SOURCES, "ticks")}
        self.outputs = {
            role: f"{prefix}.{role}" for role in ("profiles", "penalties", "deadletters")
        }
        self.changelog = table.changelog_topic.get_topic_name()
        self.processor = BatchProcessor(Codec(ManifestRegistry.load()), load_rules())
        # States sent but not yet committed: read first, promoted on commit.
        self.pending: PendingStates[Profile] = PendingStates(table.data)
        self.sender = TransactionalSender(app, self.pending)
        self.continuity = Continuity(options.bootstrap_servers, options.id)
        # partition -> key -> planned end date: what the sweep must look at. Rebuilt from
        # the Table after a rebalance (recovered keys come without it).
        self.due: dict[int, dict[bytes, dt.date]] = {}
        self.rebalanced = True
        self.totals = {"events": 0, "profiles": 0, "notices": 0, "dead_letters": 0}

    async def handle(self, events: Sequence[Any]) -> None:
        started = time.perf_counter()
        if self.rebalanced:
            await self._after_rebalance()
        received: list[Received] = [
            (m.topic, m.partition, m.offset, m.key, m.value)
            for m in (event.message for event in events)
        ]
        continuity = self.continuity
        fixes = (continuity.repaired, continuity.dropped)
        admission = await continuity.admit(received)
        self.metrics.on_input_fixes(continuity.repaired - fixes[0], continuity.dropped - fixes[1])
        messages, ticks = [], []
        for topic, partition, offset, key, value in admission.messages:
            role = self.roles[topic]
            if role == "ticks":
                ticks.append((topic, partition, value))
            else:
                messages.append(Message(role, topic, partition, offset, key, value))
        now = dt.datetime.now(dt.UTC)
        today = self.options.clock.today()
        results = self.processor.process(messages, self.pending.get, today, now)
        topic_of = {m.partition: m.topic for m in messages}
        deliveries: list[Delivery] = []
        profiles = 0
        for partition, result in results.items():
            profiles += await self._commit(topic_of[partition], partition, result, deliveries)
        for topic, partition, value in ticks:
            profiles += await self._sweep(topic, partition, value, deliveries)
        # All partitions' records are in flight together; a failed one fails its
        # transaction too, so the worker stops here rather than go on past it (unless
        # a rebalance took the partition meanwhile: then its new owner redoes it).
        for revoked in await self.sender.settle(deliveries):
            _left_to_the_new_owner(revoked)
        settle_repairs(self.app.consumer, admission)
        self.metrics.on_batch(time.perf_counter() - started, profiles)

    async def _commit(
        self,
        input_topic: str,
        partition: int,
        result: PartitionResult,
        deliveries: list[Delivery],
    ) -> int:
        """Send one partition's outputs in its transaction, then make its states current."""
        records: list[Record] = [
            (self.changelog, key, state_codec.dumps(state), partition)
            for key, state in result.states.items()
        ]
        records += [(self.outputs[o.role], o.key, o.value, None) for o in result.outputs]
        try:
            delivery = await self.sender.send(input_topic, partition, records, result.states)
        except PartitionRevoked as revoked:
            _left_to_the_new_owner(str(revoked))
            return 0
        if delivery is not None:
            deliveries.append(delivery)
        due = self.due.setdefault(partition, {})
        for key, state in result.states.items():
            when = next_due(state)
            if when is None:
                due.pop(key, None)
            else:
                due[key] = when
        self._count(result)
        return len(result.states)

    def _count(self, result: PartitionResult) -> None:
        for source, freshness in result.events.items():
            self.metrics.on_events(source, len(freshness), freshness)
            self.totals["events"] += len(freshness)
        for kind, count in result.notices.items():
            self.metrics.on_notices(kind, count)
            self.totals["notices"] += count
        for reason in result.dead_letters:
            self.metrics.on_dead_letter(reason)
        self.totals["dead_letters"] += len(result.dead_letters)
        self.totals["profiles"] += len(result.states)

    async def _sweep(
        self,
        tick_topic: str,
        partition: int,
        value: bytes | None,
        deliveries: list[Delivery],
    ) -> int:
        try:
            as_of = self.processor.codec.decode(value or b"")[0]["as_of"]
        except (ContractError, KeyError):
            log.warning(
                "partition=%r ignoring a malformed tick %r", f"{tick_topic}[{partition}]", value
            )
            return 0
        due = self.due.get(partition, {})
        keys = [k for k, when in due.items() if when <= as_of]
        if not keys:
            return 0
        found = ((k, self.pending.get(k)) for k in keys)
        result = self.processor.sweep(((k, s) for k, s in found if s is not None), as_of)
        log.info(
            "partition=%r sweep as_of=%s lifted profiles=%d",
            f"{tick_topic}[{partition}]",
            as_of,
            len(result.states),
        )
        return await self._commit(tick_topic, partition, result, deliveries)

    async def _after_rebalance(self) -> None:
        """Re-check offsets; reload a Table partition Faust left empty; re-index the sweep."""
        self.rebalanced = False
        self.continuity.reset()
        owned = {tp.partition for tp in self.app.consumer.assignment() if tp.topic in self.roles}
        counts = self._reindex(owned)
        for partition in sorted(owned - set(counts)):
            # Faust (under exactly_once) can skip a partition's recovery when it reads
            # the changelog's end as -1 (docs/streams.md): read it ourselves.
            records = await self.continuity.changelog(self.changelog, partition)
            for key, value in records:
                if value is None:
                    self.table.data.pop(key, None)
                else:
                    self.table.data[key] = state_codec.loads(value)
            if records:
                log.warning(
                    "partition=%d the Table was not recovered: reloaded %d changelog "
                    "records ourselves", partition, len(records),
                )  # fmt: skip
                self._reindex(owned)

    def _reindex(self, owned: set[int]) -> dict[int, int]:
        """Forget states of partitions not owned; index the sweep; count states per partition.

        A revoked partition's states leave memory: its next owner (perhaps this worker
        again) recovers them from the changelog.
        """
        n = self.options.partitions
        self.due = {}
        counts: dict[int, int] = {}
        unowned = []
        for key, state in self.pending.items():
            # The changelog partition of a key is its input partition, which our
            # producers (and Kafka's default partitioner) choose by murmur2 of the key.
            partition = (murmur2(key) & 0x7FFFFFFF) % n
            if partition not in owned:
                unowned.append(key)
                continue
            counts[partition] = counts.get(partition, 0) + 1
            when = next_due(state)
            if when is not None:
                self.due.setdefault(partition, {})[key] = when
        for key in unowned:
            self.table.data.pop(key, None)
        return counts

    def progress_line(self) -> str:
        t = self.totals
        return (f"worker events={t['events']} profiles={t['profiles']} notices={t['notices']} "
                f"dead_letters={t['dead_letters']}")  # fmt: skip


def _left_to_the_new_owner(partition: str) -> None:
    log.warning("partition=%s revoked mid-batch: its outputs are left to the new owner", partition)


def build_app(options: WorkerOptions, metrics: WorkerMetrics | None = None) -> faust.App:
    """The worker's Faust app, ready for ``faust.Worker(app).execute_from_commandline()``."""
    state_codec.register()
    patch_recovery_highwaters()
    patch_commit_runs()
    metrics = metrics or WorkerMetrics.default()
    app = faust.App(
        options.id,
        broker=[f"kafka://{b.strip()}" for b in options.bootstrap_servers.split(",")],
        store="memory://",
        processing_guarantee="exactly_once",
        topic_partitions=options.partitions,
        topic_replication_factor=options.replication_factor,
        topic_allow_declare=True,
        web_enabled=False,
        datadir=str(options.data_dir),
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=max(4096, options.batch_size * 2),
        # Faust's default commit interval (2.8 s): at 1 s the crash test lost events far
        # more often through Faust's commit-gap bug (faust-streaming#596/#606).
    )
    prefix = options.topic_prefix
    patch_seek_to_committed({f"{prefix}.{role}" for role in (*SOURCES, "ticks")})
    inputs = app.topic(
        *(f"{prefix}.{role}" for role in (*SOURCES, "ticks")),
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
    )  # fmt: skip
    table = app.Table(
        TABLE,
        default=None,
        partitions=options.partitions,
        key_type=bytes,
        value_type=state_codec.StateType,
    )
    folder = _Folder(app, table, options, metrics)

    @app.agent(inputs, name="fold")
    async def fold(stream: Any) -> None:
        folder.sender.install()
        await folder.continuity.start()
        try:
            async for events in batches(stream, options.batch_size, options.batch_within):
                try:
                    await folder.handle(events)
                except Exception:
                    if app.should_stop:  # shutting down mid-batch: Kafka redelivers it
                        log.info("stopping: %d events are left for redelivery", len(events))
                        return
                    raise
        finally:
            await folder.continuity.stop()

    @app.timer(options.tick_interval, on_leader=True)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        tick = {"as_of": options.clock.today(), "sent_at": dt.datetime.now(dt.UTC)}
        value = folder.processor.codec.encode("ticks", tick)
        for partition in range(options.partitions):
            await app.producer.send(f"{prefix}.ticks", None, value, partition, None, None)

    @app.timer(30.0)  # type: ignore[untyped-decorator]
    async def report() -> None:
        log.info("%s", folder.progress_line())

    @app.on_rebalance_complete.connect
    def _rebalanced(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        folder.rebalanced = True

    app.folder = folder  # type: ignore[attr-defined]  # for tests and the bench

    @app.timer(5.0)  # type: ignore[untyped-decorator]
    async def lag() -> None:
        # Per-partition consumer lag for /metrics (zjcredit_worker_consumer_lag).
        metrics.observe_lag(app.consumer, folder.roles)

    return app
