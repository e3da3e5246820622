"""query/cache.py: a value made at most every ttl seconds, one making at a time; and\n``/v1/stats`` counted once per ttl through it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from query.app import create_app
from query.cache import Recomputed
from query.db import Database


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_value_is_made_again_only_once_it_is_ttl_old() -> None:
    clock, made = _Clock(), []

    async def make() -> int:
        made.append(clock.now)
        return len(made)

    kept = Recomputed[int](30.0, clock)
    assert kept.age() == float("inf")
    assert [await kept.get(make) for _ in range(5)] == [1] * 5
    clock.now += 29.9
    assert await kept.get(make) == 1
    assert kept.age() == pytest.approx(29.9)
    clock.now += 0.1
    assert await kept.get(make) == 2
    assert made == [100.0, 130.0]


async def test_one_making_at_a_time_the_others_get_the_value_before() -> None:
    clock, started, release = _Clock(), asyncio.Event(), asyncio.Event()
    calls = 0

    async def make() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            started.set()
            await release.wait()
        return calls

    kept = Recomputed[int](1.0, clock)
    assert await kept.get(make) == 1
    clock.now += 5
    slow = asyncio.create_task(kept.get(make))
    await started.wait()
    assert [await kept.get(make) for _ in range(3)] == [1, 1, 1]  # no second making
    release.set()
    assert await slow == 2
    assert await kept.get(make) == 2
    assert calls == 2


async def test_callers_wait_for_the_first_value_and_a_failure_is_tried_again() -> None:
    clock, calls = _Clock(), 0

    async def make() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise RuntimeError("down")
        return calls

    kept = Recomputed[int](10.0, clock)
    with pytest.raises(RuntimeError):
        await kept.get(make)
    assert await asyncio.gather(*(kept.get(make) for _ in range(4))) == [2] * 4
    assert calls == 2


class _Counted(Database):
    """Answers the stats' aggregate, counting how often it is asked."""

    def __init__(self) -> None:
        super().__init__("postgresql://unused", check_schema=False)
        self.asked: list[float] = []

    async def slow(self, sql: str, *args: Any, seconds: float) -> Any:
        self.asked.append(seconds)
        return {"enterprises": 3, "by_grade": '{"GOOD": 3}', "by_city": '{"330100": 3}',
                "by_tax_grade": '{"A": 3}', "by_sector": "{}", "zjtx": "{}",
                "penalty_measures": 0, "as_of": None}  # fmt: skip


async def test_stats_are_counted_once_per_ttl_not_per_call() -> None:
    db = _Counted()
    app = create_app(db, registry=CollectorRegistry(), stats_ttl=60.0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers = [await client.get("/v1/stats") for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert answers[0].json()["by_grade"] == {"EXCELLENT": 0, "GOOD": 3, "FAIR": 0, "POOR": 0}
    assert db.asked == [30.0]  # once, with its own statement timeout
    assert answers[0].headers["cache-control"] in {"private, max-age=60", "private, max-age=59"}
