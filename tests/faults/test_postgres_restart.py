"""Fault 4: PostgreSQL restarted under the query service and the sink, on the cluster.

The pipeline runs on the three-node cluster into a database on a PostgreSQL of the
test's own. Mid-stream that server is stopped (fast shutdown) and, 8 s later, started
again on the same port. Meanwhile the query service answers every request with 503
(``database_unavailable``, ``Retry-After``), each within a second, never hanging on a
dead connection; it recovers by itself once the server is back. The sink pauses,
retries and loses nothing: the read model ends equal to the fold, the outputs to the
oracle, the producer summaries to the source topics.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from base.settings import Settings
from tests.cluster import cluster_run
from tests.queryservice import QueryService
from tests.readmodel import metric
from tests.workers import wait_for
from zjcredit.stack import EmbeddedPostgres
from zjcredit.stack.cluster import KafkaCluster

# A fault test runs a province through three brokers, workers and a sink on a shared
# 2-core machine: pytest's default 300 s per test (pyproject.toml) is too short a leash.
pytestmark = pytest.mark.timeout(900)


DOWN_S = 8.0


def test_postgres_restarted_under_the_api_and_the_sink_503_fast_then_recovery_and_nothing_lost(
    cluster: KafkaCluster, settings: Settings, open_tmp_path: Path
) -> None:
    pg = EmbeddedPostgres(work_dir=open_tmp_path / "pg")  # ours alone, to restart at will
    server_url = pg.start()
    try:
        with cluster_run(cluster, settings, server_url, open_tmp_path / "run", firms=800,
                         seed=43) as run:  # fmt: skip
            worker, sink = run.start_worker(), run.start_sink()
            service = QueryService(run.database_url, run.prefix, open_tmp_path / "serve.log")
            firm = run.events["enterprise"][0].event["uscc"]
            try:
                feed = run.feed(6, pause=1.0).start()
                feed.wait_rounds(2)
                rows = "zjcredit_sink_rows_written_total"
                assert wait_for(lambda: (metric(run.ports[sink.pid], rows) or 0) > 0, 120)
                assert httpx.get(f"{service.url}/healthz", timeout=5).status_code == 200

                pg.stop()
                answers = []
                down_until = time.monotonic() + DOWN_S
                while time.monotonic() < down_until:
                    for path in ("/healthz", f"/v1/enterprises/{firm}"):
                        started = time.monotonic()
                        response = httpx.get(f"{service.url}{path}", timeout=10)
                        answers.append((path, response.status_code,
                                        time.monotonic() - started,
                                        response.headers.get("retry-after")))  # fmt: skip
                    time.sleep(0.2)
                assert pg.start() == server_url, "PostgreSQL came back on another port"

                assert {(p, code) for p, code, _, _ in answers} == {
                    ("/healthz", 503),
                    (f"/v1/enterprises/{firm}", 503),
                }, answers
                slowest = max(took for _, _, took, _ in answers)
                assert slowest < 1.0, f"a 503 took {slowest:.2f} s: {answers}"
                assert {after for *_, after in answers} == {"5"}, answers
                assert wait_for(lambda: httpx.get(f"{service.url}/healthz", timeout=5)
                                .status_code == 200, 60), service.logs()  # fmt: skip

                feed.join()
                run.expect_producers_exact(feed)
                run.expect_oracle(run.sinks.alive(sink))
                assert (metric(run.ports[sink.pid], "zjcredit_sink_retries_total") or 0) > 0
                assert httpx.get(f"{service.url}/v1/enterprises/{firm}",
                                 timeout=5).status_code == 200  # fmt: skip
                assert service.proc.poll() is None, service.logs()
                assert run.workers.stop(worker) == 0, run.logs()
                assert run.sinks.stop(sink) == 0, run.logs()
            finally:
                assert service.stop() == 0, service.logs()
            assert "Traceback" not in service.logs()
    finally:
        pg.stop()
