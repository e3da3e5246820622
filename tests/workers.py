"""Run ``zjcredit worker`` as a real subprocess in tests and watch what it commits.

- :class:`Workers` starts workers for one topic prefix (each in its own process group,
  logging to its own file), stops them (SIGTERM) or kills them (SIGKILL to the group), and
  gives the tail of every log for assertion messages; leftovers are killed on ``close``;
- :class:`Watch` follows the committed outputs (``read_committed``) incrementally, so a
  test can poll "has the worker finished, and is it right?" every second without
  re-reading whole topics, and knows how far the worker's consumer group has committed.

Used by tests/integration/test_worker.py and tests/integration/test_worker_crash.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from base.settings import Settings
from producers.publisher import Publisher
from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from schemas.topics import create_topics, project_topics
from streams.core import SourceEvent

ZJCREDIT = str(Path(sys.executable).with_name("zjcredit"))
codec = Codec(ManifestRegistry.load())
# The tests' kafka-python consumers refresh their metadata every 2 s, not every 5 minutes:
# kafka-python 3.0.12's end_offsets retries a NOT_LEADER_OR_FOLLOWER partition at the
# leader it knows without asking for new metadata (its fetcher's
# _fetch_offsets_by_times_async; the Java client's KAFKA-9159), so a consumer idle while a
# broker was killed and restarted timed out after 30 s against the old leader, every time.
FRESH_METADATA_MS = 2000


def create_project_topics(bootstrap_servers: str, settings: Settings, prefix: str) -> None:
    """The project's topics for ``prefix`` (the worker would create them too, but the
    producers need them first: the broker does not auto-create topics)."""
    create_topics(bootstrap_servers, project_topics(replace(settings, topic_prefix=prefix)))


def send_events(
    bootstrap_servers: str, prefix: str, events: Mapping[str, Sequence[SourceEvent]]
) -> None:
    """Send decoded events (re-encoded, keyed by credit code) in order, per source; all acked."""
    with Publisher(bootstrap_servers, topic_prefix=prefix) as publisher:
        for source, items in events.items():
            if items:
                publisher.send_encoded(
                    source,
                    [e.event["uscc"].encode() for e in items],
                    [codec.encode(source, e.event) for e in items],
                )
        report = publisher.flush()
    assert report.acknowledged == report.sent, report


def canonical(record: Mapping[str, Any]) -> str:
    """A decoded record as text, to compare records as a multiset."""
    return json.dumps(record, sort_keys=True, default=str, ensure_ascii=False)


def notices_diff(got: Iterable[Mapping[str, Any]], want: Iterable[Mapping[str, Any]]) -> str:
    g, w = Counter(map(canonical, got)), Counter(map(canonical, want))
    missing, extra = list((w - g).elements()), list((g - w).elements())
    return (
        f"{len(missing)} notices missing, {len(extra)} unexpected\n"
        + "".join(f"  missing:    {m[:400]}\n" for m in missing[:3])
        + "".join(f"  unexpected: {x[:400]}\n" for x in extra[:3])
    )


def profiles_diff(
    got: Mapping[str, Mapping[str, Any]], want: Mapping[str, Mapping[str, Any]]
) -> str:
    """What differs, briefly: missing and unexpected firms, then the first differing fields."""
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    lines = [
        f"{len(got)} profiles, {len(want)} expected: {len(missing)} missing {missing[:3]}, "
        f"{len(extra)} unexpected {extra[:3]}, {len(differ)} differ"
    ]
    for uscc in differ[:3]:
        for name in want[uscc]:
            if got[uscc].get(name) != want[uscc][name]:
                lines.append(
                    f"  {uscc}.{name}: got {str(got[uscc].get(name))[:300]} "
                    f"want {str(want[uscc][name])[:300]}"
                )
    return "\n".join(lines)


def metric_total(port: int, name: str, **labels: str) -> float:
    """The sum of counter ``name`` on a worker's metrics endpoint over the series whose
    labels include ``labels`` (0 if it is down)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except (OSError, http.client.HTTPException):
        # Down, or killed while it answered (a worker that kills itself at a fault point
        # closes the scrape mid-body: IncompleteRead): the same thing, no answer.
        return 0.0
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name}{{", f"{name} ")) and all(w in line for w in wanted)
    )


class Workers:
    """``zjcredit worker`` processes for one topic prefix, with a log file each.

    ``extra_env`` adds to the environment (e.g. Faust's ``BROKER_SESSION_TIMEOUT``);
    ``command`` and ``cwd`` run another ``zjcredit`` than this checkout's (an older
    release's code, for an upgrade test).
    """

    def __init__(self, bootstrap_servers: str, prefix: str, partitions: int, run_dir: Path,
                 extra_env: Mapping[str, str] | None = None, *,
                 command: Sequence[str] = (ZJCREDIT,), cwd: Path | None = None) -> None:  # fmt: skip
        self.command = list(command)
        self.cwd = cwd
        self.run_dir = run_dir
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "ZJCREDIT_AS_OF"},
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "ZJCREDIT_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "ZJCREDIT_TOPIC_PREFIX": prefix,
            "ZJCREDIT_PARTITIONS": str(partitions),
            "ZJCREDIT_REPLICATION_FACTOR": "1",
            "ZJCREDIT_RUN_DIR": str(run_dir),
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(
        self, *args: str, instance: str = "w0", env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """``zjcredit worker --instance INSTANCE ARGS``, in a new session (so its whole group
        can be killed). A worker started again with the same instance is the same static
        group member, with the same data directory (under the run directory)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = self.run_dir / f"worker-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*self.command, "worker", "--instance", instance, *args],
                env={**self.env, **(env or {})},
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((proc, log))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 90) -> int:
        """SIGTERM, as a supervisor stops it; its exit status once it and its group are gone."""
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the worker did not stop within {timeout} s of SIGTERM\n{self.logs()}"
            ) from None
        assert wait_for(lambda: not group_alive(proc.pid), 30), (
            f"processes of the worker's group {proc.pid} outlived it\n{self.logs()}"
        )
        return code

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker's whole process group, and wait until nothing of it is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert wait_for(lambda: not group_alive(proc.pid), 30), (
            f"processes of the worker's group {proc.pid} survived SIGKILL"
        )

    def logs(self, lines: int = 50) -> str:
        """The tail of every worker's log, without Faust's boxes of topic names."""
        out = []
        for proc, path in self.started:
            text = path.read_text(errors="replace").splitlines()
            kept = [t for t in text if t.strip() and not t.startswith(("|", "+"))]
            out.append(f"--- {path.name} (pid {proc.pid}, exit {proc.poll()}) ---")
            out += kept[-lines:]
        return "\n".join(out)

    def close(self) -> None:
        for proc, _ in self.started:
            if proc.poll() is None:
                self.kill(proc)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's group reusing the id
        return False
    return True


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


class CommittedTopic:
    """A topic's committed records, read incrementally from the beginning (or, with
    ``isolation="read_uncommitted"``, every record, aborted transactions' too)."""

    def __init__(
        self, bootstrap_servers: str, topic: str, isolation: str = "read_committed"
    ) -> None:
        self.topic = topic
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            isolation_level=isolation,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=FRESH_METADATA_MS,
        )
        parts = self.consumer.partitions_for_topic(topic)
        assert parts, f"topic {topic} does not exist"
        self.parts = [TopicPartition(topic, p) for p in sorted(parts)]
        self.consumer.assign(self.parts)
        self.consumer.seek_to_beginning(*self.parts)
        self.records: list[Any] = []  # ConsumerRecords, in partition then offset order

    def read(self, timeout: float = 60) -> list[Any]:
        """Read up to the topic's current last stable offset; return the new records."""
        end = self.consumer.end_offsets(self.parts)
        new: list[Any] = []
        deadline = time.monotonic() + timeout
        while any(self.consumer.position(tp) < end[tp] for tp in self.parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {self.topic} did not reach its end in {timeout} s")
            for batch in self.consumer.poll(timeout_ms=200).values():
                new.extend(batch)
        self.records += new
        return new

    def close(self) -> None:
        self.consumer.close()


class Watch:
    """The committed outputs of a prefix and the worker group's progress on its inputs."""

    def __init__(self, bootstrap_servers: str, prefix: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group = f"{prefix}.worker"
        self.inputs = [f"{prefix}.{s}" for s in SOURCES]
        self.profiles_topic = CommittedTopic(bootstrap_servers, f"{prefix}.profiles")
        self.penalties_topic = CommittedTopic(bootstrap_servers, f"{prefix}.penalties")
        self.deadletters_topic = CommittedTopic(bootstrap_servers, f"{prefix}.deadletters")
        self.profiles: dict[str, dict[str, Any]] = {}  # latest per credit code
        self.versions: dict[str, list[int]] = {}  # every version published, per code
        self.notices: list[dict[str, Any]] = []
        self.dead_letters: list[dict[str, Any]] = []
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
        self.offsets = KafkaConsumer(
            bootstrap_servers=bootstrap_servers, metadata_max_age_ms=FRESH_METADATA_MS
        )
        self.input_parts = [
            TopicPartition(t, p) for t in self.inputs for p in self.offsets.partitions_for_topic(t)
        ]
        outputs = (self.profiles_topic, self.penalties_topic, self.deadletters_topic)
        counts = {len(t.parts) for t in outputs} | {len(self.input_parts) // len(self.inputs)}
        assert len(counts) == 1, f"the topics of {prefix} are not co-partitioned: {counts}"

    def read(self) -> None:
        """Take in what was committed since the last call."""
        for record in self.profiles_topic.read():
            profile = codec.decode(record.value)[0]
            self.profiles[profile["uscc"]] = profile
            self.versions.setdefault(profile["uscc"], []).append(profile["version"])
        self.notices += [codec.decode(r.value)[0] for r in self.penalties_topic.read()]
        self.dead_letters += [codec.decode(r.value)[0] for r in self.deadletters_topic.read()]

    def lags(self) -> dict[tuple[str, int], tuple[int, int]]:
        """``(topic, partition) -> (committed, end)`` of every input partition behind."""
        end = self.offsets.end_offsets(self.input_parts)
        try:
            committed = self.admin.list_group_offsets({self.group: None}).get(self.group, {})
        except KafkaError:  # e.g. no coordinator yet: a fresh broker makes its offsets topic
            committed = {}
        done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        return {
            (tp.topic, tp.partition): (done.get(tp, 0), end[tp])
            for tp in self.input_parts
            if done.get(tp, 0) < end[tp]
        }

    def lag(self) -> int:
        """Input messages the worker group has not committed yet (all five sources)."""
        return sum(end - committed for committed, end in self.lags().values())

    def describe(
        self, profiles: Mapping[str, Mapping[str, Any]], notices: Iterable[Mapping[str, Any]]
    ) -> str:
        """Where the committed outputs stand against the expected ones (for a failure)."""
        letters = Counter(d["reason"] for d in self.dead_letters)
        behind = {f"{t}[{p}]": f"{c}/{e}" for (t, p), (c, e) in self.lags().items()}
        return (
            f"input committed/end where behind: {behind or 'none'}; "
            f"dead letters {dict(letters)}\n"
            f"{profiles_diff(self.profiles, profiles)}\n{notices_diff(self.notices, notices)}"
        )

    def close(self) -> None:
        for topic in (self.profiles_topic, self.penalties_topic, self.deadletters_topic):
            topic.close()
        self.offsets.close()
        self.admin.close()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(
        self,
        done: Callable[[Watch], bool],
        timeout: float,
        workers: Workers,
        proc: subprocess.Popen[bytes] | None = None,
    ) -> bool:
        """Poll until the inputs are all committed and ``done(self)``; False at the deadline.

        Fails at once, with the logs, if ``proc`` (the running worker) exits.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            if self.lag() == 0 and done(self):
                return True
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"the worker exited with {proc.returncode}\n{workers.logs()}")
            if time.monotonic() > deadline:
                return False
            time.sleep(1.0)
