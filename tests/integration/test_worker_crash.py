"""The worker SIGKILLed mid-stream, again and again: the committed outputs stay exact.

A province is produced in four chunks; after each chunk a worker starts (the same static
group member, with the same data directory), folds part of what is waiting, and dies by
SIGKILL at a chosen point of its exactly-once protocol (streams/checkpoint.py):

- ``sent``: its transaction is open, records sent, not committed: the next worker's
  producer fences it and Kafka aborts it (the test checks aborted profiles exist);
- ``committed``: right after a commit, before the states reach the local store: the
  store lags the changelog and the next worker reads the tail back (its restore counter
  says how many records);
- from outside, at whatever moment the worker's own counter passes a threshold.

Finally a worker runs to the end, and what was committed, read ``read_committed``, is
exactly the pure fold's: the oracle's profiles, its notices each once (no duplicate
``notice_id``, no duplicate message), and no profile version published twice.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from base.endpoints import free_port
from base.settings import Settings
from schemas.events import SOURCES
from streams.core import SourceEvent
from tests.outputs import oracle
from tests.province import AS_OF, province
from tests.workers import (
    CommittedTopic,
    Watch,
    Workers,
    canonical,
    create_project_topics,
    metric_total,
    notices_diff,
    profiles_diff,
    send_events,
)

FIRMS = 2000
# How each chunk's worker dies: by its own SIGKILL at a step of its N-th transaction
# (ZJCREDIT_WORKER_FAULT), or SIGKILLed from outside once it has folded N events.
KILLS = (("sent", 6), ("committed", 9), ("outside", 1500), ("sent", 15))
DEADLINE = 180.0
# A SIGKILLed member that never comes back holds its partitions until its session
# expires (6 s is the broker's minimum); a restarted static member takes them back at once.
FAST_FAILOVER = ("--session-timeout", "8")


def _chunks(events: dict[str, list[SourceEvent]], n: int) -> list[dict[str, list[SourceEvent]]]:
    """``n`` consecutive slices of every source: sent in turn, each topic keeps its order."""
    return [
        {s: events[s][len(events[s]) * k // n : len(events[s]) * (k + 1) // n] for s in SOURCES}
        for k in range(n)
    ]


def test_sigkilled_workers_leave_exactly_the_oracle_profiles_and_notices_each_once(
    bootstrap_servers: str,
    settings: Settings,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    prefix = unique_name("crash")
    create_project_topics(bootstrap_servers, settings, prefix)
    events = province(tmp_path / "province", FIRMS, seed=13)
    profiles, notices = oracle(itertools.chain(*events.values()), AS_OF)
    workers = Workers(bootstrap_servers, prefix, settings.partitions, tmp_path / "run")

    def start(port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return workers.start("--as-of", AS_OF.isoformat(), "--tick-interval", "2",
                             "--batch-size", "250", "--metrics-port", str(port),
                             *FAST_FAILOVER, env=env)  # fmt: skip

    def run_and_die(how: str, n: int) -> tuple[float, float]:
        """Start a worker, have it die ``how``; the events it folded, the changelog records
        its start-up copied into its stores (the tail the previous one had not)."""
        port = free_port()
        outside = how == "outside"
        proc = start(port, {} if outside else {"ZJCREDIT_WORKER_FAULT": f"{how}:{n}"})
        deadline = time.monotonic() + DEADLINE
        folded = copied = 0.0
        while proc.poll() is None:
            folded = max(folded, metric_total(port, "zjcredit_worker_events_total"))
            copied = max(copied, metric_total(port, "zjcredit_worker_store_restored_records_total"))
            if outside and folded >= n:
                workers.kill(proc)
                break
            assert time.monotonic() < deadline, f"{how}:{n} did not happen\n{workers.logs()}"
            time.sleep(0.05)
        assert proc.wait() == -9, f"{how}:{n}: exit {proc.returncode}\n{workers.logs()}"
        return folded, copied

    try:
        with Watch(bootstrap_servers, prefix) as watch:
            kills = []
            for chunk, (how, n) in zip(_chunks(events, len(KILLS)), KILLS, strict=True):
                send_events(bootstrap_servers, prefix, chunk)
                kills.append((how, *run_and_die(how, n), watch.lag()))
            # Killed mid-stream every time: input was left that no transaction committed.
            assert all(lag > 0 for *_, lag in kills), kills
            # Killed after a commit, before the store write: the next start read it back.
            after_committed = kills[[k[0] for k in kills].index("committed") + 1]
            assert after_committed[2] > 0, f"no changelog tail was read back: {kills}"

            last = start(free_port())
            want = Counter(map(canonical, notices))
            done = watch.wait(
                lambda w: w.profiles == profiles and Counter(map(canonical, w.notices)) == want,
                DEADLINE, workers, last,
            )  # fmt: skip
            logs = f"kills (how, folded, copied, lag): {kills}\n{workers.logs()}"
            assert done, (
                f"not the oracle after {DEADLINE} s: {watch.describe(profiles, notices)}{logs}"
            )
            assert watch.profiles == profiles, profiles_diff(watch.profiles, profiles) + logs
            assert Counter(map(canonical, watch.notices)) == want, (
                notices_diff(watch.notices, notices) + logs
            )
            ids = Counter(n["notice_id"] for n in watch.notices)
            assert [i for i, n in ids.items() if n > 1] == [], logs
            messages = Counter((r.key, r.value) for r in watch.penalties_topic.records)
            assert [m for m, n in messages.items() if n > 1] == [], logs
            # Each firm's profiles in offset order: every version once, increasing.
            replayed = {u: v for u, v in watch.versions.items() if v != sorted(set(v))}
            assert replayed == {}, f"profile versions published out of order or twice\n{logs}"
            assert watch.dead_letters == [], logs
            # And the kills did cut transactions short: their outputs are in the topic,
            # aborted (so the test did test something).
            everything = CommittedTopic(bootstrap_servers, f"{prefix}.profiles",
                                        isolation="read_uncommitted")  # fmt: skip
            try:
                aborted = len(everything.read()) - len(watch.profiles_topic.records)
            finally:
                everything.close()
            assert aborted > 0, f"no aborted profiles: the kills hit no open transaction\n{logs}"
            assert workers.stop(last) == 0, workers.logs()
    finally:
        workers.close()


def test_two_workers_then_one_killed_the_survivor_takes_over_exactly(
    bootstrap_servers: str,
    settings: Settings,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """Two workers share the group; one is SIGKILLed mid-stream and the other, which keeps
    running through both rebalances (join and loss), ends with exactly the oracle.

    Guards streams/faust_fixes.patch_seek_to_committed: without it the survivor often never
    received the backlog of partitions whose owner died before its first commit."""
    prefix = unique_name("rebalance")
    create_project_topics(bootstrap_servers, settings, prefix)
    events = province(tmp_path / "province", FIRMS // 2, seed=29)
    profiles, notices = oracle(itertools.chain(*events.values()), AS_OF)
    workers = Workers(bootstrap_servers, prefix, settings.partitions, tmp_path / "run")
    ports = [free_port(), free_port()]
    try:
        with Watch(bootstrap_servers, prefix) as watch:
            flags = ("--as-of", AS_OF.isoformat(), "--tick-interval", "2", "--batch-size", "100",
                     *FAST_FAILOVER)  # fmt: skip
            survivor, victim = (
                workers.start(*flags, "--metrics-port", str(p), instance=f"w{i}")
                for i, p in enumerate(ports)
            )
            send_events(bootstrap_servers, prefix, events)
            deadline = time.monotonic() + DEADLINE
            # Both folded something (the group is shared), then one dies mid-stream.
            while min(metric_total(p, "zjcredit_worker_events_total") for p in ports) < 200:
                assert time.monotonic() < deadline, f"no shared progress\n{workers.logs()}"
                assert survivor.poll() is None, workers.logs()
                assert victim.poll() is None, workers.logs()
                time.sleep(0.05)
            workers.kill(victim)
            assert watch.lag() > 0, "the stream was over before the kill"
            want = Counter(map(canonical, notices))
            done = watch.wait(
                lambda w: w.profiles == profiles and Counter(map(canonical, w.notices)) == want,
                DEADLINE, workers, survivor,
            )  # fmt: skip
            logs = workers.logs()
            assert done, f"not the oracle: {watch.describe(profiles, notices)}{logs}"
            ids = Counter(n["notice_id"] for n in watch.notices)
            assert [i for i, n in ids.items() if n > 1] == [], logs
            replayed = {u: v for u, v in watch.versions.items() if v != sorted(set(v))}
            assert replayed == {}, f"profile versions published out of order or twice\n{logs}"
            assert watch.dead_letters == [], logs
            assert workers.stop(survivor) == 0, logs
    finally:
        workers.close()
