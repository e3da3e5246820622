"""``zjcredit demo``: the whole service on a synthetic province, live, until Ctrl-C.

Steps: Kafka and PostgreSQL (the configured ones, or those of a running ``zjcredit stack
up``, else embedded ones started here), the project's topics, then ``zjcredit worker``,
``zjcredit sink`` and ``zjcredit serve`` as child processes (:mod:`zjcredit.children`),
each with its own ``/metrics`` and restarted if it exits (with backoff, said on the
demo's output and counted in ``zjcredit_demo_child_restarts_total``); a generated
province of N firms written as department files and sent through the producer path
(``zjcredit produce``'s :func:`~producers.produce.produce_file`), a wait until the
worker has folded it all and every firm is queryable, the URLs; then new firms keep
arriving (their registrations, tax grades, trademarks, listings and removals, from the
same generator) at a steady rate through the departments'
:class:`~producers.publisher.Publisher` until Ctrl-C or SIGTERM, which
stops every child, then the servers.

The worker's clock is fixed at the generator's "today" (2018-06-30), so the province's
listings are in force as generated. The demo process itself serves the producer's
metrics (``zjcredit_producer_*``) and its children's restarts on ``--metrics-port``.

Example::

    $ zjcredit demo                         # 20,000 firms; web page on http://127.0.0.1:8000/
    $ zjcredit demo --enterprises 300 --rate 5 --api-port 18000 --metrics-port 19100
"""

from __future__ import annotations

import asyncio
import heapq
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from base.endpoints import (
    Endpoints,
    forget_running_stack,
    free_port,
    record_running_stack,
    resolve_endpoints,
)
from base.errors import ZjcreditError
from base.settings import Settings, redact_url
from producers.errors import PublishError
from schemas.topics import SOURCES, ensure_topics, project_topics
from zjcredit.children import ChildNotReadyError, Children
from zjcredit.metrics import DemoMetrics
from zjcredit.migrations import migrate_database
from zjcredit.stack import LocalStack

__all__ = ["DemoPorts", "demo_command"]

_STATUS_EVERY_S = 30.0
_STALL_S = 180.0  # no progress for this long: stop waiting, go live anyway
_SETTLED_S = 5.0  # the read model unchanged this long after the load: it is all there
_CHILDREN = ("worker", "sink", "query service")  # as _start_children names them


@dataclass(frozen=True)
class DemoPorts:
    """Where each process listens: the API (and the query service's /metrics) and the
    metrics ports of the demo's producer, the worker and the sink."""

    api: int
    demo: int
    worker: int
    sink: int

    @classmethod
    def choose(cls, api: int, metrics: int, host: str, warn: Callable[[str], None]) -> DemoPorts:
        """``api`` and ``metrics``, ``metrics + 1``, ``metrics + 2``, or free ports if taken."""
        wanted = {"api": api, "demo": metrics, "worker": metrics + 1, "sink": metrics + 2}
        got: dict[str, int] = {}
        for name, port in wanted.items():
            got[name] = free_port(port, host if name == "api" else "0.0.0.0")  # noqa: S104
            while got[name] in list(got.values())[:-1]:  # two "any free" picks collided
                got[name] = free_port(0)
            if port and got[name] != port:
                warn(f"port {port} is taken: the {name} uses {got[name]} (deploy/prometheus "
                     "expects the default ports)")  # fmt: skip
        return cls(**got)


def _interrupt_once(signum: int, frame: object) -> NoReturn:
    # A second Ctrl-C/SIGTERM must not cut the clean shutdown short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


@click.command("demo")
@click.option("--enterprises", type=click.IntRange(1, 10**7), default=20_000,
              show_default=True, help="Firms in the province loaded first.")  # fmt: skip
@click.option("--seed", type=int, default=1, show_default=True, help="The province's seed.")
@click.option("--rate", type=click.FloatRange(0.0, 10_000.0), default=20.0, show_default=True,
              help="Events/s of new firms after loading (0: none).")  # fmt: skip
@click.option("--bad-rows", type=click.FloatRange(0.0, 0.5), default=0.01, show_default=True,
              help="Fraction of bad rows planted (the producer rejects them).")  # fmt: skip
@click.option("--api-port", type=int, default=None,
              help="Query service port (default: ZJCREDIT_API_PORT, 8000).")  # fmt: skip
