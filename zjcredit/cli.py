"""The ``zjcredit`` command.

Settings are read once, in :func:`main`, and handed to every sub-command. Errors the
project raises on purpose (:class:`~base.errors.ZjcreditError`) end the command with
their message and exit status 2; anything else is a bug and keeps its traceback.

Example::

    $ zjcredit stack up            # terminal 1: a real Kafka broker and PostgreSQL
    $ zjcredit topics create       # terminal 2: finds the running stack
"""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from base.endpoints import forget_running_stack, record_running_stack, resolve_endpoints
from base.errors import ServerStartError, TopicMismatchError, ZjcreditError
from base.settings import Settings, redact_url
from schemas.topics import TopicOutcome, create_topics, project_topics, replication_for
from zjcredit.stack import LocalStack, ensure_jars, kafka_version
from zjcredit.stack.process import log_tail

__all__ = ["main"]

EXIT_FAILED = 2


class _Group(click.Group):
    """A click group that turns the project's own errors into a message and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZjcreditError as error:
            click.echo(f"zjcredit: error: {error}", err=True)
            ctx.exit(EXIT_FAILED)


@click.group(cls=_Group)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Credit Zhejiang (信用浙江) sharing service."""


@cli.group()
def stack() -> None:
    """The local Kafka broker and PostgreSQL server."""


def _interrupt_once(signum: int, frame: object) -> NoReturn:
    # Ignore every later Ctrl-C/SIGTERM first, so that a second one cannot cut the clean
    # shutdown short (a terminal, `timeout` and a supervisor may each send one).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


@stack.command("up")
@click.option("--brokers", type=click.IntRange(1, 9), default=None,
              help="Kafka nodes, each broker and controller [default: ZJCREDIT_KAFKA_BROKERS, "
                   "1]; 3 is a cluster that survives one node's loss.")  # fmt: skip
@click.pass_obj
def stack_up(settings: Settings, brokers: int | None) -> None:
    """Start Kafka and PostgreSQL (or use the configured ones) until Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGINT, _interrupt_once)
    signal.signal(signal.SIGTERM, _interrupt_once)  # SIGTERM stops as cleanly as Ctrl-C
    if brokers is not None:
        settings = replace(settings, kafka_brokers=brokers)
    local = LocalStack(settings, progress=lambda line: click.echo(line, err=True))
    try:
        endpoints = local.start()
        record_running_stack(settings, endpoints)
        kafka_kind = "configured"
        if endpoints.embedded_kafka:
            kafka_kind = f"embedded Apache Kafka {kafka_version()}"
            if settings.kafka_brokers > 1:
                r = replication_for(settings.kafka_brokers, settings.replication_factor,
                                    settings.min_insync_replicas)  # fmt: skip
                kafka_kind += (
                    f", {settings.kafka_brokers} nodes: topics get replication factor "
                    f"{r.factor}, min.insync.replicas {r.min_insync}"
                )
        pg_kind = "embedded PostgreSQL" if endpoints.embedded_postgres else "configured"
        click.echo(f"kafka     {endpoints.bootstrap_servers}   ({kafka_kind})")
        click.echo(f"postgres  {redact_url(endpoints.database_url)}   ({pg_kind})")
        click.echo(
            f"export KAFKA_BOOTSTRAP_SERVERS={endpoints.bootstrap_servers} "
            f"DATABASE_URL={redact_url(endpoints.database_url)}"
        )
        click.echo("ready; Ctrl-C stops both", err=True)
        sys.stdout.flush()
        _watch(local)
    except KeyboardInterrupt:
        click.echo("stopping ...", err=True)
    finally:
        forget_running_stack(settings)
        local.stop()
    click.echo("stopped", err=True)


def _watch(local: LocalStack) -> None:
    """Sleep until interrupted. A server that dies meanwhile is said; PostgreSQL's death,
    or the last Kafka node's, ends the command (a cluster goes on without one node)."""
    reported: set[int] = set()
    while True:
        time.sleep(1.0)
        if local.postgres is not None and (code := local.postgres.exit_code()) is not None:
            raise ServerStartError(
                f"PostgreSQL exited with status {code}", log_tail(local.postgres.log_path)
            )
        if local.kafka is None:
            continue
        exited = local.kafka.exited()
        nodes = local.kafka.nodes
        if len(exited) == len(nodes):
            node = nodes[0] if len(nodes) == 1 else nodes[max(exited) - 1]
            raise ServerStartError(
                f"the Kafka broker exited with status {exited[nodes.index(node) + 1]}",
                log_tail(node.log_path),
            )
        for node_id in sorted(set(exited) - reported):
            reported.add(node_id)
            click.echo(
                f"Kafka node {node_id} exited with status {exited[node_id]} "
                f"({len(nodes) - len(exited)} of {len(nodes)} left; its log: "
                f"{local.kafka.node(node_id).log_path})",
                err=True,
            )


