"""Brokers of a three-node cluster die while a province is produced, folded and sunk.

Each test runs the real pipeline (``zjcredit produce`` per file chunk, ``zjcredit worker``,
``zjcredit sink``, subprocesses all) on its own cluster, topics at replication factor 3
and ``min.insync.replicas=2``, and ends with the checks of tests/cluster.py: the producer
summaries and the source topics agree (no row lost or doubled), the committed worker
outputs are the pure fold's (each notice once), the read model equals the fold.
"""

from __future__ import annotations

import time
from pathlib import Path

from base.settings import Settings
from tests.cluster import ClusterRun, cluster_run, in_sync, leaders
from tests.readmodel import metric
from tests.workers import metric_total, wait_for
from zjcredit.stack.cluster import KafkaCluster

FIRMS = 1200
ROUNDS = 8
# Longer than the brokers' session (broker.session.timeout.ms, 9 s): the controller has
# fenced the dead node and moved its leaderships before it comes back.
DOWN_S = 15.0


def _busy(run: ClusterRun, worker: int, sink: int) -> bool:
    """The worker has folded and the sink has written something: all three stages run."""
    return (metric_total(run.ports[worker], "zjcredit_worker_events_total") > 0
            and (metric(run.ports[sink], "zjcredit_sink_rows_written_total") or 0) > 0)  # fmt: skip


def test_a_broker_sigkilled_mid_stream_then_restarted_loses_and_doubles_nothing(
    cluster: KafkaCluster, settings: Settings, server_url: str, open_tmp_path: Path
) -> None:
    with cluster_run(cluster, settings, server_url, open_tmp_path, firms=FIRMS, seed=31) as run:
        worker, sink = run.start_worker(), run.start_sink()
        feed = run.feed(ROUNDS, pause=1.0).start()
        feed.wait_rounds(2)
        assert wait_for(lambda: _busy(run, worker.pid, sink.pid), 120), run.logs()
        victim = 2
        assert leaders(run.bootstrap)[victim] > 0, "the victim leads nothing"

        cluster.kill(victim)
        killed_after = feed.done_rounds
        time.sleep(DOWN_S)
        cluster.restart(victim)
        feed.join()

        assert killed_after < ROUNDS, "the province was all produced before the kill"
        run.expect_producers_exact(feed)
        run.expect_oracle(run.sinks.alive(sink))
        assert worker.poll() is None, run.logs()
        assert wait_for(lambda: in_sync(run.bootstrap), 120), "the restarted node never caught up"
        assert run.workers.stop(worker) == 0, run.logs()
        assert run.sinks.stop(sink) == 0, run.logs()
