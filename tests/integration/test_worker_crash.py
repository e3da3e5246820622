"""The worker SIGKILLed mid-stream, again and again: the committed outputs stay exact.

A province is produced in three chunks; after each chunk a worker starts, folds part of
what is waiting (its own metrics say how much), and is killed with SIGKILL: its open
transactions (profiles, notices, Table changelog and consumed offsets together) must be
aborted, and the next worker must resume from the committed changelog and offsets.
Finally a worker runs to the end, and what was committed, read ``read_committed``, is
exactly the pure fold's: the oracle's profiles, its notices each once (no duplicate
``notice_id``, no duplicate message), and no profile version published twice.

This guards streams/transactions.py (outputs sent in the input partition's transaction),
streams/continuity.py (Faust skips events after each restart here: they are read back)
and the memory store's recovery from the committed changelog (streams/app.py).
"""

from __future__ import annotations

import itertools
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

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
from zjcredit.settings import Settings
from zjcredit.stack.process import free_port

FIRMS = 2000
# Kill the n-th worker once it has folded this many events (chunk n is ~5,600 events).
KILL_AFTER = (700, 2500, 1500)
DEADLINE = 180.0
# A SIGKILLed member holds the group until its session expires: Faust's default is 60 s,
# so without this every restart would wait a minute (6 s is the broker's minimum).
FAST_FAILOVER = {"BROKER_SESSION_TIMEOUT": "8", "BROKER_HEARTBEAT_INTERVAL": "1"}


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
    workers = Workers(bootstrap_servers, prefix, settings.partitions, tmp_path / "run",
                      extra_env=FAST_FAILOVER)  # fmt: skip

    def start(port: int) -> subprocess.Popen[bytes]:
        return workers.start("--as-of", AS_OF.isoformat(), "--tick-interval", "2",
                             "--batch-size", "250", "--metrics-port", str(port))  # fmt: skip

    def kill_after(threshold: int) -> float:
        """Start a worker; SIGKILL it once it has folded ``threshold`` events; how many."""
        port = free_port()
        proc = start(port)
        deadline = time.monotonic() + DEADLINE
        while (folded := metric_total(port, "zjcredit_worker_events_total")) < threshold:
            assert proc.poll() is None, f"the worker exited on its own\n{workers.logs()}"
            assert time.monotonic() < deadline, (
                f"no progress to {threshold} in {DEADLINE} s\n{workers.logs()}"
            )
            time.sleep(0.05)
        workers.kill(proc)
        return folded

    try:
        with Watch(bootstrap_servers, prefix) as watch:
            kills = []
            for chunk, threshold in zip(_chunks(events, len(KILL_AFTER)), KILL_AFTER, strict=True):
                send_events(bootstrap_servers, prefix, chunk)
                folded = kill_after(threshold)
                kills.append((folded, watch.lag()))
            # Killed mid-stream every time: input was left that no transaction committed.
            assert all(lag > 0 for _, lag in kills), kills

            last = start(free_port())
            want = Counter(map(canonical, notices))
            done = watch.wait(
                lambda w: w.profiles == profiles and Counter(map(canonical, w.notices)) == want,
                DEADLINE, workers, last,
            )  # fmt: skip
            logs = f"kills (folded, lag): {kills}\n{workers.logs()}"
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
    workers = Workers(bootstrap_servers, prefix, settings.partitions, tmp_path / "run",
                      extra_env=FAST_FAILOVER)  # fmt: skip
    ports = [free_port(), free_port()]
    try:
        with Watch(bootstrap_servers, prefix) as watch:
            flags = ("--as-of", AS_OF.isoformat(), "--tick-interval", "2", "--batch-size", "100")
            survivor, victim = (workers.start(*flags, "--metrics-port", str(p)) for p in ports)
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
