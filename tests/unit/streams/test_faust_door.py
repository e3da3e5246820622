"""streams/faust_door.py: every private name it relies on is checked, and its pieces.

Nothing is started: a Faust app is configured, not run, and the scheduler is fed plain
records, so these run without a broker.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import faust
import pytest
from faust.transport.consumer import TransactionManager
from faust.transport.drivers.aiokafka import Producer

from streams.errors import FaustUnsupportedError
from streams.faust_door import (
    RETRY_BACKOFF_S,
    BalancedAssignor,
    BatchScheduler,
    PartitionProducers,
    check,
    tune,
)


def app(**conf: Any) -> faust.App:
    return faust.App(
        "door-test",
        broker="kafka://127.0.0.1:1",
        **{"ConsumerScheduler": BatchScheduler, "PartitionAssignor": BalancedAssignor, **conf},
    )


def test_the_installed_faust_and_aiokafka_have_everything_the_door_uses() -> None:
    check(app())


@pytest.mark.parametrize("name", ["_transaction_producers", "_trn_locks", "stop_transaction"])
def test_a_missing_private_name_is_named_with_the_installed_versions(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delattr(Producer, name)
    with pytest.raises(FaustUnsupportedError, match=rf"{name}.*faust-streaming 0\.15"):
        check(app())


def test_aiokafkas_transaction_state_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiokafka.producer import transaction_manager  # noqa: PLC0415

    monkeypatch.delattr(transaction_manager.TransactionManager, "is_in_transaction")
    with pytest.raises(FaustUnsupportedError, match="is_in_transaction"):
        check(app())


def test_settings_that_would_break_batches_or_co_partitioning_are_refused() -> None:
    with pytest.raises(FaustUnsupportedError, match="ConsumerScheduler"):
        check(faust.App("door-test", broker="kafka://127.0.0.1:1"))
    with pytest.raises(FaustUnsupportedError, match="round-robin"):
        check(app(table_standby_replicas=0))
    with pytest.raises(FaustUnsupportedError, match="BalancedAssignor"):
        check(
            faust.App("door-test", broker="kafka://127.0.0.1:1", ConsumerScheduler=BatchScheduler)
        )


def _split(replicas: int, held: list[set[int]], partitions: int) -> list[int]:
    """Partitions per member, the members holding ``held`` before (one set each)."""
    from faust.assignor.client_assignment import CopartitionedAssignment  # noqa: PLC0415
    from faust.assignor.copartitioned_assignor import CopartitionedAssignor  # noqa: PLC0415

    topics = {"enterprise", "tax"}
    clients = {f"w{i}": CopartitionedAssignment(actives=set(actives), topics=topics)
               for i, actives in enumerate(held)}  # fmt: skip
    assignor = CopartitionedAssignor(topics, clients, num_partitions=partitions,
                                     replicas=replicas)  # fmt: skip
    done = assignor.get_assignment()
    return [len(done[f"w{i}"].actives) for i in range(len(held))]


@pytest.mark.parametrize(
    ("held", "partitions"),
    [
        ([{0, 1, 2, 3}, set(), set()], 4),  # one worker, then three
        ([{2, 3}, set(), {0, 1}], 4),  # two, then a third joins
        ([{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9, 10, 11}, set()], 12),
        ([set(range(12)), set()], 12),
    ],
)
def test_the_worker_s_assignor_leaves_no_member_idle_and_none_over_its_share(
    held: list[set[int]], partitions: int
) -> None:
    replicas = BalancedAssignor(app()).replicas
    split = _split(replicas, held, partitions)
    assert sum(split) == partitions
    assert min(split) >= 1, split  # no member idle (#401: not always floor(P/N) each)
    assert max(split) <= -(-partitions // len(held)), split


def test_fausts_default_standby_replica_can_leave_a_joining_member_nothing() -> None:
    # faust-streaming#93 (open), seen in the 1 -> 3 -> 1 workers test: why BalancedAssignor
    # exists. If this fails, upstream has fixed it.
    assert _split(1, [{2, 3}, set(), {0, 1}], 4) == [2, 0, 2]


class Record(NamedTuple):
    offset: int
    timestamp: int


class TP(NamedTuple):
    topic: str
    partition: int


def test_the_scheduler_hands_over_each_partitions_fetch_in_bounded_chunks() -> None:
    scheduler = BatchScheduler()
    a, b = TP("x.tax", 0), TP("x.tax", 1)
    records = {a: [Record(o, 1000 + o) for o in range(2500)], b: [Record(7, 5)]}

    items = list(scheduler.iterate(records))

    assert [(tp, len(item.value)) for tp, item in items] == [(a, 1000), (a, 1000), (a, 500), (b, 1)]
    first = items[0][1]
    assert (first.topic, first.partition, first.offset, first.timestamp) == ("x.tax", 0, 999, 1999)
    assert items[-1][1].offset == 7
    assert [r.offset for _, item in items[:3] for r in item.value] == list(range(2500))


def test_transactional_ids_are_the_ones_fausts_transaction_manager_starts() -> None:
    class Assignor:
        def group_for_topic(self, topic: str) -> int:
            return 0

    class App:
        assignor = Assignor()
        conf = type("Conf", (), {"id": "zjcredit.worker"})()

    door = PartitionProducers(App(), "zjcredit.tax")
    expected = TransactionManager.transactional_id_format.format(
        group_id="zjcredit.worker", tpg=type("TPG", (), {"group": 0, "partition": 3})()
    )
    assert door.transactional_id(3) == expected == "zjcredit.worker-0-3"


async def test_a_partition_producers_retry_backoff_is_shortened() -> None:
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415

    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", transactional_id="t")
    assert producer._sender._retry_backoff == 0.1  # aiokafka's default: 100 ms
    tune(producer)
    assert producer._sender._retry_backoff == RETRY_BACKOFF_S
    sender = producer._sender
    try:
        del producer._sender
        with pytest.raises(FaustUnsupportedError, match="_retry_backoff"):
            tune(producer)
    finally:
        producer._sender = sender
        await producer.stop()  # never started: just marks it closed
