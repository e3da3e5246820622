"""streams/store.py on a real RocksDB (rocksdict) on local disk: no Kafka needed.

What the worker relies on: one atomic write per batch (states, sweep index, meta), the
sweep index read in date order up to a day, a second opener of the same directory
refused, a wipe that leaves an empty store, and bounded shared resources.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from streams import state_codec
from streams.core import Profile, SourceEvent, apply, load_rules
from streams.errors import StoreError
from streams.store import PartitionStore, StoreMeta, StoreResources
from tests.samples import SAMPLES

AS_OF = dt.date(2018, 6, 30)
RESOURCES = StoreResources(cache_mib=8, write_buffer_mib=8)


def listed(uscc: str, planned_end_on: dt.date | None) -> bytes:
    event = {**SAMPLES["blacklist"], "uscc": uscc, "planned_end_on": planned_end_on}
    state, _ = apply(Profile(uscc), SourceEvent("blacklist", event), AS_OF, load_rules().catalog)
    return state_codec.dumps(state)


def meta(next_offset: int, **inputs: int) -> StoreMeta:
    return StoreMeta("g.state", "topic-id", 3, next_offset, inputs)


A, B, C = b"91330100716105852F", b"91330000733796106P", b"91330000727215176K"


def test_a_write_puts_states_index_and_meta_together_and_the_index_follows_the_dates(
    tmp_path: Path,
) -> None:
    store = PartitionStore.open(tmp_path / "p3", RESOURCES)
    assert store.meta is None
    a1, b1 = listed(A.decode(), dt.date(2019, 1, 31)), listed(B.decode(), dt.date(2018, 9, 1))
    store.write([(A, a1, None), (B, b1, None), (C, listed(C.decode(), None), None)],
                meta(10, tax=7))  # fmt: skip

    assert store.meta == meta(10, tax=7)
    assert store.get(A) == a1
    assert store.get_many([B, b"nobody"]) == [b1, None]
    assert store.due_keys(dt.date(2018, 8, 31)) == []
    assert store.due_keys(dt.date(2018, 9, 1)) == [B]
    assert store.due_keys(dt.date(2020, 1, 1)) == [B, A]  # in date order
    # A moves to an earlier date; B's listing ends (no date): the index moves with them.
    a2 = listed(A.decode(), dt.date(2018, 7, 15))
    b2 = state_codec.dumps(Profile(B.decode()))
    store.write([(A, a2, dt.date(2019, 1, 31)), (B, b2, dt.date(2018, 9, 1))], meta(14))
    assert store.due_keys(dt.date(2020, 1, 1)) == [A]
    assert store.due_keys(dt.date(2018, 7, 14)) == []
    assert sorted(k for k, _ in store.states()) == sorted([A, B, C])
    store.close()

    reopened = PartitionStore.open(tmp_path / "p3", RESOURCES)
    assert reopened.meta == meta(14)
    assert reopened.get(A) == a2
    reopened.close()


def test_a_changelog_copy_keeps_the_index_exact_across_repeats_and_deletes(tmp_path: Path) -> None:
    store = PartitionStore.open(tmp_path / "p0", RESOURCES)
    early, late = listed(A.decode(), dt.date(2018, 7, 1)), listed(A.decode(), dt.date(2019, 7, 1))
    store.copy_changelog([(A, early), (B, listed(B.decode(), dt.date(2018, 8, 1))), (A, late)],
                         meta(3))  # fmt: skip
    assert store.due_keys(dt.date(2018, 12, 31)) == [B]  # A's first date is gone
    store.copy_changelog([(B, None)], meta(4))  # a tombstone
    assert store.get(B) is None
    assert store.due_keys(dt.date(2030, 1, 1)) == [A]
    store.close()


def test_a_second_opener_is_refused_and_a_wipe_leaves_an_empty_store(tmp_path: Path) -> None:
    store = PartitionStore.open(tmp_path / "p1", RESOURCES)
    store.write([(A, listed(A.decode(), dt.date(2019, 1, 1)), None)], meta(1))
    with pytest.raises(StoreError, match="in use by another worker"):
        PartitionStore.open(tmp_path / "p1", RESOURCES)

    empty = store.wipe()
    assert store.closed
    assert empty.meta is None
    assert list(empty.states()) == []
    assert empty.due_keys(dt.date(2030, 1, 1)) == []
    with pytest.raises(StoreError, match="closed"):
        store.write([], meta(2))
    empty.close()


def test_a_corrupt_meta_is_an_error_and_another_format_is_no_meta(tmp_path: Path) -> None:
    assert StoreMeta.from_bytes(b'{"format": 99}') is None
    with pytest.raises(StoreError, match="corrupt"):
        StoreMeta.from_bytes(b"\xff not json")
    assert StoreMeta.from_bytes(meta(5, tax=1).to_bytes()) == meta(5, tax=1)
