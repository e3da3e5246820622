"""The encode stage of the producer: raw rows in, Kafka-ready frames (or rejections) out.

Parsing, validating and Avro-encoding a row costs several times what kafka-python
spends sending it, and both are Python holding one GIL. So large files are encoded in
worker processes while the main process only sends; chunks come back in file order, so
an enterprise's rows reach Kafka in the order the file has them, and at most
``max_in_flight`` chunks are pending, so memory stays bounded on a multi-GB file.

Example::

    with ChunkReader(path) as reader, ChunkEncoder("tax", workers=1) as encoder:
        for result in encoder.map(reader):
            publisher.send_encoded("tax", result.keys, result.values)
"""

from __future__ import annotations

import collections
import datetime as dt
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from typing import Any

from base.runtime import tune_gc
from producers.partitioning import key_hash
from producers.readers import Chunk, RawRow, rows_of
from producers.rows import RowParser, RowRejected
from schemas.codec import Codec
from schemas.errors import EncodeError
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog

__all__ = ["ChunkEncoder", "EncodedChunk", "Rejected", "encode_rows"]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that will not be sent: where, which field, which rule, and the row itself."""

    line: int
    field: str
    reason: str
    message: str
    row: Any


@dataclass(frozen=True, slots=True)
class EncodedChunk:
    """One chunk's outcome: the good rows as parallel key/value lists (in file order, cheap
    to pass between processes) and the rejected ones."""

    rows: int
    keys: list[bytes]
    values: list[bytes]
    rejected: list[Rejected]
    hashes: list[int]  # each key's partitioner hash (producers/partitioning.py)


def encode_rows(
    parser: RowParser, codec: Codec, rows: Iterable[RawRow], now: dt.datetime
) -> EncodedChunk:
    """Parse, validate and encode ``rows``."""
    encode = codec.framed_encoder(parser.schema)
    keys: list[bytes] = []
    values: list[bytes] = []
    rejected: list[Rejected] = []
    hashes: list[int] = []
    count = 0
    for row in rows:
        count += 1
        try:
            if row.fields is None:
                raise RowRejected("(row)", row.problem_reason or "unreadable", row.problem or "")
            event = parser.parse(row.fields, now)
            value = encode(event)
        except RowRejected as rejection:
            original = row.fields if row.fields is not None else row.text
            rejected.append(
                Rejected(row.line, rejection.field, rejection.reason, rejection.message, original)
            )
        except EncodeError as error:
            rejected.append(Rejected(row.line, "(row)", error.reason, str(error), row.fields))
        except Exception as error:  # noqa: BLE001 - one row never stops a file
            message = f"{type(error).__name__}: {error}"[:500]
            rejected.append(Rejected(row.line, "(row)", "unreadable", message, row.text))
        else:
            key = event["uscc"].encode()
            keys.append(key)
            values.append(value)
            hashes.append(key_hash(key))
    return EncodedChunk(count, keys, values, rejected, hashes)


# Per worker process: built once by the pool's initializer.
_worker: tuple[RowParser, Codec] | None = None


def _start_worker(source: str, department: str | None = None) -> None:
    global _worker  # noqa: PLW0603 - one parser per process, by design
    registry = ManifestRegistry.load()
    parser = RowParser(source, registry.latest(source), load_catalog(), department)
    _worker = (parser, Codec(registry))


def _start_pool_worker(source: str, department: str | None) -> None:
    # A pool process does nothing but allocate short-lived rows and events, a million for
    # a large file: start-up's objects frozen and young collections rarer (base/runtime.py).
    _start_worker(source, department)
    tune_gc()


def _encode_in_worker(chunk: Chunk, now: dt.datetime) -> EncodedChunk:
    assert _worker is not None
    return encode_rows(*_worker, rows_of(chunk), now)


def _context() -> multiprocessing.context.BaseContext:
    # forkserver: workers are forked from a clean, single-threaded server process (our
    # caller may be running kafka-python's sender thread, and forking a threaded process
    # can copy a held lock into the child), with the encoder's modules already imported,
    # so only the first pool of a process pays for starting Python.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class ChunkEncoder:
    """Encode chunks of rows in order, in ``workers`` processes (0: in this process).

    ``now`` (default: the time each chunk is handed out) becomes ``reported_at`` of rows
    that have none.
    """

    def __init__(self, source: str, workers: int = 0, max_in_flight: int = 8,
                 department: str | None = None) -> None:  # fmt: skip
        self.source = source
        self.max_in_flight = max_in_flight
        self._pool: Pool | None = None
        if workers > 0:
            self._pool = _context().Pool(
                workers, initializer=_start_pool_worker, initargs=(source, department)
            )
        else:
            _start_worker(source, department)

    def map(
        self, chunks: Iterable[Chunk], now: dt.datetime | None = None
    ) -> Iterator[EncodedChunk]:
        """Outcomes of each chunk, in the order the chunks came in."""
        if self._pool is None:
            for chunk in chunks:
                yield _encode_in_worker(chunk, now or dt.datetime.now(dt.UTC))
            return
        pending: collections.deque[AsyncResult[EncodedChunk]] = collections.deque()
        for chunk in chunks:
            stamp = now or dt.datetime.now(dt.UTC)
            pending.append(self._pool.apply_async(_encode_in_worker, (chunk, stamp)))
            if len(pending) >= self.max_in_flight:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> ChunkEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
