"""deploy/prometheus with the real Prometheus (Debian package ``prometheus``, installed by
``make prometheus``): promtool checks the config and the alert rules and runs their unit
tests; then the real server scrapes a running ``zjcredit demo`` and every target is up
with the key series; then Ctrl-C stops the demo and leaves no process behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from base.endpoints import Endpoints, free_port
from tests.demo import start_demo

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
KEY_SERIES = [
    "zjcredit_producer_events_acknowledged_total",
    "zjcredit_producer_rows_rejected_total",
    'zjcredit_demo_child_restarts_total{child="worker"}',
    "zjcredit_worker_events_total",
    "zjcredit_worker_notices_total",
    "zjcredit_worker_freshness_seconds_bucket",
    "zjcredit_worker_consumer_lag",
    "zjcredit_sink_rows_written_total",
    "zjcredit_sink_freshness_seconds_bucket",
    "zjcredit_sink_offset_lag",
    "zjcredit_sink_active_listings",
    'zjcredit_query_requests_total{route="/v1/enterprises/{uscc}",status="200"}',
    "zjcredit_query_request_seconds_bucket",
]

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool missing: run `make prometheus`"
)
needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus missing: run `make prometheus`"
)


def _promtool(*args: str) -> str:
    done = subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@needs_promtool
@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-compose.yml"])
def test_promtool_accepts_the_scrape_configs(config: str) -> None:
    assert "SUCCESS" in _promtool("check", "config", str(PROMETHEUS_DIR / config))


@needs_promtool
def test_promtool_accepts_the_alert_rules_and_they_fire_as_documented() -> None:
    assert "SUCCESS" in _promtool("check", "rules", str(PROMETHEUS_DIR / "alerts.yml"))
    # alerts_test.yml: each alert fires on the series it is about, and not before its `for`.
    assert "SUCCESS" in _promtool("test", "rules", str(PROMETHEUS_DIR / "alerts_test.yml"))


def _get(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - local http
        return json.loads(answer.read())


def _wait(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def _metrics_base() -> int:
    """A port P with P, P+1 and P+2 free (the demo's producer, worker and sink)."""
    for _ in range(50):
        base = free_port()
        if base < 65000 and all(free_port(base + i) == base + i for i in (1, 2)):
            return base
    raise AssertionError("no three consecutive free ports")


class Demo:
    """``zjcredit demo`` as a subprocess on the session's Kafka and a fresh database."""

    def __init__(self, stack: Endpoints, database_url: str, work: Path) -> None:
        self.api, self.metrics = free_port(), _metrics_base()
        self.log = work / "demo.log"
        self.proc = start_demo(stack, database_url, work, enterprises=300, rate=20,
                               api_port=self.api, metrics_port=self.metrics, prefix="demo")  # fmt: skip

    def running(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the demo exited early:\n{self.log.read_text()[-3000:]}")
        return "is running:" in self.log.read_text(errors="replace")

    def targets(self) -> dict[str, str]:
        return {
            "zjcredit-query": f"127.0.0.1:{self.api}",
            "zjcredit-demo": f"127.0.0.1:{self.metrics}",
            "zjcredit-worker": f"127.0.0.1:{self.metrics + 1}",
            "zjcredit-sink": f"127.0.0.1:{self.metrics + 2}",
        }

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


def _prometheus_config(demo: Demo, work: Path) -> Path:
    """deploy/prometheus/prometheus.yml with the demo's ports and a 1 s scrape interval."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text("utf-8"))
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / "alerts.yml")]
    targets = demo.targets()
    assert {job["job_name"] for job in config["scrape_configs"]} == set(targets)
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    path = work / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


@needs_prometheus
def test_prometheus_scrapes_every_process_of_the_demo_then_ctrl_c_stops_all(
    demo: Demo, open_tmp_path: Path
) -> None:
    _wait(demo.running, 150, "the demo was not running", demo.log)
    children = psutil.Process(demo.proc.pid).children(recursive=True)
    assert len(children) >= 3  # worker, sink, query service (the stack is the session's)
    # A profile lookup, so that the API's route series exist with a 200.
    term = urllib.parse.quote("有限公司")
    uscc = _get(f"http://127.0.0.1:{demo.api}/v1/enterprises?q={term}")["items"][0]["uscc"]
    assert _get(f"http://127.0.0.1:{demo.api}/v1/enterprises/{uscc}")["uscc"] == uscc

    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    argv = ["prometheus", f"--config.file={_prometheus_config(demo, open_tmp_path)}",
            f"--storage.tsdb.path={open_tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    log = open_tmp_path / "prometheus.log"
    with log.open("wb") as out:
        prometheus = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:

        def all_up() -> bool:
            try:
                active = _get(f"{api}/targets")["data"]["activeTargets"]
            except OSError:
                return False
            return len(active) == 4 and all(t["health"] == "up" for t in active)

        _wait(all_up, 30, "not every target was up", log)

        def count(series: str) -> int:
            query = urllib.parse.quote(f"count({series})")
            result = _get(f"{api}/query?query={query}")["data"]["result"]
            return int(result[0]["value"][1]) if result else 0

        missing: list[str] = []

        def every_series() -> bool:
            missing[:] = [s for s in KEY_SERIES if count(s) == 0]
            return not missing

        _wait(every_series, 30, f"key series missing: {missing}", log)
        assert count("zjcredit_sink_active_listings") == 11  # one per key sector
        groups = _get(f"{api}/rules")["data"]["groups"]
        assert {r["name"] for g in groups for r in g["rules"]} >= {
            "ZjcreditProcessDown", "ZjcreditWorkerLagGrowing", "ZjcreditDeadLettersIncreasing",
            "ZjcreditFreshnessP99High", "ZjcreditSinkRetrying",
        }  # fmt: skip
    finally:
        prometheus.terminate()
        prometheus.wait(30)

    demo.proc.send_signal(signal.SIGINT)  # what Ctrl-C does
    assert demo.proc.wait(90) == 0, demo.log.read_text()[-3000:]
    left = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"still running after Ctrl-C: {[p.cmdline() for p in left]}"
    assert "stopped" in demo.log.read_text()
