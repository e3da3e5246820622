"""``zjcredit bench worker --scale-states N``: the worker holding a province of N enterprises.

A cheap fill (every enterprise registered, a generated province's full histories for a
share of them) goes into fresh topics; one ``zjcredit worker`` folds it all, then:

- ``rss_mib``: the worker's peak resident memory while folding (``VmHWM``);
- ``restart_clean_s`` / ``restart_kill_s``: after SIGTERM / SIGKILL, the time from
  starting the worker again (same ``--instance``, same disk) to its first folded new event;
- ``rebuild_s``: the same member started on an empty disk: the time until every partition
  store is rebuilt from the changelog (``rebuild_rate`` = states per second).

Printed as ``worker scale states=<N> rss_mib=<peak> restart_clean_s=<s>
restart_kill_s=<s> rebuild_s=<s>``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from base.endpoints import free_port
from base.settings import Settings
from benchmarks.harness import BenchError
from producers.generator import HORIZON
from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from schemas.topics import create_topics, project_topics
from schemas.uscc import ALPHABET, make_code
from streams.changelog import changelog_spec

__all__ = ["ScaleBench", "credit_code", "run_scale_bench"]

Say = Callable[[str], None]
_ZJCREDIT = str(Path(sys.executable).with_name("zjcredit"))
_CITIES = ("330100", "330200", "330300", "330400", "330500", "330600", "330700", "330800",
           "330900", "331000", "331100")  # fmt: skip


@dataclass(frozen=True)
class ScaleBench:
    states: int
    events: int
    fold_rate: float
    rss_mib: float
    restart_clean_s: float
    restart_kill_s: float
    rebuild_s: float

    @property
    def rebuild_rate(self) -> float:
        return self.states / self.rebuild_s

    def line(self) -> str:
        return (f"worker scale states={self.states} rss_mib={self.rss_mib:.0f} "
                f"restart_clean_s={self.restart_clean_s:.1f} "
                f"restart_kill_s={self.restart_kill_s:.1f} "
                f"rebuild_s={self.rebuild_s:.1f}")  # fmt: skip


def credit_code(n: int) -> tuple[str, str]:
    """The ``n``-th of distinct, valid credit codes (deterministic), and its city."""
    digits, rest = [], n
    for _ in range(8):
        rest, d = divmod(rest, len(ALPHABET))
        digits.append(ALPHABET[d])
    city = _CITIES[n % len(_CITIES)]
    return make_code("91", city, "".join(reversed(digits))), city


def registrations(count: int, start: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` REGISTERED events of distinct, valid credit codes (deterministic)."""
    reported = dt.datetime.now(dt.UTC)
    for n in range(start, start + count):
        code, city = credit_code(n)
        yield {
            "event_id": uuid.uuid5(uuid.NAMESPACE_OID, code), "uscc": code,
            "department": "SAMR", "occurred_at": dt.datetime(2010, 1, 1, tzinfo=dt.UTC),
            "reported_at": reported, "event_type": "REGISTERED", "name": f"浙江测试{n}有限公司",
            "city_code": city, "district_code": city[:4] + "02", "industry_section": "C",
            "industry_code": None, "size_class": "SMALL",
            "established_on": dt.date(2010, 1, 1), "registered_capital": None,
            "zjtx_level": None, "zjtx_year": None,
        }  # fmt: skip


