"""The sink's dead letters: recorded with the partition's offset, then sent, at most once.

A record the sink cannot use meets one decision point: :func:`sink.convert.convert` for
anything about decoding it or building its rows, :class:`sink.service.Sink` for rows
PostgreSQL refuses. Either way it becomes a *letter*, a row of ``credit.dead_letter``
(``readmodel/migrations/0002_dead_letter.sql``) written by :func:`sink.writer.write_batch` in
the same transaction as the partition's next offset. The sink then goes on.

Reasons (stable, the ``reason`` label of ``zjcredit_sink_dead_letters_total``):

- ``tombstone``: no value at all, on the profiles or penalties topic;
- ``bad_magic_byte``, ``unknown_schema_id``, ``corrupt_body``: the codec's reasons for a
  value that is not a Confluent frame, of an unknown schema id, or whose body does not
  decode;
- ``wrong_subject``: a valid frame of another subject (an enterprise event on profiles);
- ``bad_row``: decoded, but building its rows raised (the message names the error);
- ``refused_<SQLSTATE>``: PostgreSQL refused its rows for their data, class 22 (data
  exception: ``refused_22003`` an amount out of range, ``refused_22021`` a NUL), 23
  (``refused_23514`` a check constraint) or 54 (``refused_54000``: a key too large for
  its index, such as a 4,000-character ``decision_no``).

Bad *input* events on the source topics are not lettered here: the worker has already
dead-lettered them, and the sink skips them (counted) so the history holds exactly what
the worker folded.

The protocol, in order (one :class:`Outbox`; the states are ``dead_letter.state``):

1. ``recorded``: the batch's transaction inserts the letter, keyed by its record's topic,
   partition and offset (``on conflict do nothing``), and stores the offset past it; or
   it does neither. A crash replays only batches whose transaction did not commit, so no
   record is ever recorded twice.
2. ``sending``: after the commit, one autocommitted ``UPDATE`` claims up to
   :data:`CHUNK` recorded letters for this connection (``claimed_by`` =
   ``pg_backend_pid()``, ``FOR UPDATE SKIP LOCKED``: two sinks never claim one letter).
   The claim is durable *before* anything is sent.
3. ``sent``: the letters go to ``<prefix>.deadletters`` (acks=all, idempotent producer)
   and are marked.

Why at most once: a letter is sent only by the connection that moved it from
``recorded`` to ``sending``, and nothing ever moves it back. A crash (or a Kafka error)
between 2 and 3 leaves it ``sending`` with a claimer that is gone; the next publish, by
any sink, marks it ``in_doubt``, logs it and counts it
(``zjcredit_sink_dead_letters_in_doubt_total``). It may or may not be on the topic and is
not sent again on its own: an operator who checked re-queues it with
``update credit.dead_letter set state = 'recorded' where state = 'in_doubt'``. A crash
between 1 and 2 loses nothing: the sink publishes recorded letters at every start and
after every batch that recorded one. ``sink rebuild`` drops this table with the read
model and replays every topic, so it records and sends the letters again (same
``source_topic``, ``partition``, ``offset``: the key a consumer deduplicates on).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from readmodel.migrate import SCHEMA
from schemas.codec import Codec

__all__ = [
    "BAD_ROW",
    "CHUNK",
    "RECORD",
    "TOMBSTONE",
    "WRONG_SUBJECT",
    "LetterRow",
    "Outbox",
    "letter_row",
    "refused",
]

log = logging.getLogger("zjcredit.sink")

TOMBSTONE = "tombstone"
WRONG_SUBJECT = "wrong_subject"
BAD_ROW = "bad_row"
CHUNK = 100  # letters claimed (and so in doubt after a crash) at a time
_MESSAGE_MAX = 2000

LetterRow = tuple[str, int, int, str, str, bytes | None, bytes | None, dt.datetime]
"""``(source_topic, partition, offset, reason, message, key, value, failed_at)``."""

RECORD = f"""
insert into {SCHEMA}.dead_letter
    (source_topic, "partition", "offset", reason, message, key, value, failed_at)
values ($1, $2, $3, $4, $5, $6, $7, $8)
on conflict (source_topic, "partition", "offset") do nothing
"""
_IN_DOUBT = f"""
update {SCHEMA}.dead_letter set state = 'in_doubt'
where state = 'sending' and claimed_by not in (select pid from pg_stat_activity)
returning source_topic, "partition", "offset", reason
"""
_CLAIM = f"""
update {SCHEMA}.dead_letter d set state = 'sending', claimed_by = pg_backend_pid()
from (select source_topic, "partition", "offset" from {SCHEMA}.dead_letter
      where state = 'recorded' order by failed_at, source_topic, "partition", "offset"
      limit $1 for update skip locked) c
where (d.source_topic, d."partition", d."offset") = (c.source_topic, c."partition", c."offset")
returning d.source_topic, d."partition", d."offset", d.reason, d.message, d.key, d.value,
          d.failed_at
"""
_MARK = f"""
update {SCHEMA}.dead_letter set state = $4, sent_at = case when $4 = 'sent' then now() end
where (source_topic, "partition", "offset") in
      (select * from unnest($1::text[], $2::integer[], $3::bigint[]))
  and state in ('sending', 'in_doubt')
