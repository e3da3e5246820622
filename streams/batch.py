"""One batch of input messages in, the outputs of each partition out. No Kafka, no Faust.

The Faust agent (streams/app.py) hands a batch of raw messages here and sends what comes
back inside the transaction of each partition. Per message: decode (Confluent Avro),
check the subject fits the topic and the key is the credit code, validate (the bounds
against the broker's append time as the moment it was read), fold. Per enterprise
touched, once per batch: the new state (for the state changelog), the published profile,
and its notices, in the order the events produced them.

One decision point per record: whatever fails for one message or one enterprise (a
message the contract refuses, a fold or a sweep that raises, a profile that cannot be
rendered or encoded, an output larger than the broker takes) becomes a dead letter with
its reason and coordinates, and every other message and enterprise goes on. Nothing that
one record carries can raise out of :meth:`BatchProcessor.process`: a worker that
crashed on it would meet it again after its restart, for ever.

A message marked ``replayed`` was folded before and its outputs are already committed
(the worker reads it again only to rebuild a lost state, streams/partitions.py): it
changes the state, but adds no notice and no dead letter, and an enterprise touched
only by replayed messages gets its new state without a profile.

Example::

    processor = BatchProcessor(codec, rules)
    results = processor.process(messages, lookup=states.get, as_of=today, now=utcnow)
    for partition, result in results.items(): ...   # result.outputs, result.states
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.codec import Codec
from schemas.errors import ContractError
from schemas.events import validate_event
from streams.core import Profile, Rules, SourceEvent, apply, render, sweep

__all__ = ["BatchProcessor", "Message", "Output", "PartitionResult"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Kafka's default largest record (message.max.bytes 1,048,588) less room for the batch
# header and the key: a profile larger than this would fail its whole transaction.
MAX_OUTPUT_BYTES = 990_000
_MAX_LETTER_TEXT = 2000  # a dead letter's message, and its key, are cut to this


# Not frozen: one is built per input record, and a frozen dataclass's __init__ costs
# 2 µs there (object.__setattr__ per field) against 0.25 µs; nothing changes one after.
@dataclass(slots=True)
class Message:
    """A raw input message and where it came from (also the origin of its dead letter)."""

    role: str  # enterprise, tax, trademark or blacklist
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    replayed: bool = False  # folded before: rebuild state, send nothing
    timestamp_ms: int | None = None  # the broker's append time (None: read now)


Lookup = Callable[[int, bytes], "Profile | None"]
"""``(partition, key) -> the committed state before the batch``, or None."""


@dataclass(frozen=True, slots=True)
class Output:
    """A record to send: ``role`` is profiles, penalties or deadletters."""

    role: str
    key: bytes | None
    value: bytes


@dataclass
class PartitionResult:
    """What one partition's share of a batch produced."""

    outputs: list[Output] = field(default_factory=list)
    states: dict[bytes, Profile] = field(default_factory=dict)  # new state per key
    events: dict[str, list[float]] = field(default_factory=dict)  # source -> freshness (s)
    notices: dict[str, int] = field(default_factory=dict)  # kind -> count
    dead_letters: list[str] = field(default_factory=list)  # reasons


