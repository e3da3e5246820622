"""The bulk lookup and the change feed in ``zjcredit bench query``, on its loaded read model
and its running service.

- **bulk lookup**: ``clients`` keep-alive connections POST ``/v1/enterprises/lookup`` with
  ``BULK_CODES`` sampled codes each, back to back, beside the same number of asyncpg
  connections running ``select uscc, profile::text ... where uscc = any($1)`` with the
  same codes: profiles/s of each, and their ratio (the service also validates each code,
  renders each profile for the role and writes the JSON);
- **change feed**: a bank key watches ``WATCHED`` sampled codes; ``STREAMS`` clients
  follow ``GET /v1/changes/stream``; a writer commits ``FEED_RATE`` changes/s of watched
  firms into ``credit.change`` in transactions of ``FEED_BATCH`` rows followed by
  ``pg_notify`` (what the sink does in its batch's transaction), with ``reported_at`` the
  commit's clock. Latency is from that time to the change parsed by a stream client:
  the feed's own part (sink commit -> stream), not the worker and sink before it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import httpx

from benchmarks.harness import BenchError
from query.keys import create_key
from query.roles import Role

__all__ = ["BULK_CODES", "Bulk", "Feed", "run_bulk", "run_feed"]

BULK_CODES = 1000
WATCHED = 1000
STREAMS = 4
FEED_RATE = 500
FEED_BATCH = 10
_ANY = "select uscc, profile::text from credit.enterprise where uscc = any($1::text[])"


@dataclass(frozen=True)
class Bulk:
    api_profiles_per_s: float
    raw_profiles_per_s: float
    api_p99_ms: float

    @property
    def ratio(self) -> float:
        return self.api_profiles_per_s / self.raw_profiles_per_s

    def line(self) -> str:
        return (f"bulk lookup   {self.api_profiles_per_s:,.0f} profiles/s at {BULK_CODES} codes "
                f"a request, p99={self.api_p99_ms:.0f} ms; raw asyncpg = any($1) "
                f"{self.raw_profiles_per_s:,.0f} profiles/s (ratio {self.ratio:.2f})")  # fmt: skip


@dataclass(frozen=True)
class Feed:
    written_per_s: float
    delivered_per_s: float
    streams: int
    p50_ms: float
    p99_ms: float
    missing: int

    def line(self) -> str:
        return (f"change feed   {self.written_per_s:,.0f} changes/s written, "
                f"{self.delivered_per_s:,.0f}/s delivered to {self.streams} streams, "
                f"commit -> stream p50={self.p50_ms:.0f} ms p99={self.p99_ms:.0f} ms, "
                f"{self.missing} not delivered (goal: event -> stream p99 < 2000 ms)")  # fmt: skip


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


async def _bulk_api(port: int, batches: Sequence[list[str]], clients: int,
                    seconds: float) -> tuple[int, list[float]]:  # fmt: skip
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    found = 0

    async def worker(k: int) -> None:
        nonlocal found
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            i = k
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                answer = await http.post("/v1/enterprises/lookup",
                                         json={"codes": batches[i % len(batches)]})  # fmt: skip
                if answer.status_code != 200:
                    raise BenchError(f"bulk lookup: HTTP {answer.status_code}: {answer.text[:300]}")
                latencies.append(time.perf_counter() - began)
                found += len(answer.json()["profiles"])
                i += clients

    await asyncio.gather(*(worker(k) for k in range(clients)))
    return found, latencies


async def _bulk_raw(database_url: str, batches: Sequence[list[str]], clients: int,
                    seconds: float) -> int:  # fmt: skip
    deadline = time.perf_counter() + seconds
    found = 0

    async def worker(k: int) -> None:
        nonlocal found
        conn = await asyncpg.connect(database_url)
        try:
            statement = await conn.prepare(_ANY)
            i = k
            while time.perf_counter() < deadline:
                found += len(await statement.fetch(batches[i % len(batches)]))
                i += clients
        finally:
            await conn.close()

    await asyncio.gather(*(worker(k) for k in range(clients)))
    return found


def run_bulk(database_url: str, port: int, codes: Sequence[str], *, clients: int,
             seconds: float) -> Bulk:  # fmt: skip
    """Profiles/s of the bulk route and of raw ``= any($1)``, same batches, same time."""
    rng = random.Random(11)  # noqa: S311 - a sample, not a secret
    batches = [rng.sample(list(codes), BULK_CODES) for _ in range(50)]
    started = time.perf_counter()
    raw = asyncio.run(_bulk_raw(database_url, batches, clients, seconds))
    raw_seconds = time.perf_counter() - started
    started = time.perf_counter()
    api, latencies = asyncio.run(_bulk_api(port, batches, clients, seconds))
    api_seconds = time.perf_counter() - started
    return Bulk(api / api_seconds, raw / raw_seconds, _p(latencies, 0.99))


async def _follow(port: int, key: str, got: list[float], ready: asyncio.Event,
                  stop: asyncio.Event) -> None:  # fmt: skip
    timeout = httpx.Timeout(10, read=None)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as http:
        headers = {"X-API-Key": key}
        async with http.stream("GET", "/v1/changes/stream", headers=headers) as answer:
            if answer.status_code != 200:
                raise BenchError(f"change stream: HTTP {answer.status_code}")
            ready.set()
            async for line in answer.aiter_lines():
                if line.startswith("data: "):
                    reported = json.loads(line[6:])["reported_at"]
                    at = dt.datetime.fromisoformat(reported).timestamp()
                    got.append(time.time() - at)
                if stop.is_set():
                    return


async def _feed(database_url: str, port: int, codes: Sequence[str], seconds: float) -> Feed:
    conn = await asyncpg.connect(database_url)
    try:
        _, key = await create_key(conn, "bench change feed", Role.BANK)
        key_id = key.split("_")[1]
        watched = list(codes[:WATCHED])
        await conn.execute("insert into access.watchlist (key_id, uscc) "
                           "select $1, unnest($2::text[]) on conflict do nothing",
                           key_id, watched)  # fmt: skip
        # Start after what is kept: the streams should carry only this run's changes.
        await conn.execute("delete from credit.change")
        got: list[list[float]] = [[] for _ in range(STREAMS)]
        stop = asyncio.Event()
        readies = [asyncio.Event() for _ in range(STREAMS)]
        followers = [asyncio.create_task(_follow(port, key, got[k], readies[k], stop))
                     for k in range(STREAMS)]  # fmt: skip
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        rng = random.Random(5)  # noqa: S311 - a sample, not a secret
        written = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            async with conn.transaction():
                await conn.executemany(
                    "insert into credit.change (uscc, kind, before, after, reported_at) "
                    "values ($1, 'score_band', '700', '600', clock_timestamp())",
                    [(rng.choice(watched),) for _ in range(FEED_BATCH)],
                )
                await conn.execute("select pg_notify('zjcredit_changes', '')")
            written += FEED_BATCH
            pause = written / FEED_RATE - (time.perf_counter() - started)
            if pause > 0:
                await asyncio.sleep(pause)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(3.0)  # the last ones in flight
        stop.set()
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
    finally:
        await conn.close()
    samples = [x for g in got for x in g]
    if not samples:
        raise BenchError("change feed: no change reached a stream")
    return Feed(
        written / elapsed,
        len(samples) / elapsed,
        STREAMS,
        _p(samples, 0.5),
        _p(samples, 0.99),
        written * STREAMS - len(samples),
    )


def run_feed(database_url: str, port: int, codes: Sequence[str], *, seconds: float) -> Feed:
    return asyncio.run(_feed(database_url, port, codes, seconds))
