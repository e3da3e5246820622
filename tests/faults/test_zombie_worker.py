"""A worker frozen past its session (a network pause, a stalled VM) wakes up as a zombie.

Two workers share the group. One SIGSTOPs itself with a transaction open, its records on
the brokers (``ZJCREDIT_WORKER_FAULT=pause:N``). Its session (8 s) runs out, the group
gives its partitions to the other worker, whose transactional producers for them take
the same transactional ids and so fence the frozen ones: the coordinator aborts the
open transaction. Then the zombie is SIGCONTed and carries on where it stopped: it
commits that transaction, which is refused (fenced), lets the partition go, rejoins the
group and gets work again (or, when aiokafka cannot classify the broker's refusal, it
stops and is restarted, as a supervisor would). Its fenced transaction changes nothing:
the committed outputs are the pure fold's, every notice once, every profile version once
and in order, and the read model equals the fold; the aborted records are on the topic,
uncommitted.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import psutil
import pytest

from base.settings import Settings
from tests.cluster import cluster_run, group_members
from tests.workers import wait_for
from zjcredit.stack.cluster import KafkaCluster

# A fault test runs a province through three brokers, workers and a sink on a shared
# 2-core machine: pytest's default 300 s per test (pyproject.toml) is too short a leash.
pytestmark = pytest.mark.timeout(900)


FIRMS = 1000
ROUNDS = 8


def _stopped(pid: int) -> bool:
    return psutil.Process(pid).status() == psutil.STATUS_STOPPED


def _committed_to(lags: dict[tuple[str, int], tuple[int, int]],
                  ends: dict[tuple[str, int], int]) -> bool:  # fmt: skip
    """Every partition of ``ends`` committed up to its offset there (``lags`` holds only
    the partitions still behind their end: the others are committed to it)."""
    return all(lags[tp][0] >= end for tp, end in ends.items() if tp in lags)


def test_a_worker_paused_past_its_session_wakes_fenced_and_changes_nothing(
    cluster: KafkaCluster, settings: Settings, server_url: str, open_tmp_path: Path
) -> None:
    with cluster_run(cluster, settings, server_url, open_tmp_path, firms=FIRMS, seed=37) as run:
        survivor = run.start_worker("w0")
        zombie = run.start_worker("w1", env={"ZJCREDIT_WORKER_FAULT": "pause:3"})
        sink = run.start_sink()
        group = f"{run.prefix}.worker"
        # Both members hold partitions before the load starts (a member that joined after
        # the last round would have no transaction to freeze in).
        assert wait_for(lambda: group_members(run.bootstrap, group) == ("Stable", {"w0", "w1"}),
                        180), run.logs()  # fmt: skip
        feed = run.feed(ROUNDS, pause=1.0).start()

        # Frozen with its 3rd transaction open.
        assert wait_for(lambda: _stopped(zombie.pid), 240), run.logs()
        # Its open transaction's inputs are not committed: every partition behind now
        # must be committed up to its end of now before the zombie wakes. Only a worker
        # that took the zombie's partitions can, and taking them started the producers
        # that fence the zombie's. (Woken as soon as the group is stable without it, the
        # zombie once committed first: the survivor had not started those producers yet.)
        behind = {tp: end for tp, (_, end) in run.watch.lags().items()}
        assert wait_for(lambda: group_members(run.bootstrap, group) == ("Stable", {"w0"}), 120), (
            f"{group_members(run.bootstrap, group)}\n{run.logs()}"
        )
        assert wait_for(lambda: _committed_to(run.watch.lags(), behind), 180), run.logs()
        assert _stopped(zombie.pid), "the zombie woke up by itself"
        os.kill(zombie.pid, signal.SIGCONT)

        feed.join()
        run.expect_producers_exact(feed)
        run.expect_oracle(run.sinks.alive(sink))
        woke = next(log for proc, log in run.workers.started if proc is zombie).read_text()
        if zombie.poll() is None:
            # The zombie's commit was refused as fenced and it let the partition go ...
            assert re.search(r"lost to another worker \(ProducerFenced", woke), run.logs()
        else:
            # ... or the broker's refusal came as an error aiokafka does not classify (its
            # EndTxn handler raises UnknownError and its sender stops): the worker then
            # stops, as on any Kafka failure it cannot place, and a supervisor restarts it.
            assert "the worker stops: KafkaError" in woke, run.logs()
            zombie = run.start_worker("w1")
        # ... its transaction's records stay on the topic, aborted ...
        assert run.aborted_profiles() > 0, f"the zombie had no open transaction\n{run.logs()}"
        # ... and it is a member again, folding.
        assert wait_for(lambda: group_members(run.bootstrap, group) == ("Stable", {"w0", "w1"}),
                        120), run.logs()  # fmt: skip
        for proc in (zombie, survivor):
            assert proc.poll() is None, run.logs()
            assert run.workers.stop(proc) == 0, run.logs()
        assert run.sinks.stop(sink) == 0, run.logs()
