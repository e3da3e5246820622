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

import pytest

from base.settings import Settings
from tests.cluster import ClusterRun, cluster_run, in_sync, leaders
from tests.readmodel import metric
from tests.workers import metric_total, wait_for
from zjcredit.stack.cluster import KafkaCluster

# A fault test runs a province through three brokers, workers and a sink on a shared
# 2-core machine: pytest's default 300 s per test (pyproject.toml) is too short a leash.
pytestmark = pytest.mark.timeout(900)


FIRMS = 1200
ROUNDS = 8
# Longer than the brokers' session (broker.session.timeout.ms, 9 s): the controller has
# fenced the dead node and moved its leaderships before it comes back.
DOWN_S = 15.0


def _busy(run: ClusterRun, worker: int, sink: int) -> bool:
    """The worker has folded and the sink has written something: all three stages run."""
    return (metric_total(run.ports[worker], "zjcredit_worker_events_total") > 0
            and (metric(run.ports[sink], "zjcredit_sink_rows_written_total") or 0) > 0)  # fmt: skip


@pytest.mark.parametrize("victim", ["node 2", "most leaders"])
def test_a_broker_sigkilled_mid_stream_then_restarted_loses_and_doubles_nothing(
    cluster: KafkaCluster, settings: Settings, server_url: str, open_tmp_path: Path, victim: str
) -> None:
    """Fault 1 (a broker) and fault 2's first case (the broker leading the most
    partitions, internal topics included: the most leaders to move at once)."""
    seed = 31 if victim == "node 2" else 33
    with cluster_run(cluster, settings, server_url, open_tmp_path, firms=FIRMS, seed=seed) as run:
        worker, sink = run.start_worker(), run.start_sink()
        feed = run.feed(ROUNDS, pause=1.0).start()
        feed.wait_rounds(2)
        assert wait_for(lambda: _busy(run, worker.pid, sink.pid), 120), run.logs()
        led = leaders(run.bootstrap)
        node = 2 if victim == "node 2" else led.most_common(1)[0][0]
        assert led[node] > 0, f"node {node} leads nothing: {led}"

        cluster.kill(node)
        killed_after = feed.done_rounds
        time.sleep(DOWN_S)
        cluster.restart(node)
        feed.join()

        assert killed_after < ROUNDS, "the province was all produced before the kill"
        run.expect_producers_exact(feed)
        run.expect_oracle(run.sinks.alive(sink))
        assert worker.poll() is None, run.logs()
        assert wait_for(lambda: in_sync(run.bootstrap), 120), "the restarted node never caught up"
        assert run.workers.stop(worker) == 0, run.logs()
        assert run.sinks.stop(sink) == 0, run.logs()


def test_a_broker_gone_for_good_the_other_two_carry_on(
    cluster: KafkaCluster, settings: Settings, server_url: str, open_tmp_path: Path
) -> None:
    """Fault 2: a node lost for good mid-stream. Two of three are still a controller
    quorum and, with min.insync.replicas=2, still accept acks=all writes: everything
    continues on them, exactly."""
    with cluster_run(cluster, settings, server_url, open_tmp_path, firms=FIRMS, seed=35) as run:
        worker, sink = run.start_worker(), run.start_sink()
        feed = run.feed(ROUNDS, pause=1.0).start()
        feed.wait_rounds(2)
        assert wait_for(lambda: _busy(run, worker.pid, sink.pid), 120), run.logs()

        cluster.kill(3)
        killed_after = feed.done_rounds
        feed.join()

        assert killed_after < ROUNDS, "the province was all produced before the kill"
        run.expect_producers_exact(feed)
        run.expect_oracle(run.sinks.alive(sink))
        assert cluster.running() == [1, 2]
        assert 3 not in leaders(run.bootstrap), "node 3 still leads a partition"
        assert run.workers.stop(worker) == 0, run.logs()
        assert run.sinks.stop(sink) == 0, run.logs()


def test_two_brokers_gone_producers_fail_loudly_and_the_pipeline_recovers_exactly(
    cluster: KafkaCluster, settings: Settings, server_url: str, open_tmp_path: Path
) -> None:
    """Fault 2: two of three nodes lost. No quorum, and no partition has two replicas in
    sync: ``zjcredit produce`` fails loudly (exit 2, the summary says exactly how many
    rows Kafka acknowledged: none) instead of hanging or claiming success. The worker
    and the sink commit nothing half (read_committed outputs). With the nodes back and
    the file sent again, as the summary advises, the pipeline ends at the oracle."""
    with cluster_run(cluster, settings, server_url, open_tmp_path, firms=600, seed=39) as run:
        worker, sink = run.start_worker(), run.start_sink()
        feed = run.feed(2, pause=0)
        for source in feed.files:
            feed.summaries.append(feed.produce(source, feed.files[source][0]))
        assert wait_for(lambda: _busy(run, worker.pid, sink.pid), 120), run.logs()

        cluster.kill(3)
        time.sleep(DOWN_S)  # its leaderships move to 1 and 2 (the controller needs both)
        cluster.kill(2)
        started = time.monotonic()
        failed = feed.produce("tax", feed.files["tax"][1])
        took = time.monotonic() - started
        rows = len(feed.files["tax"][1].read_text("utf-8").splitlines()) - 1
        assert failed["status"] == 2, failed
        assert (failed["sent"], failed["acknowledged"]) == (rows, 0), failed
        assert failed["error"], failed
        # Its budget: 10 s to bootstrap, up to 20 s blocked on metadata, 30 s of delivery
        # (producers/publisher.py), on a loaded host more; never a hang.
        assert took < 150, f"produce took {took:.0f} s to give up"

        crashed = {name: proc.poll() for name, proc in (("worker", worker), ("sink", sink))}
        cluster.restart(2)
        cluster.restart(3)
        # A process that gave up while Kafka was gone is restarted, as the demo, docker
        # compose or systemd would: each resumes from what it committed.
        if worker.poll() is not None:
            worker = run.start_worker()
        if sink.poll() is not None:
            sink = run.start_sink()
        again = feed.produce("tax", feed.files["tax"][1])
        assert (again["status"], again["acknowledged"]) == (0, rows), again
        for source in feed.files:
            if source != "tax":
                feed.summaries.append(feed.produce(source, feed.files[source][1]))
        assert all(s["status"] == 0 for s in feed.summaries), feed.summaries

        # The failed run's rows may be on the topic (appended, never acknowledged), so the
        # resend can double them: only them, and each event is there.
        records = run.source_records()
        for source, events in run.events.items():
            ids = [str(i) for i in records[source]]
            assert set(ids) == {str(e.event["event_id"]) for e in events}, source
            extra = len(ids) - len(events)
            assert extra <= (rows if source == "tax" else 0), (source, extra)
        run.expect_oracle(run.sinks.alive(sink))
        print(f"two nodes down: produce gave up in {took:.0f} s; exited meanwhile: {crashed}")
        assert run.workers.stop(worker) == 0, run.logs()
        assert run.sinks.stop(sink) == 0, run.logs()
