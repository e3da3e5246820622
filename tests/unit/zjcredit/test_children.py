"""The demo's supervision of its children: the backoff policy alone, then real (tiny
Python) children restarted on a test clock and by the supervisor thread."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from zjcredit.children import ChildNotReadyError, Children, RestartPolicy
from zjcredit.metrics import DemoMetrics

EXITS = ["-c", "import sys; print('crashing', flush=True); sys.exit(3)"]
RUNS = ["-c", "import time; print('up', flush=True); time.sleep(60)"]


def test_delays_double_from_one_second_up_to_a_minute() -> None:
    policy = RestartPolicy()
    assert [policy.delay(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert policy.delay(10_000) == 60  # no overflow however long the loop


def test_a_stable_run_resets_the_backoff_a_short_one_climbs() -> None:
    policy = RestartPolicy(first_s=1, cap_s=60, stable_s=60)
    assert policy.next_attempt(0, ran_s=0.5) == 1
    assert policy.next_attempt(4, ran_s=59.9) == 5
    assert policy.next_attempt(4, ran_s=60.0) == 1


def test_policy_is_configurable() -> None:
    policy = RestartPolicy(first_s=0.5, cap_s=3, stable_s=10)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1, 2, 3]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wait_exited(children: Children, name: str) -> None:
    child = children._children[name]
    deadline = time.monotonic() + 20
    while child.process.exit_code() is None:
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.02)


def test_an_exited_child_is_restarted_after_its_delay_its_log_kept(tmp_path: Path) -> None:
    clock, said, restarts = _Clock(), [], list[str]()
    children = Children(tmp_path, {}, said.append, on_restart=restarts.append,
                        program=[sys.executable], clock=clock)  # fmt: skip
    children.start("worker", EXITS)
    try:
        _wait_exited(children, "worker")
        children.watch()
        assert said == [
            f"restarting the worker in 1 s (restart 1): it exited with status 3; "
            f"its log: {tmp_path / 'worker.log.1'}"
        ]
        assert (tmp_path / "worker.log.1").read_text() == "crashing\n"
        assert children.pid("worker") is None  # down, waiting

        clock.now += 0.9
        children.watch()
        assert restarts == []  # not yet
        clock.now += 0.1
        children.watch()
        assert restarts == ["worker"]
        assert children.pid("worker") is not None

        # It crashes again at once: the next delay doubles.
        _wait_exited(children, "worker")
        children.watch()
        assert said[-1].startswith("restarting the worker in 2 s (restart 2): it exited with")
    finally:
        children.stop()


def test_a_child_that_ran_stably_starts_over_at_one_second(tmp_path: Path) -> None:
    clock, said = _Clock(), []
    policy = RestartPolicy(first_s=1, cap_s=60, stable_s=60)
    children = Children(tmp_path, {}, said.append, policy=policy, program=[sys.executable],
                        clock=clock)  # fmt: skip
    children.start("sink", EXITS)
    try:
        for _ in range(3):  # restarts 1, 2, 3: 1 s, 2 s, 4 s
            _wait_exited(children, "sink")
            children.watch()
            clock.now += 10
            children.watch()
        assert "in 4 s (restart 3)" in said[-1]
        clock.now += 120  # this run lasted two minutes
        _wait_exited(children, "sink")
        children.watch()
        assert "in 1 s (restart 1)" in said[-1]
    finally:
        children.stop()


def test_stop_stops_a_running_child_and_ends_a_pending_restart(tmp_path: Path) -> None:
    clock, said, restarts = _Clock(), [], list[str]()
    children = Children(tmp_path, {}, said.append, on_restart=restarts.append,
                        program=[sys.executable], clock=clock)  # fmt: skip
    children.start("worker", EXITS)
    children.start("query service", RUNS)
    children.wait_for_log("query service", "up", 20)
    _wait_exited(children, "worker")
    children.watch()

    codes = children.stop(timeout=10)

    assert codes == {"query service": -15, "worker": 3}
    assert said[-1] == "stopping the query service ..."  # not the worker: it was down
    clock.now += 100
    children.watch()
    assert restarts == []


def test_the_supervisor_thread_restarts_and_counts_in_the_metric(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    metrics = DemoMetrics(children=["worker", "sink"], registry=registry)
    said: list[str] = []
    children = Children(tmp_path, {}, said.append, on_restart=metrics.on_child_restart,
                        policy=RestartPolicy(first_s=0.05, cap_s=0.1), program=[sys.executable])  # fmt: skip
    children.start("worker", EXITS)
    children.start("sink", RUNS)
    children.supervise(interval=0.02)
    try:
        deadline = time.monotonic() + 30
        while (registry.get_sample_value("zjcredit_demo_child_restarts_total",
                                         {"child": "worker"}) or 0) < 3:  # fmt: skip
            assert time.monotonic() < deadline, said
            time.sleep(0.05)
    finally:
        children.stop(timeout=10)
    assert registry.get_sample_value("zjcredit_demo_child_restarts_total", {"child": "sink"}) == 0
    assert any("restart 3)" in line for line in said)


def test_wait_for_log_waits_while_the_log_is_rotated_away(tmp_path: Path) -> None:
    children = Children(tmp_path, {}, program=[sys.executable])
    # No worker.log (moved to .log.1, the restart not there yet): a wait, not a crash.
    with pytest.raises(ChildNotReadyError, match="did not log 'Ready' within 0 s"):
        children.wait_for_log("worker", "Ready", 0.3)