"""


def refused(error: BaseException) -> str:
    """The reason for rows PostgreSQL refused: ``refused_<SQLSTATE>``."""
    return f"refused_{getattr(error, 'sqlstate', None) or 'unknown'}"


def _clean(message: str) -> str:
    """A message PostgreSQL's ``text`` takes: no NUL, valid UTF-8, bounded length.

    The message often quotes the record; a letter that PostgreSQL refused in turn would
    fail the offset's transaction and stop the sink on the very record it reports.
    """
    length = len(message)
    message = message.replace("\x00", "\\x00")
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    if len(message) > _MESSAGE_MAX:
        suffix = f"... ({length} chars)"
        message = message[: _MESSAGE_MAX - len(suffix)] + suffix
    return message


def letter_row(topic: str, partition: int, offset: int, *, key: bytes | None,
               value: bytes | None, reason: str, message: str,
               failed_at: dt.datetime | None = None) -> LetterRow:  # fmt: skip
    """The ``dead_letter`` row for one record (``failed_at`` defaults to now)."""
    at = failed_at or dt.datetime.now(dt.UTC)
    return (topic, partition, offset, reason, _clean(message), key, value, at)


Run = Callable[[Callable[[asyncpg.Connection], Awaitable[Any]]], Awaitable[Any]]
"""Runs a statement on the sink's connection, retrying while PostgreSQL is unavailable."""


class Outbox:
    """Sends recorded letters to ``<prefix>.deadletters`` and marks them (see above).

    Args:
        producer: a started producer (acks=all, idempotent).
        codec: encodes letters as ``deadletters`` (schemas/avro/dead_letter.v1.avsc).
        topic: the dead-letter topic.
        on_sent: called with each letter's reason once it is on the topic.
        on_in_doubt: called with each letter's reason when it is marked ``in_doubt``.
    """

    def __init__(self, producer: AIOKafkaProducer, codec: Codec, topic: str,
                 on_sent: Callable[[str], None],
                 on_in_doubt: Callable[[str], None]) -> None:  # fmt: skip
        self.producer = producer
        self.codec = codec
        self.topic = topic
        self.on_sent = on_sent
        self.on_in_doubt = on_in_doubt

    async def publish(self, run: Run) -> int:
        """Mark letters whose claimer died ``in_doubt``, then send every recorded one.

        Returns how many were sent. Stops early (leaving the rest recorded, for the next
        call) when Kafka fails a send; the letters of that chunk are then in doubt.
        """
        for topic, partition, offset, reason in await run(lambda c: c.fetch(_IN_DOUBT)):
            log.error(
                "partition=%r offset=%d dead letter in doubt: reason=%s was claimed by a "
                "sink that stopped before marking it sent; it may be missing from %s "
                "(credit.dead_letter has it)",
                f"{topic}[{partition}]", offset, reason, self.topic,
            )  # fmt: skip
            self.on_in_doubt(reason)
        sent = 0
        while claimed := await run(lambda c: c.fetch(_CLAIM, CHUNK)):
            try:
                await self._send(claimed)
            except KafkaError as error:
                await self._mark(run, claimed, "in_doubt")
                log.error(
                    "%d dead letters in doubt: sending to %s failed (%s: %s); "
                    "credit.dead_letter has them",
                    len(claimed), self.topic, type(error).__name__, error,
                )  # fmt: skip
                for row in claimed:
                    self.on_in_doubt(row["reason"])
                return sent
            await self._mark(run, claimed, "sent")
            for row in claimed:
                log.warning(
                    "partition=%r offset=%d dead letter reason=%s: %s",
                    f"{row['source_topic']}[{row['partition']}]",
                    row["offset"], row["reason"], row["message"],
                )  # fmt: skip
                self.on_sent(row["reason"])
            sent += len(claimed)
        return sent

    async def _send(self, claimed: Sequence[asyncpg.Record]) -> None:
        pending = []
        for row in claimed:
            letter = {
                "reason": row["reason"],
                "message": row["message"],
                "stage": "sink",
                "source_topic": row["source_topic"],
                "partition": row["partition"],
                "offset": row["offset"],
                "key": row["key"],
                "value": row["value"],
                "failed_at": row["failed_at"],
            }
            try:
                sending = await self.producer.send(
                    self.topic, self.codec.encode("deadletters", letter), key=row["key"]
                )
            except MessageSizeTooLargeError:
                # Refused before anything left: the letter of a record near the size
                # limit, carrying its bytes. Those stay in credit.dead_letter.
                size = len(row["value"] or b"")
                letter["message"] += f" (its {size}-byte value is in credit.dead_letter only)"
                letter["value"] = None
                sending = await self.producer.send(
                    self.topic, self.codec.encode("deadletters", letter), key=row["key"]
                )
            pending.append(sending)
        await asyncio.gather(*pending)

    @staticmethod
    async def _mark(run: Run, claimed: Sequence[asyncpg.Record], state: str) -> None:
        keys = (
            [r["source_topic"] for r in claimed],
            [r["partition"] for r in claimed],
            [r["offset"] for r in claimed],
        )
        await run(lambda c: c.execute(_MARK, *keys, state))