class _Rejected(Exception):  # noqa: N818 - a verdict on a message, not a failure of ours
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BatchProcessor:
    """Fold batches of raw messages with ``rules``; encode with ``codec``.

    Args:
        codec: the Confluent codec (inputs are decoded, outputs encoded with it).
        rules: scorecard, credit-line and catalog rules (``streams.core.load_rules()``).
    """

    def __init__(
        self, codec: Codec, rules: Rules, *, max_output_bytes: int = MAX_OUTPUT_BYTES
    ) -> None:
        self.codec = codec
        self.rules = rules
        self.max_output_bytes = max_output_bytes

    def process(
        self,
        messages: Sequence[Message],
        lookup: Lookup,
        as_of: dt.date,
        now: dt.datetime,
    ) -> dict[int, PartitionResult]:
        """Fold ``messages`` (in order) onto the states ``lookup`` returns."""
        results: dict[int, PartitionResult] = {}
        touched: dict[int, dict[bytes, Profile]] = {}
        before: dict[bytes, Profile | None] = {}
        pending: dict[bytes, list[dict[str, Any]]] = {}
        live: set[bytes] = set()  # touched by a message that was not replayed
        origins: dict[bytes, Origin] = {}  # the last live message of each enterprise
        now_s = (now - _EPOCH).total_seconds()
        for message in messages:
            partition = message.partition
            result = results.get(partition)
            if result is None:
                result = results[partition] = PartitionResult()
                touched[partition] = {}
            states = touched[partition]
            try:
                key, event = self._event(message, now)
                state = states.get(key)
                if state is None:
                    state = before[key] = lookup(partition, key)
                    state = state or Profile(event.event["uscc"])
                states[key], notices = _fold(state, event, as_of, self.rules)
            except _Rejected as rejected:
                if not message.replayed:
                    self._reject(result, message, rejected.reason, str(rejected), now)
                continue
            if message.replayed:
                continue
            live.add(key)
            origins[key] = message
            if notices:
                pending.setdefault(key, []).extend(notices)
            reported = event.event["reported_at"]
            result.events.setdefault(event.source, []).append(
                now_s - (reported - _EPOCH).total_seconds()
            )
        for partition, states in touched.items():
            self._publish(results[partition], states=states, pending=pending, before=before,
                          live=live, as_of=as_of, origins=origins, now=now)  # fmt: skip
        return results

    def sweep(
        self,
        states: Iterable[tuple[bytes, Profile]],
        as_of: dt.date,
        result: PartitionResult | None = None,
        *,
        replayed: bool = False,
        now: dt.datetime | None = None,
        tick: tuple[str, int, int] = ("ticks", -1, -1),
    ) -> PartitionResult:
        """Re-evaluate ``states`` at ``as_of``: listings whose planned end came are lifted.

        The changes go into ``result`` (a partition's result of the same batch) if given.
        ``replayed``: the tick was handled before; change states, send nothing. ``tick``
        is the tick's (topic, partition, offset), named by the dead letter of a state
        whose sweep fails (that state is left as it was).
        """
        result = result if result is not None else PartitionResult()
        now = now or dt.datetime.now(dt.UTC)
        changed: dict[bytes, Profile] = {}
        before: dict[bytes, Profile | None] = {}
        pending: dict[bytes, list[dict[str, Any]]] = {}
        origins: dict[bytes, Origin] = {}
        for key, state in states:
            origin = origins[key] = _Origin(*tick, key)
            try:
                new, notices = sweep(state, as_of, self.rules.catalog)
            except Exception as error:  # noqa: BLE001 - one state never stops a sweep
                if not replayed:
                    self._reject(result, origin, "fold_failed", _described(error), now)
                continue
            if new is not state:
                changed[key], before[key] = new, None
                pending[key] = notices
        live = set() if replayed else set(changed)
        self._publish(result, states=changed, pending=pending, before=before, live=live,
                      as_of=as_of, origins=origins, now=now)  # fmt: skip
        return result

    def _publish(
        self,
        result: PartitionResult,
        *,
        states: dict[bytes, Profile],
        pending: dict[bytes, list[dict[str, Any]]],
        before: dict[bytes, Profile | None],
        live: set[bytes],
        as_of: dt.date,
        origins: dict[bytes, Origin],
        now: dt.datetime,
    ) -> None:
        for key, state in states.items():
            old = before.get(key)
            if old is not None and old.version == state.version:
                continue  # nothing changed (a repeat): publish nothing, write nothing
            result.states[key] = state
            if key not in live:
                continue  # rebuilt from inputs whose outputs were committed before
            try:
                outputs = self._outputs(key, state, pending.get(key, ()), as_of)
            except _Rejected as rejected:
                # The state is kept (its events were folded): the enterprise's next event
                # renders again. What is lost is this profile and its notices, named here.
                self._reject(result, origins[key], rejected.reason, str(rejected), now)
                continue
            result.outputs.extend(outputs)
            for notice in pending.get(key, ()):
                result.notices[notice["kind"]] = result.notices.get(notice["kind"], 0) + 1

    def _outputs(
        self, key: bytes, state: Profile, notices: Iterable[dict[str, Any]], as_of: dt.date
    ) -> list[Output]:
        try:
            profile = self.codec.encode("profiles", render(state, as_of, self.rules))
            outputs = [Output("profiles", key, profile)]
            outputs.extend(
                Output("penalties", key, self.codec.encode("penalties", n)) for n in notices
            )
        except Exception as error:
            raise _Rejected("render_failed", _described(error)) from error
        for output in outputs:
            if len(output.value) > self.max_output_bytes:
                raise _Rejected(
                    "output_too_large",
                    f"the {output.role} record is {len(output.value):,} bytes, the broker "
                    f"takes at most {self.max_output_bytes:,}",
                )
        return outputs

    def _event(self, message: Message, now: dt.datetime) -> tuple[bytes, SourceEvent]:
        if message.value is None:
            raise _Rejected("empty_value", "the message has no value (a tombstone?)")
        try:
            record, writer = self.codec.decode(message.value)
        except ContractError as error:
            raise _Rejected(error.reason, str(error)) from error
        except Exception as error:
            raise _Rejected("corrupt_body", _described(error)) from error
        if writer.subject != message.role:
            raise _Rejected(
                "wrong_subject",
                f"schema id {writer.id} is a {writer.subject} event, on the {message.role} topic",
            )
        record["event_id"] = str(record["event_id"])  # fastavro gives a UUID
        read_at = now if message.timestamp_ms is None else _instant(message.timestamp_ms)
        try:
            validate_event(message.role, record, self.rules.catalog, read_at=read_at)
        except ContractError as error:
            raise _Rejected(error.reason, str(error)) from error
        key = record["uscc"].encode()
        if message.key != key:
            # Keyed otherwise, it may sit in another enterprise's partition: folding it
            # would split that enterprise's state between two workers.
            raise _Rejected(
                "key_mismatch", f"message key {message.key!r} is not the event's uscc {key!r}"
            )
        return key, SourceEvent(message.role, record)

    def _reject(
        self, result: PartitionResult, origin: Origin, reason: str, text: str, now: dt.datetime
    ) -> None:
        value = origin.value
        if value is not None and len(value) > self.max_output_bytes // 2:
            value = None  # the letter must fit where the message did; its offset finds it
            text += " (value left out of this letter: read it at its offset)"
        key = origin.key[:_MAX_LETTER_TEXT] if origin.key is not None else None
        letter = {
            "reason": reason,
            "message": text[:_MAX_LETTER_TEXT],
            "stage": "worker",
            "source_topic": origin.topic,
            "partition": origin.partition,
            "offset": origin.offset,
            "key": key,
            "value": value,
            "failed_at": now,
        }
        result.outputs.append(Output("deadletters", key, self.codec.encode("deadletters", letter)))
        result.dead_letters.append(reason)


@dataclass(slots=True)
class _Origin:
    """Where a dead letter's record came from, when it is not a message (a tick's sweep)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None = None


Origin = Message | _Origin  # what a dead letter names: topic, partition, offset, key, value


def _fold(
    state: Profile, event: SourceEvent, as_of: dt.date, rules: Rules
) -> tuple[Profile, list[dict[str, Any]]]:
    try:
        return apply(state, event, as_of, rules.catalog)
    except Exception as error:
        raise _Rejected("fold_failed", _described(error)) from error


def _described(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _instant(timestamp_ms: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=timestamp_ms)
