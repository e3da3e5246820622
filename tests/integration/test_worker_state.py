"""The worker's state on disk and in Kafka, through what operators meet: restarts, new hosts,
lost or corrupt stores, a recreated changelog, workers added and removed under load.

Each test sends a generated province in chunks, disturbs the worker between chunks, and
ends with the committed outputs equal to the pure fold's (the oracle), every notice once,
every profile version published once and in order. Workers run as ``zjcredit worker``
subprocesses with a fixed clock; a worker started again with the same ``--instance`` is
the same static group member with the same data directory (``<run>/worker/<group>/<id>``).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import rocksdict
from kafka import KafkaAdminClient
from kafka.errors import UnknownTopicOrPartitionError

from base.endpoints import free_port
from base.settings import Settings
from schemas.events import SOURCES
from schemas.topics import create_topics
from streams.changelog import changelog_spec, changelog_topic
from streams.core import SourceEvent
from tests.outputs import oracle
from tests.province import AS_OF, province
from tests.workers import (
    Watch,
    Workers,
    canonical,
    create_project_topics,
    metric_total,
    send_events,
    wait_for,
)

DEADLINE = 180.0
FLAGS = ("--as-of", AS_OF.isoformat(), "--tick-interval", "2", "--batch-size", "300",
         "--session-timeout", "8")  # fmt: skip

Events = dict[str, list[SourceEvent]]


def chunks(events: Events, n: int) -> list[Events]:
    """``n`` consecutive slices of every source (each topic keeps its order)."""
    return [
        {s: events[s][len(events[s]) * k // n : len(events[s]) * (k + 1) // n] for s in SOURCES}
        for k in range(n)
    ]


@dataclass
class Run:
    """A test's topics, province, workers and committed outputs."""

    bootstrap: str
    prefix: str
    workers: Workers
    watch: Watch
    parts: list[Events]
    sent: int = 0
    ports: dict[int, int] = field(default_factory=dict)  # pid -> metrics port

    @property
    def group(self) -> str:
        return f"{self.prefix}.worker"

    def data_dir(self, instance: str = "w0") -> Path:
        return self.workers.run_dir / "worker" / self.group / instance

    def send_next(self) -> None:
        send_events(self.bootstrap, self.prefix, self.parts[self.sent])
        self.sent += 1

    def start(
        self, instance: str = "w0", env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        port = free_port()
        proc = self.workers.start(*FLAGS, "--metrics-port", str(port), instance=instance, env=env)
        self.ports[proc.pid] = port
        return proc

    def metric(self, proc: subprocess.Popen[bytes], name: str, **labels: str) -> float:
        return metric_total(self.ports[proc.pid], name, **labels)

    def expect_oracle(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        """Wait until the committed outputs are the fold of every chunk sent so far."""
        sent: Events = {
            s: [e for part in self.parts[: self.sent] for e in part[s]] for s in SOURCES
        }
        profiles, notices = oracle(itertools.chain(*sent.values()), AS_OF)
        want = Counter(map(canonical, notices))
        done = self.watch.wait(
            lambda w: w.profiles == profiles and Counter(map(canonical, w.notices)) == want,
            DEADLINE, self.workers, proc,
        )  # fmt: skip
        logs = self.workers.logs()
        assert done, f"not the oracle: {self.watch.describe(profiles, notices)}{logs}"
        ids = Counter(n["notice_id"] for n in self.watch.notices)
        assert [i for i, n in ids.items() if n > 1] == [], logs
        replayed = {u: v for u, v in self.watch.versions.items() if v != sorted(set(v))}
        assert replayed == {}, f"profile versions published out of order or twice\n{logs}"
        assert self.watch.dead_letters == [], logs


@pytest.fixture
def run(
    bootstrap_servers: str,
    settings: Settings,
    unique_name: Callable[[str], str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Run]:
    firms, seed = request.param if hasattr(request, "param") else (900, 41)
    prefix = unique_name("state")
    create_project_topics(bootstrap_servers, settings, prefix)
    events = province(tmp_path / "province", firms, seed=seed)
    workers = Workers(bootstrap_servers, prefix, settings.partitions, tmp_path / "run")
    try:
        with Watch(bootstrap_servers, prefix) as watch:
            yield Run(bootstrap_servers, prefix, workers, watch, chunks(events, 3))
    finally:
        workers.close()


def restores(run: Run, proc: subprocess.Popen[bytes], kind: str) -> float:
    return run.metric(proc, "zjcredit_worker_store_restores_total", kind=kind)


def test_a_restarted_worker_resumes_from_its_own_disk_and_a_new_host_rebuilds_from_the_changelog(
    run: Run,
) -> None:
    run.send_next()
    first = run.start()
    run.expect_oracle(first)
    assert run.workers.stop(first) == 0, run.workers.logs()

    # Same member, same disk: every partition caught up from its store, none rebuilt.
    again = run.start()
    run.send_next()
    run.expect_oracle(again)
    assert wait_for(lambda: restores(run, again, "caught_up") == 4, 30), run.workers.logs()
    assert restores(run, again, "rebuilt") == 0, run.workers.logs()
    assert run.workers.stop(again) == 0, run.workers.logs()

    # Another host (an empty data directory): it rebuilds all four from the changelog,
    # once the first member's session (8 s) has run out.
    other = run.start("w9")
    run.send_next()
    run.expect_oracle(other)
    assert restores(run, other, "rebuilt") == 4, run.workers.logs()
    copied = run.metric(other, "zjcredit_worker_store_restored_records_total", kind="rebuilt")
    assert copied >= len(run.watch.profiles), run.workers.logs()
    assert run.workers.stop(other) == 0, run.workers.logs()


def test_a_deleted_store_rebuilt_by_a_worker_killed_mid_rebuild_then_finished(run: Run) -> None:
    run.send_next()
    first = run.start()
    run.expect_oracle(first)
    assert run.workers.stop(first) == 0, run.workers.logs()
    for store in run.data_dir().glob("p*"):
        shutil.rmtree(store)

    # Killed once 300 changelog records are in the new stores (one partition half done).
    dying = run.start(env={"ZJCREDIT_WORKER_FAULT": "rebuild:300"})
    assert dying.wait(timeout=DEADLINE) == -9, run.workers.logs()
    run.send_next()
    last = run.start()
    run.expect_oracle(last)
    # The half-built store was a consistent prefix: it was caught up, not rebuilt again.
    assert restores(run, last, "caught_up") >= 1, run.workers.logs()
    assert run.workers.stop(last) == 0, run.workers.logs()


def _firm_in_partition(run: Run, partition: int, part: int) -> bytes:
    """A firm of chunk ``part`` whose events are in input ``partition`` and that the
    worker has folded already (its state is in the store)."""
    from kafka.partitioner.default import murmur2  # noqa: PLC0415

    for event in run.parts[part]["tax"]:
        key = event.event["uscc"].encode()
        if (murmur2(key) & 0x7FFFFFFF) % 4 == partition and key.decode() in run.watch.profiles:
            return key
    raise AssertionError(f"no folded firm of chunk {part} in partition {partition}")


def test_a_corrupt_store_is_rebuilt_from_the_changelog_and_its_batch_folded_again(
    run: Run,
) -> None:
    run.send_next()
    run.send_next()
    first = run.start()
    run.expect_oracle(first)
    assert run.workers.stop(first) == 0, run.workers.logs()

    # Partition 0: one state that does not decode (found when its firm's next event comes).
    firm = _firm_in_partition(run, 0, 1)
    db = rocksdict.Rdict(str(run.data_dir() / "p0"), rocksdict.Options(raw_mode=True))
    db[b"s" + firm] = b"\x01\x00\x00\x00\x00not a pickle"
    db.close()
    # Partition 1: every file of the store overwritten (RocksDB cannot open it).
    for path in (run.data_dir() / "p1").iterdir():
        if path.is_file() and path.name != "LOCK":
            path.write_bytes(b"\x00garbage" * 64)

    again = run.start()
    run.parts[2] = {s: [*run.parts[2][s], *[e for e in run.parts[1][s] if
                    e.event["uscc"].encode() == firm]] for s in SOURCES}  # fmt: skip
    run.send_next()  # chunk 3, with the corrupt firm's events again (a repeat: no change)
    run.expect_oracle(again)
    logs = run.workers.logs(400)
    assert "the state store is corrupt" in logs, logs
    assert restores(run, again, "rebuilt") >= 2, logs
    assert run.workers.stop(again) == 0, run.workers.logs()


def test_a_changelog_recreated_under_a_kept_store_is_rebuilt_from_the_inputs(run: Run) -> None:
    run.send_next()
    first = run.start()
    run.expect_oracle(first)
    assert run.workers.stop(first) == 0, run.workers.logs()
    published = len(run.watch.profiles_topic.records)

    name = changelog_topic(run.group)
    admin = KafkaAdminClient(bootstrap_servers=run.bootstrap)
    try:
        admin.delete_topics([name])

        def gone() -> bool:
            try:
                return name not in admin.list_topics()
            except UnknownTopicOrPartitionError:  # pragma: no cover - a broker's race
                return False

        assert wait_for(gone, 60), f"{name} was not deleted"
    finally:
        admin.close()
    time.sleep(2)  # the broker forgets the old topic's metadata
    create_topics(run.bootstrap, [changelog_spec(run.group, 4, 1)])

    again = run.start()
    # Its stores copy a changelog that no longer exists: wiped, rebuilt from the inputs
    # (nothing published while replaying), then the next chunk folds on the rebuilt states.
    assert wait_for(lambda: restores(run, again, "rebuilt") == 4, 90), run.workers.logs()
    run.watch.read()
    assert len(run.watch.profiles_topic.records) == published, "the replay published profiles"
    run.send_next()
    run.expect_oracle(again)
    assert "replaying offsets" in run.workers.logs(400), run.workers.logs()
    assert run.workers.stop(again) == 0, run.workers.logs()


def trickle(run: Run, slices: int = 10, pause: float = 0.5) -> None:
    """Send the next chunk in ``slices`` pieces, ``pause`` seconds apart: a steady load."""
    part = run.parts[run.sent]
    for piece in chunks(part, slices):
        send_events(run.bootstrap, run.prefix, piece)
        time.sleep(pause)
    run.sent += 1


@pytest.mark.parametrize("run", [(1500, 43)], indirect=True)
def test_workers_scaled_from_one_to_three_and_back_under_load_end_exact(run: Run) -> None:
    run.parts = chunks({s: [e for p in run.parts for e in p[s]] for s in SOURCES}, 4)
    one = run.start("w0")
    run.send_next()
    assert wait_for(lambda: run.metric(one, "zjcredit_worker_events_total") > 500, 60), (
        run.workers.logs()
    )
    two, three = run.start("w1"), run.start("w2")
    trickle(run)  # while the group rebalances to three

    def everyone_folds() -> bool:
        return all(run.metric(p, "zjcredit_worker_events_total") > 0 for p in (two, three))

    assert wait_for(everyone_folds, 90), run.workers.logs()
    run.expect_oracle(one)
    for proc in (two, three):  # stopped while the load goes on
        proc.terminate()
        trickle(run, slices=5)
        assert proc.wait(90) == 0, run.workers.logs()
    # w0 alone again, once the others' static sessions (8 s) ran out.
    run.expect_oracle(one)
    assert run.workers.stop(one) == 0, run.workers.logs()
