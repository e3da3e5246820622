"""One batch of input messages in, the outputs of each partition out. No Kafka, no Faust.

The Faust agent (streams/app.py) hands a batch of raw messages here and sends what comes
back inside the transaction of each partition. Per message: decode (Confluent Avro),
check the subject fits the topic and the key is the credit code, validate, fold. Any
failure becomes a dead letter with its reason and coordinates, and the batch goes on.
Per enterprise touched, once per batch: the new state (for the state changelog), the
published profile, and its notices, in the order the events produced them.

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


@dataclass(frozen=True, slots=True)
class Message:
    """A raw input message and where it came from."""

    role: str  # enterprise, tax, trademark or blacklist
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    replayed: bool = False  # folded before: rebuild state, send nothing


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

    def __init__(self, codec: Codec, rules: Rules) -> None:
        self.codec = codec
        self.rules = rules

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
        now_s = (now - _EPOCH).total_seconds()
        for message in messages:
            partition = message.partition
            result = results.get(partition)
            if result is None:
                result = results[partition] = PartitionResult()
                touched[partition] = {}
            states = touched[partition]
            try:
                key, event = self._event(message)
            except _Rejected as rejected:
                if not message.replayed:
                    result.outputs.append(self._dead_letter(message, rejected, now))
                    result.dead_letters.append(rejected.reason)
                continue
            state = states.get(key)
            if state is None:
                state = before[key] = lookup(partition, key)
                state = state or Profile(event.event["uscc"])
            states[key], notices = apply(state, event, as_of, self.rules.catalog)
            if message.replayed:
                continue
            live.add(key)
            if notices:
                pending.setdefault(key, []).extend(notices)
            reported = event.event["reported_at"]
            result.events.setdefault(event.source, []).append(
                now_s - (reported - _EPOCH).total_seconds()
            )
        for partition, states in touched.items():
            self._publish(results[partition], states=states, pending=pending, before=before,
                          live=live, as_of=as_of)  # fmt: skip
        return results

    def sweep(
        self,
        states: Iterable[tuple[bytes, Profile]],
        as_of: dt.date,
        result: PartitionResult | None = None,
        *,
        replayed: bool = False,
    ) -> PartitionResult:
        """Re-evaluate ``states`` at ``as_of``: listings whose planned end came are lifted.

        The changes go into ``result`` (a partition's result of the same batch) if given.
        ``replayed``: the tick was handled before; change states, send nothing.
        """
        result = result if result is not None else PartitionResult()
        changed: dict[bytes, Profile] = {}
        before: dict[bytes, Profile | None] = {}
        pending: dict[bytes, list[dict[str, Any]]] = {}
        for key, state in states:
            new, notices = sweep(state, as_of, self.rules.catalog)
            if new is not state:
                changed[key], before[key] = new, None
                pending[key] = notices
        live = set() if replayed else set(changed)
        self._publish(result, states=changed, pending=pending, before=before, live=live,
                      as_of=as_of)  # fmt: skip
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
    ) -> None:
        encode = self.codec.encode
        for key, state in states.items():
            old = before.get(key)
            if old is not None and old.version == state.version:
                continue  # nothing changed (a repeat): publish nothing, write nothing
            result.states[key] = state
            if key not in live:
                continue  # rebuilt from inputs whose outputs were committed before
            result.outputs.append(
                Output("profiles", key, encode("profiles", render(state, as_of, self.rules)))
            )
            for notice in pending.get(key, ()):
                result.outputs.append(Output("penalties", key, encode("penalties", notice)))
                result.notices[notice["kind"]] = result.notices.get(notice["kind"], 0) + 1

    def _event(self, message: Message) -> tuple[bytes, SourceEvent]:
        if message.value is None:
            raise _Rejected("empty_value", "the message has no value (a tombstone?)")
        try:
            record, writer = self.codec.decode(message.value)
        except ContractError as error:
            raise _Rejected(error.reason, str(error)) from error
        if writer.subject != message.role:
            raise _Rejected(
                "wrong_subject",
                f"schema id {writer.id} is a {writer.subject} event, on the {message.role} topic",
            )
        record["event_id"] = str(record["event_id"])  # fastavro gives a UUID
        try:
            validate_event(message.role, record, self.rules.catalog)
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

    def _dead_letter(self, message: Message, rejected: _Rejected, now: dt.datetime) -> Output:
        letter = {
            "reason": rejected.reason,
            "message": str(rejected),
            "stage": "worker",
            "source_topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": message.key,
            "value": message.value,
            "failed_at": now,
        }
        return Output("deadletters", message.key, self.codec.encode("deadletters", letter))
