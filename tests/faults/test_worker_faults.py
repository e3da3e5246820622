"""Workers come and go on the three-node cluster while a province streams in.

Fault 3: the group scaled 1 -> 3 -> 1 under a steady load, with one of the three
SIGKILLed (not stopped) on the way: every partition moves at least twice, one member
dies mid-transaction, and the committed outputs are still the pure fold's (each notice
once, each profile version once and in order), the read model the fold, the producer
summaries the source topics.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from base.settings import Settings
from tests.cluster import cluster_run, group_members
from tests.workers import metric_total, wait_for
from zjcredit.stack.cluster import KafkaCluster

# A fault test runs a province through three brokers, workers and a sink on a shared
# 2-core machine: pytest's default 300 s per test (pyproject.toml) is too short a leash.
pytestmark = pytest.mark.timeout(900)


FIRMS = 1500
ROUNDS = 10


def test_workers_scaled_one_three_one_with_one_sigkilled_end_exact(
    cluster: KafkaCluster, settings: Settings, server_url: str, open_tmp_path: Path
) -> None:
    with cluster_run(cluster, settings, server_url, open_tmp_path, firms=FIRMS, seed=41) as run:
        group = f"{run.prefix}.worker"
        one, sink = run.start_worker("w0"), run.start_sink()
        feed = run.feed(ROUNDS, pause=1.0).start()
        feed.wait_rounds(1)

        def folded(proc: subprocess.Popen[bytes]) -> float:
            return metric_total(run.ports[proc.pid], "zjcredit_worker_events_total")

        assert wait_for(lambda: folded(one) > 0, 120), run.logs()
        two, three = run.start_worker("w1"), run.start_worker("w2")
        assert wait_for(lambda: folded(two) > 0 and folded(three) > 0, 180), run.logs()
        assert group_members(run.bootstrap, group)[1] == {"w0", "w1", "w2"}
        at_kill = feed.done_rounds

        run.workers.kill(two)  # SIGKILL: its partitions wait for its session (8 s) to end
        assert wait_for(lambda: group_members(run.bootstrap, group) == ("Stable", {"w0", "w2"}),
                        120), run.logs()  # fmt: skip
        three.terminate()  # the third leaves as a supervisor stops it
        assert three.wait(90) == 0, run.logs()
        assert wait_for(lambda: group_members(run.bootstrap, group) == ("Stable", {"w0"}),
                        120), run.logs()  # fmt: skip
        at_one = feed.done_rounds

        feed.join()
        assert at_one < ROUNDS, f"the load was over before the group was one again ({at_kill})"
        run.expect_producers_exact(feed)
        run.expect_oracle(run.sinks.alive(sink))
        assert one.poll() is None, run.logs()
        assert run.workers.stop(one) == 0, run.logs()
        assert run.sinks.stop(sink) == 0, run.logs()