@cli.group()
def topics() -> None:
    """The project's Kafka topics."""


@topics.command("create")
@click.pass_obj
def topics_create(settings: Settings) -> None:
    """Create the project's topics if missing; list what was created or found."""
    endpoints = resolve_endpoints(settings, need_database=False)
    results = create_topics(endpoints.bootstrap_servers, project_topics(settings))
    mismatched = 0
    for spec, outcome, actual in results:
        note = f"{actual} partitions, RF {spec.replication_factor}"
        if outcome is TopicOutcome.MISMATCH:
            mismatched += 1
            note = f"{actual} partitions, expected {spec.partitions}: co-partitioning is broken"
        click.echo(f"{outcome.value:<8} {spec.name:<32} {note:<24} {spec.purpose}")
    if mismatched:
        raise TopicMismatchError(
            f"{mismatched} topic(s) exist with another partition count; "
            "they were left unchanged (see docs on repartitioning)"
        )


@cli.command("migrate")
@click.pass_obj
def migrate_command(settings: Settings) -> None:
    """Apply the database migrations (the read model's, the API keys'); idempotent."""
    from zjcredit.migrations import migrate_database  # noqa: PLC0415

    url = resolve_endpoints(settings, need_kafka=False).database_url
    applied = migrate_database(url)
    for name in applied:
        click.echo(f"applied  {name}")
    click.echo(f"{redact_url(url)}: {'up to date' if not applied else f'{len(applied)} applied'}")


@cli.group()
def bench() -> None:
    """Benchmarks: each prints its rate beside the raw limit measured in the same run."""


@bench.command("produce")
@click.option("--enterprises", default=20_000, show_default=True, help="Province size.")
@click.pass_obj
def bench_produce(settings: Settings, enterprises: int) -> None:
    """Events/s from file to acknowledged, beside raw kafka-python on the same events."""
    from benchmarks.produce import GOAL, run_produce_bench  # noqa: PLC0415

    with _kafka_for_bench(settings) as bootstrap:
        result = run_produce_bench(settings, bootstrap, enterprises, say=click.echo)
    click.echo(f"events        {result.events:,}")
    click.echo(f"producer path {result.path_rate:,.0f} events/s (file -> acknowledged)")
    click.echo(f"raw limit     {result.raw_rate:,.0f} events/s (kafka-python, pre-encoded)")
    for label, rate in result.formats.items():
        click.echo(f"tax as {label:<12} {rate:,.0f} events/s (one file, read -> acknowledged)")
    click.echo(f"produce ratio={result.ratio:.2f} goal={GOAL:.2f}")


@bench.command("worker")
@click.option("--enterprises", default=20_000, show_default=True, help="Province size.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Also time this many worker processes in one group.")  # fmt: skip
@click.option("--scale-states", default=0, show_default=True, type=click.IntRange(0),
              help="Then hold N enterprises: memory, restarts, rebuild (0: skip).")  # fmt: skip
@click.pass_obj
def bench_worker(settings: Settings, enterprises: int, processes: int, scale_states: int) -> None:
    """Worker events/s beside raw consume+decode and a naive per-event Faust agent."""
    from benchmarks.worker import GOAL_VS_NAIVE, run_worker_bench  # noqa: PLC0415
    from benchmarks.worker_scale import run_scale_bench  # noqa: PLC0415

    with _kafka_for_bench(settings) as bootstrap:
        r = run_worker_bench(settings, bootstrap, enterprises, say=click.echo,
                             processes=processes)  # fmt: skip
        scale = (
            run_scale_bench(settings, bootstrap, scale_states, say=click.echo)
            if scale_states
            else None
        )
    click.echo(f"events        {r.events:,}")
    click.echo(f"raw limit     {r.raw_rate:,.0f} events/s (aiokafka consume + Avro decode)")
    click.echo(
        f"naive agent   {r.naive_rate:,.0f} events/s (Faust, decode + Table write per event)"
    )
    click.echo(f"worker        {r.worker_rate:,.0f} events/s (zjcredit worker, exactly-once)")
    if r.processes_rate is not None:
        click.echo(f"workers       {r.processes_rate:,.0f} events/s ({processes} processes, "
                   f"ratio {r.processes_rate / r.raw_rate:.2f})")  # fmt: skip
    click.echo(f"restart       {r.restart_s:.1f} s to every state store restored "
               f"(first start {r.first_start_s:.1f} s)")  # fmt: skip
    click.echo(f"freshness     p50={r.freshness_p50_ms:.0f} ms p99={r.freshness_p99_ms:.0f} ms "
               f"at {r.steady_rate:,.0f} events/s")  # fmt: skip
    click.echo(
        f"worker ratio={r.ratio:.2f} vs_naive={r.vs_naive:.1f} goal_vs_naive={GOAL_VS_NAIVE:.1f}"
    )
    if scale is not None:
        click.echo(scale.line())


