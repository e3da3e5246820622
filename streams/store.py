"""The enterprise states of one input partition, on local disk (RocksDB through rocksdict).

A :class:`PartitionStore` is a *copy* of that partition's state changelog topic, never
ahead of it: the worker writes a batch's states only after the batch's Kafka transaction
has committed (streams/checkpoint.py), so after any crash the store lags the changelog
by at most what the last transactions wrote, and the worker reads that tail back. It
holds, written together in one RocksDB write batch each time:

- ``s<credit code>``: the state, in its stored form (streams/state_codec.py);
- ``d<due date><credit code>``: the sweep index: states whose listings reach their
  planned end date on that day (4-byte big-endian ordinal, so the index reads in date
  order and a sweep reads only what is due);
- ``m``: the meta (:class:`StoreMeta`): which changelog (topic, topic id, partition) the
  store copies, the changelog offset it is complete up to, and the input offsets its
  states reflect.

Memory is bounded by :class:`StoreResources`, shared by every partition store of a
process: one block cache and one write-buffer budget, whatever the number of states.
Writes go through the write-ahead log without fsync: a killed process loses nothing,
a machine that loses power may lose the last writes, which the changelog has anyway.

Example::

    resources = StoreResources(cache_mib=64, write_buffer_mib=64)
    store = PartitionStore.open(data_dir / "p3", resources)
    store.write([(b"913301...", value, None)], meta)   # after the transaction committed
    store.get(b"913301...")                             # value
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import rocksdict

from streams import state_codec
from streams.errors import StoreError, StoreInUseError

__all__ = ["PartitionStore", "StoreMeta", "StoreResources"]

STORE_FORMAT = 1
_META = b"m"
_STATE = b"s"
_DUE = b"d"
_DAY = struct.Struct(">I")

Change = tuple[bytes, bytes, "dt.date | None"]
"""``(key, new stored value, the sweep date of the value it replaces)``."""


@dataclass(frozen=True)
class StoreMeta:
    """Where a partition store stands against Kafka.

    Attributes:
        changelog: the state changelog topic the store copies.
        topic_id: that topic's id (a recreated topic has a new one), if the broker said.
        partition: the partition (of the changelog and of every input topic).
        changelog_next: the store holds every changelog record below this offset.
        inputs: input topic role -> the next offset the states reflect (the offsets
            committed in the same transaction as the last changelog record copied).
    """

    changelog: str
    topic_id: str | None
    partition: int
    changelog_next: int
    inputs: Mapping[str, int] = field(default_factory=dict)
    format: int = STORE_FORMAT

    def to_bytes(self) -> bytes:
        return json.dumps({**asdict(self), "inputs": dict(self.inputs)}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> StoreMeta | None:
        """The meta, or None for a store of another format (it is then rebuilt)."""
        try:
            raw = json.loads(data)
            if raw.get("format") != STORE_FORMAT:
                return None
            return cls(**raw)
        except (ValueError, TypeError) as error:
            raise StoreError(f"the store's meta record is corrupt: {error}") from error


class StoreResources:
    """What every partition store of a process shares: block cache, memtable budget.

    Args:
        cache_mib: block cache (decompressed data blocks, indexes, bloom filters).
        write_buffer_mib: memtables of all the stores together; a store flushes when
            the total would pass it.
    """

    def __init__(self, cache_mib: int = 64, write_buffer_mib: int = 64) -> None:
        self.cache = rocksdict.Cache(cache_mib << 20)
        self.write_buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            write_buffer_mib << 20, False, self.cache
        )
        self.write_buffer_mib = write_buffer_mib

    def options(self) -> rocksdict.Options:
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        table = rocksdict.BlockBasedOptions()
        table.set_block_cache(self.cache)
        table.set_bloom_filter(10, False)
        table.set_cache_index_and_filter_blocks(True)
        options.set_block_based_table_factory(table)
        options.set_write_buffer_manager(self.write_buffers)
        options.set_write_buffer_size(max(4, self.write_buffer_mib // 4) << 20)
        options.set_max_write_buffer_number(2)
        options.set_compression_type(rocksdict.DBCompressionType.lz4())
        options.set_max_open_files(256)
        options.set_keep_log_file_num(2)
        options.set_max_background_jobs(2)
        return options


class PartitionStore:
    """One partition's states, sweep index and meta in a RocksDB directory."""

    def __init__(self, path: Path, db: Any, resources: StoreResources) -> None:
        self.path = path
        self._db = db
        self._resources = resources
        self.closed = False

    @classmethod
    def open(cls, path: Path, resources: StoreResources) -> PartitionStore:
        """Open (or create) the store at ``path``; StoreError if RocksDB refuses.

        RocksDB locks the directory: a second worker given the same data directory is
        refused here, with a message that says so.
        """
        path.mkdir(parents=True, exist_ok=True)
        try:
            db = rocksdict.Rdict(str(path), resources.options())
        except Exception as error:  # rocksdict raises plain Exception
            text = str(error)
            if "lock" in text.lower():
                raise StoreInUseError(
                    f"the state store {path} is in use by another worker process: give "
                    "each worker its own --data-dir or --instance"
                ) from error
            raise StoreError(f"cannot open the state store {path}: {text}") from error
        return cls(path, db, resources)

    # -- reading -------------------------------------------------------------------

    @property
    def meta(self) -> StoreMeta | None:
        try:
            data = self._db.get(_META)
        except Exception as error:  # rocksdict raises plain Exception (e.g. Corruption)
            raise StoreError(f"reading the state store {self.path} failed: {error}") from error
        return None if data is None else StoreMeta.from_bytes(data)

    def get(self, key: bytes) -> bytes | None:
        try:
            value: bytes | None = self._db.get(_STATE + key)
        except Exception as error:  # rocksdict raises plain Exception (e.g. Corruption)
            raise StoreError(f"reading the state store {self.path} failed: {error}") from error
        return value

    def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            values: list[bytes | None] = self._db.get([_STATE + k for k in keys])
        except Exception as error:  # rocksdict raises plain Exception (e.g. Corruption)
            raise StoreError(f"reading the state store {self.path} failed: {error}") from error
        return values

    def due_keys(self, as_of: dt.date) -> list[bytes]:
        """The keys whose sweep date is on or before ``as_of`` (from the index only)."""
        upper = _DUE + _DAY.pack(as_of.toordinal() + 1)
        found = []
        for key in self._range(_DUE, upper):
            found.append(key[1 + _DAY.size :])
        return found

    def states(self) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key, stored state)``, in key order."""
        it = self._db.iter()
        it.seek(_STATE)
        while it.valid():
            key = it.key()
            if not key.startswith(_STATE):
                break
            yield key[1:], it.value()
            it.next()

    def _range(self, lower: bytes, upper: bytes) -> Iterator[bytes]:
        it = self._db.iter()
        it.seek(lower)
        while it.valid():
            key = it.key()
            if key >= upper:
                break
            yield key
            it.next()

    # -- writing -------------------------------------------------------------------

    def write(self, changes: Iterable[Change], meta: StoreMeta) -> int:
        """States replaced (or added) and the new meta, in one atomic write. Returns how many."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        n = 0
        for key, value, old_due in changes:
            batch.put(_STATE + key, value)
            new_due = state_codec.due_of(value)
            if new_due != old_due:
                if old_due is not None:
                    batch.delete(_DUE + _DAY.pack(old_due.toordinal()) + key)
                if new_due is not None:
                    batch.put(_DUE + _DAY.pack(new_due.toordinal()) + key, b"")
            n += 1
        batch.put(_META, meta.to_bytes())
        self._write(batch)
        return n

    def copy_changelog(
        self, records: Sequence[tuple[bytes, bytes | None]], meta: StoreMeta
    ) -> None:
        """Apply changelog records (oldest first, ``None`` deletes) and the new meta, atomically.

        The sweep dates of the values they replace are read from the store, so the index
        stays exact; a key repeated within ``records`` is handled in order.
        """
        keys = [k for k, _ in records]
        previous = dict(zip(keys, self.get_many(keys), strict=True))
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in records:
            old = previous.get(key)
            old_due = state_codec.due_of(old) if old is not None else None
            new_due = state_codec.due_of(value) if value is not None else None
            if value is None:
                batch.delete(_STATE + key)
            else:
                batch.put(_STATE + key, value)
            if old_due != new_due:
                if old_due is not None:
                    batch.delete(_DUE + _DAY.pack(old_due.toordinal()) + key)
                if new_due is not None:
                    batch.put(_DUE + _DAY.pack(new_due.toordinal()) + key, b"")
            previous[key] = value
        batch.put(_META, meta.to_bytes())
        self._write(batch)

    def _write(self, batch: Any) -> None:
        if self.closed:
            raise StoreError(f"the state store {self.path} is closed")
        try:
            self._db.write(batch)
        except Exception as error:  # rocksdict raises plain Exception
            raise StoreError(f"writing the state store {self.path} failed: {error}") from error

    def estimated_states(self) -> int:
        """RocksDB's estimate of the keys (states + index + meta): for progress lines."""
        with contextlib.suppress(Exception):
            return int(self._db.property_int_value("rocksdb.estimate-num-keys") or 0)
        return 0

    # -- lifecycle -----------------------------------------------------------------

    def wipe(self) -> PartitionStore:
        """Delete everything and return the store reopened empty (this object is closed)."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)
        return PartitionStore.open(self.path, self._resources)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self._db.close()
