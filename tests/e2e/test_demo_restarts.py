"""``zjcredit demo`` restarts a child that dies instead of stopping the service: the
worker is SIGKILLed, the demo says so, counts it, keeps the crash's log and brings the
worker back; then SIGTERM still stops everything cleanly."""

from __future__ import annotations

import http.client
import os
import re
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from base.endpoints import Endpoints, free_port
from tests.demo import start_demo


def _wait(condition: Callable[[], object], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _metrics(port: int) -> dict[str, float] | None:
    """Every sample of ``http://127.0.0.1:PORT/metrics`` by name and labels, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except (OSError, http.client.HTTPException):  # down, or killed while it answered
        return None
    return {
        s.name + "".join(f"{{{k}={v}}}" for k, v in sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


class Demo:
    """``zjcredit demo`` on a small province, on the session's Kafka and a fresh database."""

    def __init__(self, stack: Endpoints, database_url: str, work: Path) -> None:
        self.api, self.metrics = free_port(), free_port()
        self.log = work / "demo.log"
        self.logs = work / "run" / "demo" / "logs"
        self.proc = start_demo(stack, database_url, work, enterprises=30, rate=5,
                               api_port=self.api, metrics_port=self.metrics, prefix="restart")  # fmt: skip

    def output(self) -> str:
        if self.proc.poll() is not None:
            raise AssertionError(f"the demo exited ({self.proc.returncode}):\n{self.output_()}")
        return self.output_()

    def output_(self) -> str:
        return self.log.read_text(errors="replace")

    def worker(self) -> psutil.Process | None:
        """The demo's running worker child."""
        for child in psutil.Process(self.proc.pid).children():
            if child.status() != psutil.STATUS_ZOMBIE and "worker" in child.cmdline()[1:3]:
                return child
        return None

    def worker_metrics_port(self) -> int:
        found = re.search(r"(\d+)/metrics   \(worker\)", self.output())
        assert found, self.output()
        return int(found.group(1))

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def demo(stack: Endpoints, database_url: str, open_tmp_path: Path) -> Iterator[Demo]:
    running = Demo(stack, database_url, open_tmp_path)
    try:
        yield running
    finally:
        running.kill()


def test_a_killed_worker_is_restarted_counted_and_its_log_kept(demo: Demo) -> None:
    _wait(lambda: "is running:" in demo.output(), 180, "the demo was not running", demo.log)
    worker = demo.worker()
    assert worker is not None
    worker_port = demo.worker_metrics_port()
    restarts = "zjcredit_demo_child_restarts_total{child=worker}"
    assert (_metrics(demo.metrics) or {})[restarts] == 0

    worker.kill()  # SIGKILL: no clean shutdown, as a crash

    line = re.compile(r"restarting the worker in 1 s \(restart 1\): it exited with status -9; "
                      r"its log: (\S+/worker\.log\.1)$", re.MULTILINE)  # fmt: skip
    _wait(lambda: line.search(demo.output()), 30, "no restart line", demo.log)
    kept = Path(line.search(demo.output()).group(1))  # type: ignore[union-attr]
    assert kept == demo.logs / "worker.log.1"
    assert "worker id=" in kept.read_text()  # the killed worker's own log
    _wait(lambda: (_metrics(demo.metrics) or {}).get(restarts) == 1, 30, "not counted", demo.log)

    # A new worker, answering on its metrics port, logging afresh; the others untouched.
    _wait(lambda: (w := demo.worker()) is not None and w.pid != worker.pid, 30,
          "no new worker", demo.log)  # fmt: skip
    _wait(lambda: _metrics(worker_port) is not None, 60, "the new worker's /metrics", demo.log)
    log = demo.logs / "worker.log"
    _wait(lambda: "worker id=" in log.read_text(), 30, "the new worker's log", demo.log)

    # ... and folding the live events again once it has its partitions (the killed one's
    # data-dir lock and transactions are not in its way), with no second crash.
    def folding() -> bool:
        samples = _metrics(worker_port) or {}
        return (
            sum(v for k, v in samples.items() if k.startswith("zjcredit_worker_events_total")) > 0
        )

    _wait(folding, 120, "the new worker folded nothing", demo.log)
    answers = _metrics(demo.metrics) or {}
    assert answers[restarts] == 1
    assert answers["zjcredit_demo_child_restarts_total{child=sink}"] == 0
    assert answers["zjcredit_demo_child_restarts_total{child=query service}"] == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{demo.api}/healthz", timeout=5) as answer:
        assert answer.status == 200

    children = psutil.Process(demo.proc.pid).children(recursive=True)
    demo.proc.send_signal(signal.SIGTERM)
    assert demo.proc.wait(90) == 0, demo.output_()[-3000:]
    left = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"still running after SIGTERM: {[p.cmdline() for p in left]}"
    assert demo.output_().rstrip().endswith("stopped")