@bench.command("sink")
@click.option("--enterprises", default=20_000, show_default=True, help="Province size.")
@click.option("--rebuild-profiles", default=0, show_default=True, type=click.IntRange(0),
              help="Also time `sink rebuild` of N profiles beside raw COPY (0: skip).")  # fmt: skip
@click.pass_obj
def bench_sink(settings: Settings, enterprises: int, rebuild_profiles: int) -> None:
    """Sink rows/s beside raw COPY of the same rows; pipeline freshness under load."""
    from benchmarks.sink import GOAL, run_sink_bench  # noqa: PLC0415

    with _stack_for_bench(settings) as (bootstrap, database_url):
        r = run_sink_bench(settings, bootstrap, database_url, enterprises, say=click.echo,
                           rebuild_profiles=rebuild_profiles)  # fmt: skip
    click.echo(f"profiles      {r.profiles:,}")
    click.echo(f"sink          {r.sink_rate:,.0f} rows/s (topic -> read model, exactly-once)")
    click.echo(f"raw COPY      {r.copy_rate:,.0f} rows/s (same rows, same tables, same server)")
    click.echo(
        f"freshness     p50={r.freshness_p50_ms:.0f} ms p99={r.freshness_p99_ms:.0f} ms "
        f"(reported -> row committed, {r.fresh_rows} firms at {r.steady_rate:,.0f} events/s)"
    )
    if r.rebuild is not None:
        click.echo(r.rebuild.line())
    click.echo(f"sink ratio={r.ratio:.2f} goal={GOAL:.2f}")


@bench.command("encode")
@click.option("--enterprises", default=2_000, show_default=True, help="Province size.")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(1),
              help="Timed runs per writer; the best is printed.")  # fmt: skip
def bench_encode(enterprises: int, rounds: int) -> None:
    """Avro body µs per event (each source) and per profile, beside fastavro's; no stack."""
    from benchmarks.encode import run_encode_bench  # noqa: PLC0415

    run_encode_bench(enterprises, rounds, say=click.echo)


@bench.command("cluster")
@click.option("--enterprises", default=20_000, show_default=True, help="Province size.")
@click.option("--rate", default=500.0, show_default=True, type=click.FloatRange(10, 20_000),
              help="Events/s of new firms while a broker is killed.")  # fmt: skip
@click.pass_obj
def bench_cluster(settings: Settings, enterprises: int, rate: float) -> None:
    """One Kafka node against three: producer and worker rates; a broker kill's recovery.

    Starts its own clusters (one node, then three; a configured Kafka is not used: the
    bench kills one of its brokers) and PostgreSQL is not needed.
    """
    from benchmarks.cluster import run_cluster_bench  # noqa: PLC0415
    from zjcredit.stack.cluster import KafkaCluster  # noqa: PLC0415

    jars = ensure_jars(settings.cache_dir)

    @contextlib.contextmanager
    def start_cluster(brokers: int) -> Iterator[KafkaCluster]:
        with tempfile.TemporaryDirectory(prefix="zjcredit-bench-kafka-") as folder:
            nodes = KafkaCluster(jars_dir=jars, work_dir=Path(folder), brokers=brokers,
                                 heap=settings.kafka_heap)  # fmt: skip
            nodes.start()
            try:
                yield nodes
            finally:
                nodes.stop()

    r = run_cluster_bench(settings, start_cluster, enterprises, rate, say=click.echo)
    click.echo(f"events        {r.events:,}")
    for side in (r.one, r.three):
        click.echo(f"{side.brokers} node(s)     producer {side.producer_rate:,.0f} events/s, "
                   f"worker {side.worker_rate:,.0f} events/s")  # fmt: skip
    click.echo(f"broker kill   node {r.killed_node} (leading {r.killed_leads} partitions) at "
               f"{r.steady_rate:,.0f} events/s: freshness p99 {r.before_p99_ms:,.0f} ms before, "
               f"worst {r.worst_ms / 1000:.1f} s after, under 2 s again after "
               f"{r.recovery_s:.1f} s")  # fmt: skip
    click.echo(f"cluster ratio={r.ratio:.2f} recovery_s={r.recovery_s:.1f}")


