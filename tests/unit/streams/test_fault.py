"""The deliberate faults of the crash tests (``ZJCREDIT_WORKER_FAULT``) strike once, at
the N-th time their point is reached; ``pause`` freezes the process instead of killing it."""

from __future__ import annotations

import signal

import pytest

from base.errors import ConfigError
from base.settings import Settings
from streams.checkpoint import Fault


def test_a_fault_is_due_once_at_the_nth_time_of_its_own_point() -> None:
    fault = Fault.parse("pause:2")
    assert fault is not None
    assert [fault.due("sent"), fault.due("pause"), fault.due("pause"), fault.due("pause")] == [
        False, False, True, False,
    ]  # fmt: skip
    assert Fault.parse(None) is None


@pytest.mark.parametrize(("text", "sent"), [("pause:1", signal.SIGSTOP),
                                            ("sent:1", signal.SIGKILL)])  # fmt: skip
def test_pause_stops_the_process_and_the_others_kill_it(
    monkeypatch: pytest.MonkeyPatch, text: str, sent: int
) -> None:
    signals: list[int] = []
    monkeypatch.setattr("os.kill", lambda pid, signum: signals.append(signum))
    fault = Fault.parse(text)
    assert fault is not None
    fault.kill()
    assert signals == [sent]


def test_the_setting_accepts_the_four_points_and_nothing_else() -> None:
    for point in ("sent", "committed", "rebuild", "pause"):
        assert Settings.from_env({"ZJCREDIT_WORKER_FAULT": f"{point}:3"}).worker_fault == (
            f"{point}:3"
        )
    with pytest.raises(ConfigError, match="pause:N"):
        Settings.from_env({"ZJCREDIT_WORKER_FAULT": "sleep:3"})
