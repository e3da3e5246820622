"""One batch through the worker's exactly-once protocol, in one object.

The order, per input partition ``p`` of the batch (partitions go through it together,
their Kafka round trips concurrently):

1. **ADMITTED**: the records Faust fetched (a list per partition and fetch) are lined
   up with ``p``'s positions (the next offset to fold, per input topic). A record
   below the position was folded already and is dropped; a record above it means Faust
   skipped some (faust-streaming#596), and the skipped committed records are read here first
   (:class:`~streams.reader.Reader`, at most ``fill_limit`` per batch: past that the
   rest of the fetch is dropped and Faust's consumer is sent back to read it again).
   Inputs below the offsets committed by an earlier owner are marked *replayed*.
2. **FOLDED**: the pure core folds them (streams/batch.py) onto the committed states,
   and the ticks sweep the states whose sweep date came (the store's index).
3. **SENT**: the new states (to the changelog, followed by the *inputs* record with the
   positions after the batch), the profiles, notices and dead letters are handed to
   ``p``'s transactional producer, all to partition ``p`` of their topics. Steps 3 and 4
   happen inside the rebalance fence (streams/fence.py): no rebalance stops a producer
   under an open transaction.
4. **COMMITTED**: the input offsets go into the same transaction, which commits: all
   of it is visible at once, or (killed, fenced) none of it.
5. **DURABLE**: only now the states, their sweep index and the new changelog offset go
   into the local store in one write, and into the cache; the positions move on.

A partition whose producer was fenced or stopped (a rebalance gave it to another worker)
becomes **LOST** at any step: its work is dropped, not an error; the other partitions go
on. Any other failure raises: the worker stops, and on restart each store is caught up
from the changelog (it may lag, never lead), so nothing is lost or doubled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aiokafka.errors import KafkaError, ProducerFenced

from schemas.codec import Codec
from streams import state_codec
from streams.batch import BatchProcessor, Message, PartitionResult
from streams.changelog import INPUTS_KEY, encode_inputs
from streams.core import Profile, next_due
from streams.errors import TransactionLost, WorkerError
from streams.faust_door import PartitionProducers
from streams.fence import RebalanceFence
from streams.partitions import Owned, Partitions, Status
from streams.reader import Reader, TopicPartition
from streams.store import StoreMeta

__all__ = ["Checkpoint", "CheckpointContext", "Fault", "Step", "Totals", "replay"]

log = logging.getLogger("zjcredit.worker")


class Step(Enum):
    NEW = 0
    ADMITTED = 1
    FOLDED = 2
    SENT = 3
    COMMITTED = 4
    DURABLE = 5
    LOST = 9


@dataclass
class Totals:
    """What a checkpoint did (summed into the worker's progress line and metrics)."""

    events: int = 0
    profiles: int = 0
    notices: int = 0
    dead_letters: int = 0
    filled: int = 0  # records Faust skipped, read here
    dropped: int = 0  # records Faust delivered again
    replayed: int = 0  # inputs read again to rebuild lost states
    partitions: int = 0  # partitions committed


@dataclass
class Fault:
    """A deliberate SIGKILL (``ZJCREDIT_WORKER_FAULT``), for the crash tests.

    ``sent:N`` kills with the N-th transaction open (its records on the broker),
    ``committed:N`` after the N-th commit and before its states reach the store,
    ``rebuild:N`` once N changelog records have been copied into rebuilt stores;
    ``pause:N`` SIGSTOPs instead once the N-th transaction that sends profiles has sent
    them: a zombie that goes on where it stopped when SIGCONTed (the cluster fault tests;
    a transaction of ticks alone sends none, and the test looks for the aborted ones).
    """

    point: str
    nth: int
    seen: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Fault | None:
        if not text:
            return None
        point, nth = text.split(":")
        return cls(point, int(nth))

    def due(self, point: str, count: int = 1) -> bool:
        """``point`` was reached (``count`` more times): is this the time to die?"""
        if point != self.point or self.seen >= self.nth:
            return False
        self.seen += count
        return self.seen >= self.nth

    def kill(self) -> None:
        """SIGKILL this process; ``pause``: SIGSTOP it, and return once SIGCONTed."""
        what = "pausing" if self.point == "pause" else "killing"
        log.warning("ZJCREDIT_WORKER_FAULT=%s:%d: %s this worker now", self.point, self.nth, what)
        os.kill(os.getpid(), signal.SIGSTOP if self.point == "pause" else signal.SIGKILL)

    def on_copied(self, records: int) -> None:
        if self.due("rebuild", records):
            self.kill()


def _sends_profiles(share: _Share) -> bool:
    return any(output.role == "profiles" for output in share.result.outputs)


@dataclass(frozen=True)
class CheckpointContext:
    """What every checkpoint of a worker shares."""

    app: Any  # the Faust app (its consumer is sent back after an overflowing hole)
    group: str
    changelog: str
    topics: dict[str, str]  # role -> input topic
    outputs: dict[str, str]  # role -> output topic (profiles, penalties, deadletters)
    processor: BatchProcessor
    partitions: Partitions
    producers: PartitionProducers
    holes: Reader
    fence: RebalanceFence = field(default_factory=RebalanceFence)
    fill_limit: int = 20_000
    fault: Fault | None = None


@dataclass(eq=False)
class _Share:
    """One partition's share of a batch, and the step it has reached."""

    owned: Owned
    step: Step = Step.NEW
    messages: list[Message] = field(default_factory=list)
    # (value, replayed, offset)
    ticks: list[tuple[bytes | None, bool, int]] = field(default_factory=list)
    ends: dict[str, int] = field(default_factory=dict)  # role -> next offset after it
    result: PartitionResult = field(default_factory=PartitionResult)
    before: dict[bytes, Profile | None] = field(default_factory=dict)
    encoded: dict[bytes, bytes] = field(default_factory=dict)  # key -> stored state
    deliveries: list[asyncio.Future[Any]] = field(default_factory=list)  # its batches'
    last_changelog: tuple[asyncio.Future[Any], int] | None = None  # last batch, its size
    changelog_next: int = 0  # after the commit: the changelog offset after the batch

    def advance(self, step: Step) -> None:
        if self.step is Step.LOST:
            return
        if step.value != self.step.value + 1:
            raise WorkerError(
                f"partition {self.owned.number}: checkpoint step {self.step.name} -> "
                f"{step.name} is out of order"
            )
        self.step = step


class Checkpoint:
    """Take one batch of fetched records through admit, fold, send, commit, durable."""

    def __init__(
        self,
        context: CheckpointContext,
        fetches: Sequence[Sequence[Any]],
        *,
        replaying: Owned | None = None,
    ) -> None:
        self.context = context
        self.fetches = fetches
        self.replaying = replaying  # rebuilding this partition's states from its inputs
        self.shares: dict[int, _Share] = {}
        self.totals = Totals()

    async def run(self, as_of: dt.date, now: dt.datetime) -> Totals:
        await self.admit()
        self.fold(as_of, now)
        async with self.context.fence.sending():  # no rebalance stops a producer meanwhile
            for share in self._at(Step.FOLDED):
                if not self.context.partitions.is_current(share.owned):
                    self._lose(share, "revoked while its batch waited for a rebalance")
            await asyncio.gather(*(self._send_and_commit(s) for s in self._at(Step.FOLDED)))
        self.make_durable()
        return self.totals

    def _at(self, step: Step) -> list[_Share]:
        return [s for s in self.shares.values() if s.step is step]

    # -- 1. admit ------------------------------------------------------------------

    async def admit(self) -> None:
        context = self.context
        roles = {topic: role for role, topic in context.topics.items()}
        overflowed: set[tuple[str, int]] = set()
        for fetch in self.fetches:
            if not fetch:
                continue
            topic, number = fetch[0].topic, fetch[0].partition
            share = self.shares.get(number)
            if share is None and self.replaying is not None:
                share = self.shares[number] = _Share(self.replaying)
            if share is None:
                owned = await context.partitions.ready(number)
                if owned is None:
                    continue  # not ours (any more): its owner reads it
                share = self.shares[number] = _Share(owned)
            if (topic, number) in overflowed:
                continue
            role = roles[topic]
            records = await self._line_up(share, role, topic, fetch, overflowed)
            for r in records:
                replayed = r.offset < share.owned.committed.get(role, 0)
                self.totals.replayed += replayed
                if role == "ticks":
                    share.ticks.append((r.value, replayed, r.offset))
                else:
                    # The source topics stamp records with the broker's append time:
                    # the moment the worker's contract checks reported_at against.
                    share.messages.append(
                        Message(role, topic, number, r.offset, r.key, r.value, replayed,
                                timestamp_ms=r.timestamp)
                    )  # fmt: skip
        for share in self.shares.values():
            share.advance(Step.ADMITTED)

    async def _line_up(
        self,
        share: _Share,
        role: str,
        topic: str,
        fetch: Sequence[Any],
        overflowed: set[tuple[str, int]],
    ) -> list[Any]:
        """``fetch``'s records from the partition's position on, holes filled first."""
        expected = share.ends.get(role, share.owned.positions[role])
        records = [r for r in fetch if r.offset >= expected]
        self.totals.dropped += len(fetch) - len(records)
        if not records:
            return []
        number = share.owned.number
        if records[0].offset > expected:
            tp = TopicPartition(topic, number)
            hole: list[Any] = []
            async for chunk in self.context.holes.read(
                tp, expected, records[0].offset, limit=self.context.fill_limit
            ):
                hole += chunk
            self.totals.filled += len(hole)
            complete = len(hole) < self.context.fill_limit or (
                hole and hole[-1].offset + 1 == records[0].offset
            )
            if not complete:
                # Too much to hold at once (a lost state rebuilt from the inputs): fold what
                # was read, drop the fetch, and have Faust's consumer read on from there.
                overflowed.add((topic, number))
                share.ends[role] = hole[-1].offset + 1
                await self.context.app.consumer.seek_wait({tp: hole[-1].offset + 1})
                return hole
            if hole:
                log.info(
                    "partition=%r read %d skipped record(s) at offsets %d..%d ourselves",
                    f"{topic}[{number}]", len(hole), expected,
                    records[0].offset - 1,
                )  # fmt: skip
            records = hole + records
        share.ends[role] = records[-1].offset + 1
        return records

    # -- 2. fold -------------------------------------------------------------------

    def fold(self, as_of: dt.date, now: dt.datetime) -> None:
        context = self.context
        shares = self._at(Step.ADMITTED)
        partitions = context.partitions
        messages = [m for s in shares for m in s.messages]

        def lookup(number: int, key: bytes) -> Profile | None:
            share = self.shares[number]
            state = partitions.lookup(share.owned, key)
            share.before[key] = state
            return state

        results = context.processor.process(messages, lookup, as_of, now)
        for share in shares:
            share.result = results.get(share.owned.number) or PartitionResult()
            if share.ticks:
                self._sweep(share, lookup, now)
            share.advance(Step.FOLDED)

    def _sweep(self, share: _Share, lookup: Any, now: dt.datetime) -> None:
        codec: Codec = self.context.processor.codec
        dates = []
        for value, _, offset in share.ticks:
            try:
                record, writer = codec.decode(value or b"")
                as_of = record["as_of"] if writer.subject == "ticks" else None
            except Exception:  # noqa: BLE001 - a malformed tick is not worth a crash
                as_of = None
            if isinstance(as_of, dt.date):
                dates.append(as_of)
            else:
                log.warning("partition=%d ignoring a malformed tick at offset %d: %r",
                            share.owned.number, offset, (value or b"")[:80])  # fmt: skip
        if not dates:
            return
        as_of = max(dates)
        replayed = all(r for _, r, _ in share.ticks)
        owned = share.owned
        assert owned.store is not None
        due = set(owned.store.due_keys(as_of))
        due.update(k for k, s in share.result.states.items() if (d := next_due(s)) and d <= as_of)
        found = []
        for key in sorted(due):
            state = share.result.states.get(key) or lookup(owned.number, key)
            if state is not None:
                found.append((key, state))
        tick = (self.context.topics["ticks"], owned.number, share.ticks[-1][2])
        self.context.processor.sweep(found, as_of, share.result, replayed=replayed, now=now,
                                     tick=tick)  # fmt: skip
        if found:
            log.info("partition=%d sweep as_of=%s: %d state(s) due", owned.number, as_of,
                     len(found))  # fmt: skip

    # -- 3. send, 4. commit --------------------------------------------------------

    async def _send_and_commit(self, share: _Share) -> None:
        number = share.owned.number
        if not share.ends:
            share.advance(Step.SENT)
            share.advance(Step.COMMITTED)
            return
        found = self.context.producers.get(number)
        if found is None:
            self._lose(share, "no transactional producer: revoked")
            return
        txp, lock = found
        try:
            async with lock:
                await self._send(share, txp)
                share.advance(Step.SENT)
                # (A batch's outputs are looked at only when a fault is set: tests.)
                sends_profiles = self.context.fault is not None and _sends_profiles(share)
                if self._fault("sent") or (sends_profiles and self._fault("pause")):
                    # Die (or freeze) with the records on the broker: an open transaction.
                    await asyncio.gather(*share.deliveries)
                    self._die()
                await self._commit(share, txp)
                share.advance(Step.COMMITTED)
        except TransactionLost as lost:
            self._lose(share, str(lost))
        except (ProducerFenced, KafkaError) as error:
            current = self.context.producers.is_current(number, txp)
            if current and isinstance(error, ProducerFenced):
                self._lose(share, f"{type(error).__name__}: {error}")
                await self.context.producers.forget(number, txp)
                return
            if not current:
                # A rebalance replaced this batch's producer while it was in flight (a
                # worker frozen past its session rejoins before its old commit fails): the
                # partition may be ours again, with a new producer. Drop this batch only;
                # marking the partition lost would leave it unfolded until the next
                # rebalance (seen in tests/faults/test_zombie_worker.py).
                share.step = Step.LOST
                return
            raise

    async def _send(self, share: _Share, txp: Any) -> None:
        context, number, result = self.context, share.owned.number, share.result
        await context.producers.open_transaction(txp)
        positions = {**share.owned.positions, **share.ends}
        share.encoded = {key: state_codec.dumps(state) for key, state in result.states.items()}
        changelog: list[tuple[bytes | None, bytes]] = list(share.encoded.items())
        changelog.append((INPUTS_KEY, encode_inputs(positions)))
        by_topic: dict[str, list[tuple[bytes | None, bytes]]] = {context.changelog: changelog}
        for output in result.outputs:
            by_topic.setdefault(context.outputs[output.role], []).append((output.key, output.value))
        for topic, records in by_topic.items():
            sent = await _send_all(txp, topic, number, records)
            share.deliveries.append(sent[0])
            if topic == context.changelog:
                share.last_changelog = sent

    async def _commit(self, share: _Share, txp: Any) -> None:
        context, number = self.context, share.owned.number
        if self.replaying is None:  # a replay leaves the group's offsets where they are
            offsets = {TopicPartition(context.topics[role], number): end
                       for role, end in share.ends.items()}  # fmt: skip
            await txp.send_offsets_to_transaction(offsets, context.group)
        await txp.commit_transaction()
        assert share.last_changelog is not None
        future, count = share.last_changelog
        # The batch's metadata carries its first offset: the inputs record is its last.
        share.changelog_next = future.result().offset + count

    def _fault(self, point: str) -> bool:
        fault = self.context.fault
        return fault is not None and fault.due(point)

    def _die(self) -> None:
        assert self.context.fault is not None
        self.context.fault.kill()

    def _lose(self, share: _Share, why: str) -> None:
        share.step = Step.LOST
        self.context.partitions.lose(share.owned, why)

    # -- 5. durable ----------------------------------------------------------------

    def make_durable(self) -> None:
        context, totals = self.context, self.totals
        if self._at(Step.COMMITTED) and self._fault("committed"):
            self._die()
        for share in self._at(Step.COMMITTED):
            owned, result = share.owned, share.result
            if share.ends and owned.store is not None and not owned.store.closed:
                positions = {**owned.positions, **share.ends}
                changes = [(key, value, _due(share.before.get(key)))
                           for key, value in share.encoded.items()]  # fmt: skip
                next_offset = share.changelog_next
                meta = StoreMeta(context.changelog, _topic_id(owned), owned.number,
                                 next_offset, positions)  # fmt: skip
                owned.store.write(changes, meta)
                owned.changelog_next = next_offset
                owned.positions = positions
                context.partitions.remember(owned, result.states)
            share.advance(Step.DURABLE)
            totals.partitions += bool(share.ends)
            totals.events += sum(len(f) for f in result.events.values())
            totals.profiles += sum(1 for o in result.outputs if o.role == "profiles")
            totals.notices += sum(result.notices.values())
            totals.dead_letters += len(result.dead_letters)

    def results(self) -> list[PartitionResult]:
        """The results of the partitions that reached DURABLE (for metrics)."""
        return [s.result for s in self._at(Step.DURABLE)]


async def replay(
    context: CheckpointContext,
    owned: Owned,
    reader: Reader,
    *,
    as_of: dt.date,
    now: dt.datetime,
    chunk: int = 5000,
) -> Totals:
    """Rebuild ``owned``'s states from its inputs, up to the offsets committed before.

    For a partition whose states lag the group's committed offsets (its changelog was
    lost or recreated): every input below them is folded again, source topics first and
    the ticks last (a sweep then sees every listing), in checkpoints that write states
    and positions but no outputs (they were committed when the inputs were first folded)
    and leave the group's offsets alone. Runs before the partition takes live batches.
    """
    totals = Totals()
    roles = [r for r in context.topics if r != "ticks"] + ["ticks"]
    for role in roles:
        tp = TopicPartition(context.topics[role], owned.number)
        stop = owned.committed.get(role, 0)
        if owned.positions[role] >= stop:
            continue
        log.info("partition=%r replaying offsets %d..%d to rebuild states",
                 f"{tp.topic}[{tp.partition}]", owned.positions[role], stop - 1)  # fmt: skip
        async for fetched in reader.read(tp, owned.positions[role], stop):
            for at in range(0, len(fetched), chunk):
                done = await Checkpoint(context, [fetched[at : at + chunk]],
                                        replaying=owned).run(as_of, now)  # fmt: skip
                totals.replayed += done.replayed
                if owned.status not in (Status.RESTORING, Status.READY):
                    return totals  # lost meanwhile: its new owner rebuilds it
    return totals


def _due(state: Profile | None) -> dt.date | None:
    return None if state is None else next_due(state)


def _topic_id(owned: Owned) -> str | None:
    return owned.restored.meta.topic_id if owned.restored is not None else None


async def _send_all(
    txp: Any, topic: str, partition: int, records: Sequence[tuple[bytes | None, bytes]]
) -> tuple[asyncio.Future[Any], int]:
    """Send ``records`` to ``topic[partition]`` in as few batches as fit; the last batch's
    delivery future and how many records it holds."""
    batch, count = txp.create_batch(), 0
    future: asyncio.Future[Any] | None = None
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:
            if count == 0:
                raise WorkerError(
                    f"a record of {len(value)} bytes does not fit in a batch for {topic}"
                )
            await txp.send_batch(batch, topic, partition=partition)
            batch, count = txp.create_batch(), 0
            if batch.append(key=key, value=value, timestamp=None) is None:
                raise WorkerError(
                    f"a record of {len(value)} bytes does not fit in a batch for {topic}"
                )
        count += 1
    future = await txp.send_batch(batch, topic, partition=partition)
    return future, count
