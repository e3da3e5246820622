"""PendingStates: states reach the Table only when their transaction commits."""

from __future__ import annotations

from streams.pending import PendingStates


def test_a_pending_state_is_read_first_and_reaches_the_table_on_commit() -> None:
    table = {b"a": 1, b"b": 1}
    pending = PendingStates(table)
    pending.stage("t0", {b"a": 2})
    assert pending.get(b"a") == 2
    assert table[b"a"] == 1  # not before its transaction commits
    assert pending.promote("t0") == 1
    assert table == {b"a": 2, b"b": 1}
    assert len(pending) == 0


def test_an_aborted_transaction_leaves_the_table_as_it_was() -> None:
    table = {b"a": 1}
    pending = PendingStates(table)
    pending.stage("t0", {b"a": 2, b"c": 1})
    pending.stage("t1", {b"d": 5})
    assert pending.discard("t0") == 2
    assert pending.get(b"a") == 1
    assert pending.get(b"c") is None
    assert table == {b"a": 1}
    assert pending.get(b"d") == 5  # another transaction's states stay pending


def test_a_later_stage_of_the_same_key_wins_and_items_merge_both_views() -> None:
    table = {b"a": 1, b"b": 1}
    pending = PendingStates(table)
    pending.stage("t0", {b"a": 2})
    pending.stage("t0", {b"a": 3})
    assert dict(pending.items()) == {b"a": 3, b"b": 1}
    assert pending.discard_all() == 1
    assert pending.promote("t0") == 0  # nothing left to promote
    assert table == {b"a": 1, b"b": 1}