def _fill(bootstrap: str, prefix: str, states: int, say: Say) -> int:
    """Register ``states`` firms, plus full histories for a generated 2% of them."""
    from kafka import KafkaProducer  # noqa: PLC0415

    from benchmarks.province import encode_province  # noqa: PLC0415
    from producers.generator import generate  # noqa: PLC0415

    codec = Codec(ManifestRegistry.load())
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             compression_type="lz4", batch_size=256 * 1024)  # fmt: skip
    sent, shown = 0, time.monotonic()
    for event in registrations(states):
        producer.send(f"{prefix}.enterprise", key=event["uscc"].encode(),
                      value=codec.encode("enterprise", event))  # fmt: skip
        sent += 1
        if time.monotonic() - shown > 10:
            shown = time.monotonic()
            say(f"  registered {sent:,} of {states:,}")
    with tempfile.TemporaryDirectory(prefix="zjcredit-bench-") as folder:
        report = generate(max(100, states // 50), seed=7, out_dir=Path(folder))
        files = {s: report.paths[s] for s in SOURCES}
        for source, pairs in encode_province(files).items():
            for key, value in pairs:
                producer.send(f"{prefix}.{source}", key=key, value=value)
            sent += len(pairs)
    producer.flush()
    producer.close()
    return sent


def _metric(port: int, name: str, **labels: str) -> float:
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(f"{name}") and not line.startswith("#")
               and line.split("{")[0].split(" ")[0] == name
               and all(w in line for w in wanted))  # fmt: skip


def _peak_rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Worker:
    """One ``zjcredit worker`` process of the bench (instance ``w0``, its own data dir)."""

    def __init__(self, env: dict[str, str], work: Path, data_dir: Path) -> None:
        self.env, self.work, self.data_dir = env, work, data_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.runs = 0

    def start(self) -> float:
        self.port = free_port()
        self.runs += 1
        log = (self.work / f"worker-{self.runs}.log").open("wb")
        self.proc = subprocess.Popen(
            [_ZJCREDIT, "worker", "--as-of", HORIZON.isoformat(), "--instance", "w0",
             "--data-dir", str(self.data_dir), "--metrics-port", str(self.port),
             "--session-timeout", "10"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        return time.monotonic()

    def metric(self, name: str, **labels: str) -> float:
        return _metric(self.port, name, **labels)

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, how)
        self.proc.wait(120)

    def log_tail(self) -> str:
        return (self.work / f"worker-{self.runs}.log").read_text(errors="replace")[-3000:]


def _until(condition: Callable[[], bool], limit_s: float, what: str, worker: _Worker) -> float:
    deadline = time.monotonic() + limit_s
    while not condition():
        if worker.proc is not None and worker.proc.poll() is not None:
            raise BenchError(f"the worker exited while {what}\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {limit_s:.0f} s\n{worker.log_tail()}")
        time.sleep(0.05)
    return time.monotonic()


def _send_new(bootstrap: str, prefix: str, n: int) -> None:
    from kafka import KafkaProducer  # noqa: PLC0415

    codec = Codec(ManifestRegistry.load())
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for event in registrations(1, start=50_000_000 + n):
        producer.send(f"{prefix}.enterprise", key=event["uscc"].encode(),
                      value=codec.encode("enterprise", event))  # fmt: skip
    producer.flush()
    producer.close()


def run_scale_bench(
    settings: Settings, bootstrap: str, states: int, say: Say = print
) -> ScaleBench:
    """Fill, fold, restart twice and rebuild once; print as it goes."""
    prefix = f"bench-scale-{uuid.uuid4().hex[:8]}"
    scaled = replace(settings, topic_prefix=prefix)
    group = f"{prefix}.worker"
    changelog = changelog_spec(group, settings.partitions, settings.replication_factor)
    create_topics(bootstrap, [*project_topics(scaled), changelog])
    with tempfile.TemporaryDirectory(prefix="zjcredit-bench-") as folder:
        work = Path(folder)
        say(f"registering {states:,} enterprises (+ full histories for 2%) in {prefix}.* ...")
        events = _fill(bootstrap, prefix, states, say)
        env = {**os.environ, "ZJCREDIT_TOPIC_PREFIX": prefix, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
               "ZJCREDIT_RUN_DIR": str(work / "run")}  # fmt: skip
        worker = _Worker(env, work, work / "data")
        worker.start()
        first = _until(lambda: worker.metric("zjcredit_worker_events_total") > 0, 300,
                       "starting", worker)  # fmt: skip
        peak, shown = 0.0, time.monotonic()
        assert worker.proc is not None

        def folded() -> bool:
            nonlocal peak, shown
            peak = max(peak, _peak_rss_mib(worker.proc.pid))  # type: ignore[union-attr]
            done = worker.metric("zjcredit_worker_events_total")
            if time.monotonic() - shown > 15:
                shown = time.monotonic()
                say(f"  folded {done:,.0f} of {events:,} events, peak RSS {peak:,.0f} MiB")
            return done >= events

        last = _until(folded, 7200, "folding", worker)
        rate = events / (last - first)
        say(f"folded       {events:,} events at {rate:,.0f} events/s, peak RSS {peak:,.0f} MiB")
        restarts = []
        for n, how in enumerate((signal.SIGTERM, signal.SIGKILL)):
            worker.stop(how)
            started = worker.start()
            _send_new(bootstrap, prefix, n)
            done = _until(lambda: worker.metric("zjcredit_worker_events_total") >= 1, 600,
                          f"restarting after {how.name}", worker)  # fmt: skip
            restarts.append(done - started)
            say(f"restart      {done - started:.1f} s after {how.name} to the first new event")
        worker.stop(signal.SIGTERM)
        shutil.rmtree(work / "data")
        started = worker.start()
        partitions = settings.partitions
        done = _until(lambda: worker.metric("zjcredit_worker_store_restores_total",
                                            kind="rebuilt") >= partitions, 3600,
                      "rebuilding", worker)  # fmt: skip
        copied = worker.metric("zjcredit_worker_store_restored_records_total", kind="rebuilt")
        rebuild = done - started
        say(f"rebuild      {rebuild:.1f} s from start on an empty disk: {copied:,.0f} changelog "
            f"records, {states / rebuild:,.0f} states/s")  # fmt: skip
        worker.stop(signal.SIGTERM)
    return ScaleBench(states, events, rate, peak, restarts[0], restarts[1], rebuild)
