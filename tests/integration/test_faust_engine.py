"""faust-streaming, exactly-once, with a Table, on the real broker.

The worker counts keyed records; the counts are read back from its output topic with a
read_committed consumer. It is then stopped, more records are produced, and a new worker
must continue from the Table restored from its changelog, not from zero.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

APP = Path(__file__).with_name("faust_counter_app.py")
KEYS = [f"k{i}" for i in range(5)]


def _produce(bootstrap_servers: str, topic: str, per_key: int) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    for _ in range(per_key):
        for key in KEYS:
            producer.send(topic, key=key.encode(), value=b"x")
    producer.flush(timeout=30)
    producer.close()


def _input_counts(bootstrap_servers: str, topic: str) -> dict[str, int]:
    """Records per key actually in the input topic (what exactly-once must count)."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest",
        enable_auto_commit=False, consumer_timeout_ms=2000,
    )  # fmt: skip
    try:
        return dict(Counter(record.key.decode() for record in consumer))
    finally:
        consumer.close()


def _read_counts(
    bootstrap_servers: str, topic: str, want: dict[str, int], wait_s: float
) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """Read the output topic (committed records only) until the last counts equal ``want``."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    latest: dict[str, int] = {}
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + wait_s
    try:
        while latest != want and time.monotonic() < deadline:
            for record in consumer:
                key, value = record.key.decode(), int(record.value)
                latest[key] = value
                seen.append((key, value))
    finally:
        consumer.close()
    return latest, seen


@pytest.fixture
def worker(
    bootstrap_servers: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> Iterator[Callable[[str, str], subprocess.Popen[bytes]]]:
    app_id = unique_name("faust-count")
    started: list[subprocess.Popen[bytes]] = []

    def start(in_topic: str, out_topic: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "BROKER": bootstrap_servers,
            "APP_ID": app_id,
            "IN_TOPIC": in_topic,
            "OUT_TOPIC": out_topic,
            "DATA_DIR": str(tmp_path / "faust"),
            "PARTITIONS": "2",
        }
        with (tmp_path / f"worker-{len(started)}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, str(APP), "worker", "-l", "info"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def test_exactly_once_table_counts_survive_a_restart(
    bootstrap_servers: str,
    new_topic: Callable[..., str],
    worker: Callable[[str, str], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    source = new_topic("count-in", partitions=2)
    output = new_topic("count-out", partitions=2)
    _produce(bootstrap_servers, source, per_key=20)

    first = worker(source, output)
    latest, seen = _read_counts(bootstrap_servers, output, dict.fromkeys(KEYS, 20), wait_s=120)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("worker-*.log"))
    assert latest == dict.fromkeys(KEYS, 20), f"{latest}\n{logs}"
    # Exactly once: every count 1..20 of every key appears once, none twice.
    assert sorted(seen) == sorted((k, n) for k in KEYS for n in range(1, 21))
    _stop(first)

    _produce(bootstrap_servers, source, per_key=5)
    # The input itself, read back: what must be counted once each (once, a 26th record
    # of a key was counted here, and the question is whose: the producer's or ours).
    want = _input_counts(bootstrap_servers, source)
    worker(source, output)
    latest, seen = _read_counts(bootstrap_servers, output, want, wait_s=120)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("worker-*.log"))
    assert latest == want, f"{latest} != input {want}\n{logs}"
    assert sorted(seen) == sorted((k, n) for k in KEYS for n in range(1, want[k] + 1))
