"""``zjcredit bench encode`` on a tiny province: every subject timed, the writers agree."""

from __future__ import annotations

from benchmarks.encode import run_encode_bench
from schemas.events import SOURCES


def test_every_source_and_the_profiles_are_timed() -> None:
    said: list[str] = []
    timings = run_encode_bench(300, rounds=1, say=said.append)  # BenchError if the bytes differ
    assert [t.subject for t in timings] == [*SOURCES, "profiles"]
    for timing in timings:
        assert timing.records > 0
        assert timing.compiled_us > 0
        assert timing.fastavro_us > 0
        assert timing.line() in said
