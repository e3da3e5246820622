"""``recovery_seconds``: when the worker's freshness is back under 2 s for good after a kill."""

from __future__ import annotations

from benchmarks.cluster import recovery_seconds


def _steady(start: float, end: float, fresh_ms: float) -> list[tuple[float, float]]:
    return [(start + i * 0.1, fresh_ms) for i in range(round((end - start) * 10))]


def test_back_at_the_last_late_profile_once_five_seconds_of_fresh_ones_follow() -> None:
    samples = [*_steady(0, 10, 300), *_steady(12, 14, 3500), *_steady(14, 20, 400)]
    assert recovery_seconds(samples, kill_s=10.0) == 13.9 - 10.0
    # Fewer than 5 s of fresh profiles after the last late one: not recovered yet.
    assert recovery_seconds(samples[: len(samples) - 20], kill_s=10.0) is None


def test_a_kill_that_never_hurt_recovers_at_once_and_a_stall_without_profiles_does_not() -> None:
    assert recovery_seconds(_steady(0, 20, 300), kill_s=10.0) == 0.0
    assert recovery_seconds(_steady(0, 10, 300), kill_s=10.0) is None
    # Late profiles before the kill do not count against it.
    assert recovery_seconds([*_steady(0, 10, 5000), *_steady(10, 16, 200)], kill_s=10.0) == 0.0
