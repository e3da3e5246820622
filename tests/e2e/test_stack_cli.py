"""``zjcredit stack up`` and ``zjcredit topics create`` run as a person runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

ZJCREDIT = str(Path(sys.executable).with_name("zjcredit"))


def _env(run_dir: Path, **extra: str) -> dict[str, str]:
    """A newcomer's environment: no servers configured, the default partition count."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL",
                        "ZJCREDIT_KAFKA_BOOTSTRAP_SERVERS", "ZJCREDIT_DATABASE_URL",
                        "ZJCREDIT_PARTITIONS"}}  # fmt: skip
    env.update(ZJCREDIT_KAFKA_PORT="0", ZJCREDIT_POSTGRES_PORT="0", ZJCREDIT_RUN_DIR=str(run_dir))
    env.update(extra)
    return env


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _named(pids: list[int], part: str) -> list[int]:
    """The processes of ``pids`` still running whose name holds ``part`` (the snapshot of
    the stack's children can hold a short-lived helper, gone by the time it is asked)."""
    found = []
    for pid in pids:
        try:
            if part in psutil.Process(pid).name():
                found.append(pid)
        except psutil.NoSuchProcess:
            pass
    return found


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if not _gone(p)]


class RunningStack:
    def __init__(self, proc: subprocess.Popen[str], lines: list[str]):
        self.proc = proc
        text = "\n".join(lines)
        self.bootstrap = re.search(r"KAFKA_BOOTSTRAP_SERVERS=(\S+)", text).group(1)  # type: ignore[union-attr]
        self.database_url = re.search(r"DATABASE_URL=(\S+)", text).group(1)  # type: ignore[union-attr]
        self.servers = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]


@pytest.fixture
def running_stack(open_tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    """``zjcredit stack up`` (with ``request.param``'s extra arguments, if parametrized)."""
    stderr_log = open_tmp_path / "stack-up.stderr"
    args = list(getattr(request, "param", ()))
    with stderr_log.open("w") as stderr:
        proc = subprocess.Popen(
            [ZJCREDIT, "stack", "up", *args], env=_env(open_tmp_path / "run"),
            stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("export "):
            break
    if proc.poll() is not None:
        pytest.fail(
            f"stack up exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
        )
    stack = RunningStack(proc, lines)
    yield stack
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdout.close()
    for pid in stack.servers:
        if not _gone(pid):
            psutil.Process(pid).kill()


async def test_stack_up_serves_kafka_and_postgres_then_stops_on_sigterm(
    running_stack: RunningStack, open_tmp_path: Path
) -> None:
    admin = KafkaAdminClient(bootstrap_servers=running_stack.bootstrap)
    assert admin.describe_cluster()["brokers"]
    admin.close()
    conn = await asyncpg.connect(running_stack.database_url)
    assert await conn.fetchval("select 1 + 1") == 2
    await conn.close()
    assert _named(running_stack.servers, "java")
    assert _named(running_stack.servers, "postgres")

    # Another terminal finds the running stack without any exported variable.
    created = subprocess.run(  # noqa: ASYNC221 - the test waits for the command on purpose
        [ZJCREDIT, "topics", "create"], env=_env(open_tmp_path / "run"),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert re.search(r"^created\s+zjcredit\.profiles\s+12 partitions", created.stdout, re.M)

    running_stack.proc.send_signal(signal.SIGTERM)
    assert running_stack.proc.wait(timeout=90) == 0
    assert _wait_gone(running_stack.servers, 10) == []
    assert not (open_tmp_path / "run" / "stack.json").exists()


@pytest.mark.parametrize("running_stack", [("--brokers", "3")], indirect=True)
def test_stack_up_with_three_brokers_replicates_topics_and_stops_all_three_on_sigterm(
    running_stack: RunningStack, open_tmp_path: Path
) -> None:
    javas = _named(running_stack.servers, "java")
    assert len(javas) == 3, running_stack.servers
    assert len(running_stack.bootstrap.split(",")) == 3
    admin = KafkaAdminClient(bootstrap_servers=running_stack.bootstrap)
    try:
        assert len(admin.describe_cluster()["brokers"]) == 3
        # Another terminal's `topics create` finds the cluster and replicates on it.
        created = subprocess.run(
            [ZJCREDIT, "topics", "create"], env=_env(open_tmp_path / "run"),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        assert re.search(r"^created\s+zjcredit\.tax\s+12 partitions, RF 3", created.stdout, re.M)
        names = [f"zjcredit.{n}" for n in ("tax", "profiles", "deadletters")]
        for topic in admin.describe_topics(names):
            assert {len(p["replica_nodes"]) for p in topic["partitions"]} == {3}, topic["name"]
            assert {len(p["isr_nodes"]) for p in topic["partitions"]} == {3}, topic["name"]
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n, configs=["min.insync.replicas"])
             for n in names]
        )  # fmt: skip
        for name in names:
            assert configs["topic"][name]["min.insync.replicas"]["value"] == "2", name
    finally:
        admin.close()

    running_stack.proc.send_signal(signal.SIGTERM)
    assert running_stack.proc.wait(timeout=120) == 0
    assert _wait_gone(running_stack.servers, 10) == []
    assert not (open_tmp_path / "run" / "stack.json").exists()


def test_a_killed_stack_takes_its_servers_with_it(running_stack: RunningStack) -> None:
    running_stack.proc.kill()  # SIGKILL: no chance to clean up
    running_stack.proc.wait()

    assert _wait_gone(running_stack.servers, 60) == []


def test_stack_up_without_java_says_so_and_how_to_avoid_it(open_tmp_path: Path) -> None:
    no_java = open_tmp_path / "bin"
    no_java.mkdir()
    env = _env(open_tmp_path / "run", PATH=str(no_java))
    env.pop("JAVA_HOME", None)

    result = subprocess.run(
        [ZJCREDIT, "stack", "up"], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 2
    assert "Java 17 or newer is needed" in result.stderr
    assert "KAFKA_BOOTSTRAP_SERVERS" in result.stderr
    assert "Traceback" not in result.stderr


def test_topics_create_without_a_stack_explains_what_to_run(open_tmp_path: Path) -> None:
    result = subprocess.run(
        [ZJCREDIT, "topics", "create"], env=_env(open_tmp_path / "run"),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 2
    assert "zjcredit stack up" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_against_a_stopped_database_says_so_without_a_traceback() -> None:
    dead = "postgresql://postgres@127.0.0.1:9/zjcredit"
    done = subprocess.run([ZJCREDIT, "migrate"], env={**os.environ, "DATABASE_URL": dead,
                          "ZJCREDIT_DATABASE_URL": dead}, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot migrate: PostgreSQL at" in done.stderr
    assert "Traceback" not in done.stderr