@click.option("--metrics-port", type=int, default=9100, show_default=True,
              help="The demo's metrics; the worker and the sink take the next two.")  # fmt: skip
@click.pass_obj
def demo_command(settings: Settings, *, enterprises: int, seed: int, rate: float,
                 bad_rows: float, api_port: int | None, metrics_port: int) -> None:  # fmt: skip
    """Run the whole service on a synthetic province, live, until Ctrl-C or SIGTERM.

    Starts Kafka and PostgreSQL (or uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), the
    topics, the worker, the sink and the query service; loads N generated firms; prints
    the URLs; then keeps new firms' events flowing. Ctrl-C stops everything.
    """
    signal.signal(signal.SIGINT, _interrupt_once)
    signal.signal(signal.SIGTERM, _interrupt_once)

    def say(line: str) -> None:
        click.echo(line, err=True)

    ports = DemoPorts.choose(
        settings.api_port if api_port is None else api_port, metrics_port, settings.api_host, say
    )
    work = settings.run_dir / "demo"
    (work / "logs").mkdir(parents=True, exist_ok=True)
    local = LocalStack(settings, progress=say)
    children: Children | None = None
    metrics = DemoMetrics(children=_CHILDREN)
    try:
        _serve_metrics(ports.demo)
        endpoints = _running_stack(settings) or local.start()
        if not (endpoints.embedded_kafka or endpoints.embedded_postgres):
            say(f"using Kafka at {endpoints.bootstrap_servers} and "
                f"{redact_url(endpoints.database_url)}")  # fmt: skip
        if endpoints.embedded_kafka or endpoints.embedded_postgres:
            record_running_stack(settings, endpoints)  # `zjcredit query` etc. find it
        _topics(settings, endpoints.bootstrap_servers)
        migrate_database(endpoints.database_url)  # the query service only checks the schema
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
            "ZJCREDIT_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
            "DATABASE_URL": endpoints.database_url,
            "ZJCREDIT_DATABASE_URL": endpoints.database_url,
            "ZJCREDIT_API_PORT": str(ports.api),
        }
        children = Children(work / "logs", env, say, on_restart=metrics.on_child_restart)
        _start_children(children, ports, settings.api_host)
        children.supervise()
        demo = _Demo(settings, endpoints.bootstrap_servers, endpoints.database_url, children)
        demo.load(enterprises, seed, bad_rows, work / "province", ports)
        _wait_healthy(f"http://127.0.0.1:{ports.api}/healthz")
        _print_urls(settings, ports, endpoints.bootstrap_servers, endpoints.database_url,
                    logs=work / "logs", example=demo.example(), rate=rate)  # fmt: skip
        demo.live(seed, enterprises, rate)
    except KeyboardInterrupt:
        say("stopping ...")
    finally:
        if children is not None:
            codes = children.stop()
            failed = {name: code for name, code in codes.items() if code not in (0, -15)}
            if failed:
                say(f"exit statuses: {failed} (logs: {work / 'logs'})")
        forget_running_stack(settings)
        local.stop()
    say("stopped")


def _running_stack(settings: Settings) -> Endpoints | None:
    """A running `zjcredit stack up` (or both servers configured): use it, start nothing."""
    try:
        return resolve_endpoints(settings)
    except ZjcreditError:
        return None


def _topics(settings: Settings, bootstrap: str) -> None:
    ensure_topics(bootstrap, project_topics(settings))


def _serve_metrics(port: int) -> None:
    """The demo's /metrics: the producer's and the children's restarts."""
    from prometheus_client import start_http_server  # noqa: PLC0415

    start_http_server(port)


def _start_children(children: Children, ports: DemoPorts, host: str) -> None:
    from producers.generator import HORIZON  # noqa: PLC0415

    # The generator's "today": its listings are in force as generated.
    children.start("worker", ["worker", "--as-of", HORIZON.isoformat(),
                              "--metrics-port", str(ports.worker)])  # fmt: skip
    children.start("sink", ["sink", "--metrics-port", str(ports.sink)])
    children.start("query service", ["serve", "--port", str(ports.api), "--host", host])


