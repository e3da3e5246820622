"""``zjcredit bench query``: profile lookups over HTTP beside raw asyncpg point lookups.

In one run, on one PostgreSQL server, in a scratch database created for the run and
dropped after it:

- **load**: ``--enterprises N`` synthetic profiles (:mod:`benchmarks.query_load`: a few hundred
  real profiles folded by the pure core, varied in code and name) are COPYed in, with
  their child rows; indexes are built after;
- **raw**: 8 asyncpg connections run the service's own point lookup
  (``select profile::text from credit.enterprise where uscc = $1``, a prepared statement)
  over a random sample of the loaded codes, back to back: the database's limit as seen
  from Python;
- **API**: ``zjcredit serve`` (the app on uvicorn, uvloop, httptools) in its own process,
  and beside it, in alternating rounds, the same app on granian (``--server granian``);
  8 keep-alive HTTP/1.1 connections ask ``GET /v1/enterprises/{uscc}`` for the same
  codes, back to back, each request timed from send to the last byte of the body;
- **search**: the same 8 connections ask ``GET /v1/enterprises?q=<trade name + industry
  word>`` (e.g. ``鑫盛纺织``) of sampled firms;
- **bulk lookup** and **change feed**: :mod:`benchmarks.query_extra`.

Raw and API alternate, twice each, after a warm-up pass over the sample; the best round
of each counts. Each round also reports the CPU time per request of the bench's own
process (the clients), of the service's process, and how many cores the whole machine
kept busy: on a small machine the clients and PostgreSQL share the cores with the
service, which bounds what any of them can do. The HTTP client is a minimal one on
asyncio streams (no parsing beyond status line, headers and ``Content-Length``) so that
the client costs as little as asyncpg's does; it runs on uvloop like the raw loop. Last line:
``query ratio=<api req/s / raw lookups/s> goal=0.30 p99_ms=<API p99>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import uvloop

from base.endpoints import free_port
from benchmarks.harness import BenchError, run_process, scratch_database
from benchmarks.query_extra import Bulk, Feed, run_bulk, run_feed
from benchmarks.query_load import Loaded, load_enterprises, make_templates
from query.db import migrate_all

__all__ = ["GOAL_P99_MS", "GOAL_RATIO", "GOAL_SEARCH_P99_MS", "QueryBench", "run_query_bench"]

GOAL_RATIO = 0.30
GOAL_P99_MS = 10.0
GOAL_SEARCH_P99_MS = 50.0
Say = Callable[[str], None]
_LOOKUP = "select profile::text from credit.enterprise where uscc = $1"
_TEMPLATES = 400


@dataclass(frozen=True)
class Latency:
    """Requests completed in a timed window, their latencies (ms), and CPU spent.

    ``client_us`` / ``service_us``: CPU time of the bench process / of ``zjcredit serve``
    per request (µs); ``busy``: the machine's CPU in use over the window, in cores.
    """

    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_us: float = 0.0
    service_us: float = 0.0
    busy: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @classmethod
    def of(cls, samples: list[float], seconds: float) -> Latency:
        q = statistics.quantiles(samples, n=100)
        return cls(len(samples), seconds, statistics.median(samples) * 1e3, q[98] * 1e3)

    def cpu(self) -> str:
        service = f", service {self.service_us:,.0f} µs" if self.service_us else ""
        return (f"CPU/request: client {self.client_us:,.0f} µs{service}; "
                f"machine busy {self.busy:.1f} of {os.cpu_count()} cores")  # fmt: skip


@dataclass(frozen=True)
class QueryBench:
    loaded: Loaded
    clients: int
    raw: Latency
    api: Latency
    search: Latency
    bulk: Bulk
    feed: Feed
    granian: Latency

    @property
    def ratio(self) -> float:
        return self.api.rate / self.raw.rate


def run_query_bench(
    database_url: str, enterprises: int, *, clients: int = 8, seconds: float = 10.0,
    say: Say = print,
) -> QueryBench:  # fmt: skip
    """Load ``enterprises`` profiles into a scratch database; time raw, API and search."""
    with scratch_database(database_url) as scratch:
        say(f"folding {_TEMPLATES} template profiles with the pure core ...")
        templates = make_templates(_TEMPLATES)
        say(f"loading {enterprises:,} enterprises (COPY, from {len(templates)} templates) ...")
        loaded = asyncio.run(load_enterprises(scratch, templates, enterprises))
        rows = sum(loaded.rows.values())
        say(f"loaded {rows:,} rows in {loaded.seconds:.1f} s "
            f"({enterprises / loaded.seconds:,.0f} enterprises/s), indexes and analyze "
            f"{loaded.index_seconds:.1f} s")  # fmt: skip
        codes = loaded.codes
        paths = [f"/v1/enterprises/{c}" for c in codes]
        searches = [f"/v1/enterprises?q={urllib.parse.quote(t)}" for t in loaded.terms]
        # The service's server (uvicorn) answers everything; granian, the other one
        # `zjcredit serve --server` offers, is timed beside it on the profile route.
        with _server(scratch, "uvicorn") as port, _server(scratch, "granian") as other:
            _run(_raw(scratch, codes, clients, None))  # warm-up: the sample's pages in cache
            _run(_http(port, paths[:2000], clients, None))
            _run(_http(other, paths[:2000], clients, None))
            raws, apis, granians = [], [], []
            for round_ in (1, 2):  # alternating, so that both servers meet the same machine
                raws.append(_run(_raw(scratch, codes, clients, seconds)))
                say(f"round {round_}: raw asyncpg  {raws[-1].rate:,.0f} lookups/s "
                    f"p50={raws[-1].p50_ms:.2f} ms p99={raws[-1].p99_ms:.2f} ms; "
                    f"{raws[-1].cpu()}")  # fmt: skip
                apis.append(_run(_http(port, paths, clients, seconds), port))
                say(f"round {round_}: API uvicorn  {apis[-1].rate:,.0f} requests/s "
                    f"p50={apis[-1].p50_ms:.2f} ms p99={apis[-1].p99_ms:.2f} ms; "
                    f"{apis[-1].cpu()}")  # fmt: skip
                granians.append(_run(_http(other, paths, clients, seconds), other))
                say(f"round {round_}: API granian  {granians[-1].rate:,.0f} requests/s "
                    f"p50={granians[-1].p50_ms:.2f} ms p99={granians[-1].p99_ms:.2f} ms; "
                    f"{granians[-1].cpu()}")  # fmt: skip
            search = _run(_http(port, searches, clients, seconds), port)
            say(f"search       {search.rate:,.0f} requests/s p50={search.p50_ms:.2f} ms "
                f"p99={search.p99_ms:.2f} ms; {search.cpu()}")  # fmt: skip
            bulk = run_bulk(scratch, port, codes, clients=clients, seconds=seconds)
            say(f"bulk lookup  {bulk.api_profiles_per_s:,.0f} profiles/s (API) beside "
                f"{bulk.raw_profiles_per_s:,.0f} (raw any($1))")  # fmt: skip
            feed = run_feed(scratch, port, codes, seconds=seconds)
    return QueryBench(
        loaded, clients, _best(raws), _best(apis), search, bulk, feed, _best(granians)
    )


def _best(rounds: list[Latency]) -> Latency:
    return max(rounds, key=lambda x: x.rate)


def _run(work: Awaitable[Latency], port: int | None = None) -> Latency:
    """Run one measurement; add the CPU the bench, the service on ``port`` (if given)
    and the whole machine spent meanwhile."""
    service = _service_pid(port) if port is not None else None
    before = (time.process_time(), _cpu_seconds(service), _machine_busy())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        got: Latency = runner.run(work)  # type: ignore[arg-type]
    client = time.process_time() - before[0]
    served = _cpu_seconds(service) - before[1]
    busy = _machine_busy() - before[2]
    return dataclasses.replace(
        got, client_us=client / got.count * 1e6, service_us=served / got.count * 1e6,
        busy=min(busy / got.seconds, float(os.cpu_count() or 1)),
    )  # fmt: skip


def _service_pid(port: int) -> int | None:
    """The pid of ``zjcredit serve --port PORT`` (Linux /proc), for its CPU time."""
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            argv = entry.read_bytes().split(b"\0")
            at = argv.index(b"--port") if b"serve" in argv and b"--port" in argv else -1
            if at >= 0 and argv[at + 1 : at + 2] == [str(port).encode()]:
                return int(entry.parent.name)
    return None


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _cpu_seconds(pid: int | None) -> float:
    """CPU time of ``pid`` and its live descendants (granian serves from a child process)."""
    if pid is None:
        return 0.0
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            parents[int(entry.parent.name)] = int(_stat(int(entry.parent.name))[1])
    tree, ticks = {pid}, 0
    while grown := {p for p, parent in parents.items() if parent in tree} - tree:
        tree |= grown
    for member in tree:
        with contextlib.suppress(OSError, IndexError):
            fields = _stat(member)
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent not idle (all cores), from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(x) for x in first]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # - idle, iowait


async def _clients(
    clients: int, items: Sequence[str], seconds: float | None,
    make: Callable[[], Awaitable[Callable[[str], Awaitable[None]]]],
) -> Latency:  # fmt: skip
    """``clients`` workers, each with its own connection (``make``), over ``items``:
    until ``seconds`` have passed (cycling), or once through ``items`` if None."""
    calls = [await make() for _ in range(clients)]
    samples: list[list[float]] = [[] for _ in range(clients)]
    started = time.perf_counter()
    deadline = started + (seconds or float("inf"))

    async def worker(k: int) -> None:
        call, mine = calls[k], samples[k]
        i = k
        while time.perf_counter() < deadline and (seconds is not None or i < len(items)):
            began = time.perf_counter()
            await call(items[i % len(items)])
            mine.append(time.perf_counter() - began)
            i += clients

    await asyncio.gather(*(worker(k) for k in range(clients)))
    elapsed = time.perf_counter() - started
    return Latency.of([x for s in samples for x in s], elapsed)


async def _raw(database_url: str, codes: Sequence[str], clients: int,
               seconds: float | None) -> Latency:  # fmt: skip
    conns: list[asyncpg.Connection] = []

    async def make() -> Callable[[str], Awaitable[None]]:
        conn = await asyncpg.connect(database_url)
        conns.append(conn)
        statement = await conn.prepare(_LOOKUP)

        async def call(code: str) -> None:
            if await statement.fetchval(code) is None:
                raise BenchError(f"raw lookup: {code} not found")

        return call

    try:
        return await _clients(clients, codes, seconds, make)
    finally:
        for conn in conns:
            await conn.close()


async def _http(port: int, paths: Sequence[str], clients: int,
                seconds: float | None) -> Latency:  # fmt: skip
    writers: list[asyncio.StreamWriter] = []

    async def make() -> Callable[[str], Awaitable[None]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)

        async def call(path: str) -> None:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise BenchError(f"GET {path}: no Content-Length in {head[:200]!r}")
            body = await reader.readexactly(length)
            if status != b"200":
                raise BenchError(f"GET {path}: HTTP {status.decode()}: {body[:300]!r}")

        return call

    try:
        return await _clients(clients, paths, seconds, make)
    finally:
        for writer in writers:
            writer.close()


async def _migrate(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate_all(conn)
    finally:
        await conn.close()


@contextlib.contextmanager
def _server(database_url: str, server: str = "uvicorn") -> Iterator[int]:
    """``zjcredit serve`` on the scratch database in its own process; its port once it answers."""
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"zjcredit-bench-query-{port}.log"
    argv = [str(Path(sys.executable).with_name("zjcredit")), "serve", "--server", server,
            "--port", str(port)]  # fmt: skip
    # The load comes from one address, far over a public caller's rate limit: none here.
    env = {**os.environ, "DATABASE_URL": database_url, "ZJCREDIT_DATABASE_URL": database_url,
           "ZJCREDIT_RATE_LIMIT": "0", "ZJCREDIT_KEY_RATE_LIMIT": "0"}  # fmt: skip
    asyncio.run(_migrate(database_url))  # the service only checks the schema
    with run_process(argv, env, log):
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the query service did not answer; see {log}") from None
                time.sleep(0.2)
        yield port
    log.unlink(missing_ok=True)
