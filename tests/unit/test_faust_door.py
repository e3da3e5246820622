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
from streams.faust_door import RETRY_BACKOFF_S, BatchScheduler, PartitionProducers, check, tune


def app(**conf: Any) -> faust.App:
    return faust.App(
        "door-test", broker="kafka://127.0.0.1:1", **{"ConsumerScheduler": BatchScheduler, **conf}
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