class _Demo:
    """The demo's own work: load the province, wait for it, keep new firms coming."""

    def __init__(self, settings: Settings, bootstrap: str, database_url: str,
                 children: Children) -> None:  # fmt: skip
        self.settings, self.bootstrap, self.children = settings, bootstrap, children
        self.loop = asyncio.new_event_loop()
        self.database_url = database_url
        self._conn: Any = None

    def load(self, enterprises: int, seed: int, bad_rows: float, folder: Path,
             ports: DemoPorts) -> None:  # fmt: skip
        from tqdm import tqdm  # noqa: PLC0415

        from producers.generator import generate  # noqa: PLC0415
        from producers.produce import produce_file  # noqa: PLC0415

        say = self.children.say
        say(f"generating a province of {enterprises:,} firms (seed {seed}) in {folder} ...")
        with tqdm(total=enterprises, unit="firm", desc="generate", disable=None) as bar:
            report = generate(enterprises, seed, folder, bad_rows, progress=bar.update)
        sent = 0
        for source in SOURCES:
            summary = produce_file(source, report.paths[source], bootstrap_servers=self.bootstrap,
                                   topic_prefix=self.settings.topic_prefix)  # fmt: skip
            if summary.exit_code == 2:
                raise PublishError(f"sending {report.paths[source]} failed: {summary.error}")
            rejected = f", {summary.rejected:,} rejected" if summary.rejected else ""
            say(f"sent {source:<10} {summary.acknowledged:>8,} events acknowledged{rejected}")
            sent += summary.acknowledged
        self.children.wait_for_log("worker", "[^Worker]: Ready", 300)
        self._wait_folded(sent, ports.worker)
        self._wait_queryable(enterprises)

    def _wait_folded(self, events: int, worker_port: int) -> None:
        """Until the worker has folded ``events`` events (its own counter), with progress."""
        from tqdm import tqdm  # noqa: PLC0415

        with tqdm(total=events, unit="event", desc="folded", disable=None) as bar:
            last_change = time.monotonic()
            while (done := _worker_events(worker_port)) < events:
                if done > bar.n:
                    bar.update(done - bar.n)
                    last_change = time.monotonic()
                elif time.monotonic() - last_change > _STALL_S:
                    self.children.say(f"the worker folded {done:,} of {events:,} events, then "
                                      f"nothing for {_STALL_S:.0f} s; going on")  # fmt: skip
                    return
                time.sleep(0.5)
            bar.update(done - bar.n)

    def _wait_queryable(self, enterprises: int) -> None:
        """Until every firm is in the read model and the last writes have settled."""
        from tqdm import tqdm  # noqa: PLC0415

        with tqdm(total=enterprises, unit="firm", desc="queryable", disable=None) as bar:
            last_change = time.monotonic()
            last: tuple[int, Any] = (-1, None)
            while True:
                state = self.state()
                if state != last:
                    last, last_change = state, time.monotonic()
                    bar.update(max(0, state[0] - bar.n))
                # Every firm is there and nothing changed for a while (the worker commits
                # every ~3 s): the whole province is folded and written.
                elif state[0] >= enterprises and time.monotonic() - last_change > _SETTLED_S:
                    break
                elif time.monotonic() - last_change > _STALL_S:
                    self.children.say(f"{state[0]:,} of {enterprises:,} firms queryable after "
                                      f"{_STALL_S:.0f} s without progress; going on")  # fmt: skip
                    return
                time.sleep(0.5)
        self.children.say(f"{last[0]:,} firms queryable")

    def _fetch(self, sql: str) -> list[Any]:
        import asyncpg  # noqa: PLC0415

        async def run() -> list[Any]:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.database_url, timeout=10)
            try:
                return list(await self._conn.fetch(sql))
            except asyncpg.UndefinedTableError:  # the sink has not created the read model yet
                return []

        return self.loop.run_until_complete(run())

    def count(self) -> int:
        return self.state()[0]

    def state(self) -> tuple[int, Any]:
        """Firms in the read model, and when the last of them was written."""
        rows = self._fetch("select count(*), max(committed_at) from credit.enterprise")
        return (int(rows[0][0]), rows[0][1]) if rows else (0, None)

    def example(self) -> tuple[str, str] | None:
        """A firm on a key-sector blacklist, to look at first."""
        rows = self._fetch(
            "select uscc, name from credit.enterprise "
            "where cardinality(listed_sectors) > 0 order by uscc limit 1"
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def live(self, seed: int, start: int, rate: float) -> None:
        """New firms' events at ``rate`` per second until interrupted."""
        from producers.publisher import Publisher  # noqa: PLC0415

        if rate <= 0:
            while True:
                time.sleep(1.0)
        publisher = Publisher(self.bootstrap, topic_prefix=self.settings.topic_prefix)
        try:
            self._trickle(publisher, _new_firm_events(seed, start), rate)
        finally:
            publisher.close(timeout=5)

    def _trickle(self, publisher: Any, events: Iterator[tuple[str, dict[str, Any]]],
                 rate: float) -> None:  # fmt: skip
        began = time.monotonic()
        next_status = began + _STATUS_EVERY_S
        for sent, (source, event) in enumerate(events):
            if (wait := began + sent / rate - time.monotonic()) > 0:
                time.sleep(wait)
            publisher.send(source, event)
            now = time.monotonic()
            if now >= next_status:
                report = publisher.report()
                self.children.say(f"live: {report.acknowledged:,} new events acknowledged, "
                                  f"{self.count():,} firms queryable")  # fmt: skip
                next_status = now + _STATUS_EVERY_S


def _new_firm_events(seed: int, start: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Events of firms ``start``, ``start + 1``, ... of the province, each firm's in the
    order they happened, reported now (validated by the producers' row parser)."""
    import datetime as dt  # noqa: PLC0415

    from producers.generator import firm_rows  # noqa: PLC0415
    from producers.rows import RowParser  # noqa: PLC0415
    from schemas.registry import ManifestRegistry  # noqa: PLC0415
    from schemas.sectors import load_catalog  # noqa: PLC0415

    registry, catalog = ManifestRegistry.load(), load_catalog()
    parsers = {s: RowParser(s, registry.latest(s), catalog) for s in SOURCES}
    for firm in firm_rows(seed, start):
        tagged = [[(row["occurred_at"], source, row) for row in rows]
                  for source, rows in firm.items()]  # fmt: skip
        for _, source, row in heapq.merge(*tagged, key=lambda t: t[0]):
            row["reported_at"] = ""  # reported now
            yield source, parsers[source].parse(row, dt.datetime.now(dt.UTC))


def _print_urls(settings: Settings, ports: DemoPorts, bootstrap: str, database_url: str, *,
                logs: Path, example: tuple[str, str] | None, rate: float) -> None:  # fmt: skip
    host = settings.api_host if settings.api_host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
    api = f"http://{host}:{ports.api}"
    lines = [
        "",
        "Credit Zhejiang (信用浙江) is running:",
        f"  web page        {api}/",
        f"  API docs        {api}/docs",
    ]
    if example is not None:
        lines += [f"  try             {api}/#uscc={example[0]}   ({example[1]}, blacklisted)",
                  f"                  {api}/v1/enterprises/{example[0]}"]  # fmt: skip
    lines += [
        f"  metrics         {api}/metrics   (query service)",
        f"                  http://127.0.0.1:{ports.worker}/metrics   (worker)",
        f"                  http://127.0.0.1:{ports.sink}/metrics   (sink)",
        f"                  http://127.0.0.1:{ports.demo}/metrics   (this demo: producer, restarts)",  # noqa: E501
        f"  kafka           {bootstrap}",
        f"  postgres        {redact_url(database_url)}",
        f"  logs            {logs}/",
        "  Prometheus      prometheus --config.file=deploy/prometheus/prometheus.yml",
        "",
        (f"New firms keep arriving at {rate:g} events/s." if rate > 0 else "No new events.")
        + " Ctrl-C stops everything.",
    ]
    click.echo("\n".join(lines))
    sys.stdout.flush()


def _worker_events(port: int) -> int:
    """``zjcredit_worker_events_total`` summed over sources, from the worker's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return 0
    return int(sum(sample.value for family in text_string_to_metric_families(text)
                   if family.name == "zjcredit_worker_events"
                   for sample in family.samples if sample.name.endswith("_total")))  # fmt: skip


def _wait_healthy(url: str, timeout: float = 60.0) -> None:
    """Wait until the query service answers ``/healthz`` with 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our http URL
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ChildNotReadyError(
                f"the query service did not answer {url} within {timeout:.0f} s"
            )
        time.sleep(0.3)