@bench.command("query")
@click.option("--enterprises", default=1_000_000, show_default=True, help="Profiles loaded.")
@click.option("--seconds", default=10.0, show_default=True, help="Length of each timed round.")
@click.pass_obj
def bench_query(settings: Settings, enterprises: int, seconds: float) -> None:
    """GET /v1/enterprises/{uscc} p50/p99 and req/s beside raw asyncpg lookups; search p99."""
    from benchmarks.query import (  # noqa: PLC0415
        GOAL_P99_MS,
        GOAL_RATIO,
        GOAL_SEARCH_P99_MS,
        run_query_bench,
    )

    with _postgres_for_bench(settings) as database_url:
        r = run_query_bench(database_url, enterprises, seconds=seconds, say=click.echo)
    click.echo(f"enterprises   {r.loaded.enterprises:,} ({r.loaded.templates} templates)")
    click.echo(f"raw asyncpg   {r.raw.rate:,.0f} lookups/s p50={r.raw.p50_ms:.2f} ms "
               f"p99={r.raw.p99_ms:.2f} ms ({r.clients} connections, prepared)")  # fmt: skip
    click.echo(f"API           {r.api.rate:,.0f} requests/s p50={r.api.p50_ms:.2f} ms "
               f"p99={r.api.p99_ms:.2f} ms (goal p99 < {GOAL_P99_MS:.0f} ms, "
               f"{r.clients} clients, uvicorn)")  # fmt: skip
    click.echo(f"name search   {r.search.rate:,.0f} requests/s p50={r.search.p50_ms:.2f} ms "
               f"p99={r.search.p99_ms:.2f} ms "
               f"(goal p99 < {GOAL_SEARCH_P99_MS:.0f} ms)")  # fmt: skip
    click.echo(f"API granian   {r.granian.rate:,.0f} requests/s p50={r.granian.p50_ms:.2f} ms "
               f"p99={r.granian.p99_ms:.2f} ms (the same app on granian; ratio "
               f"{r.granian.rate / r.raw.rate:.2f})")  # fmt: skip
    click.echo(r.bulk.line())
    click.echo(r.feed.line())
    click.echo(f"query ratio={r.ratio:.2f} goal={GOAL_RATIO:.2f} p99_ms={r.api.p99_ms:.1f}")


@contextlib.contextmanager
def _postgres_for_bench(settings: Settings) -> Iterator[str]:
    """The configured or running PostgreSQL, else an embedded one for the bench's duration."""
    from zjcredit.stack.postgres import EmbeddedPostgres  # noqa: PLC0415

    try:
        url = resolve_endpoints(settings, need_kafka=False).database_url
    except ZjcreditError:
        url = ""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="zjcredit-bench-") as folder:
        root = Path(folder)
        root.chmod(0o755)  # run as root, the server runs as an unprivileged user
        server = EmbeddedPostgres(work_dir=root / "postgres", port=0)
        try:
            yield server.start()
        finally:
            server.stop()


@contextlib.contextmanager
def _stack_for_bench(settings: Settings) -> Iterator[tuple[str, str]]:
    """The configured or running Kafka + PostgreSQL, else embedded ones for the bench."""
    try:
        endpoints = resolve_endpoints(settings, need_database=True)
    except ZjcreditError:
        endpoints = None
    if endpoints is not None and endpoints.database_url:
        yield endpoints.bootstrap_servers, endpoints.database_url
        return
    local = LocalStack(replace(settings, kafka_port=0, postgres_port=0))
    try:
        started = local.start()
        yield started.bootstrap_servers, started.database_url
    finally:
        local.stop()


@contextlib.contextmanager
def _kafka_for_bench(settings: Settings) -> Iterator[str]:
    """The configured or running broker, else an embedded one for the bench's duration."""
    try:
        bootstrap = resolve_endpoints(settings, need_database=False).bootstrap_servers
    except ZjcreditError:
        bootstrap = None
    if bootstrap is not None:
        yield bootstrap
        return
    local = LocalStack(replace(settings, kafka_port=0), postgres=False)
    try:
        yield local.start().bootstrap_servers
    finally:
        local.stop()


def _register_stage_commands() -> None:
    # The stages own their commands; the shell only mounts them.
    from producers.command import produce_command  # noqa: PLC0415
    from producers.generator import generate_command  # noqa: PLC0415
    from query.command import keys_group, query_command, serve_command  # noqa: PLC0415
    from query.watch_command import watch_command  # noqa: PLC0415
    from sink.command import sink_group  # noqa: PLC0415
    from streams.worker import worker_command  # noqa: PLC0415
    from zjcredit.demo import demo_command  # noqa: PLC0415

    cli.add_command(produce_command)
    cli.add_command(generate_command)
    cli.add_command(worker_command)
    cli.add_command(sink_group)
    cli.add_command(serve_command)
    cli.add_command(query_command)
    cli.add_command(watch_command)
    cli.add_command(keys_group)
    cli.add_command(demo_command)


_register_stage_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``zjcredit`` console script."""
    try:
        settings = Settings.from_env()
    except ZjcreditError as error:
        click.echo(f"zjcredit: error: {error}", err=True)
        sys.exit(EXIT_FAILED)
    cli.main(args=list(argv) if argv is not None else None, obj=settings, prog_name="zjcredit")
