"""``zjcredit sink`` and ``zjcredit sink rebuild``.

Example::

    $ zjcredit sink                     # until Ctrl-C / SIGTERM
    $ zjcredit sink rebuild             # drop the read model, rebuild it from the topics
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import click

from base.endpoints import resolve_endpoints
from base.runtime import tune_gc
from base.settings import Settings, redact_url
from schemas.topics import ensure_topics, project_topics
from sink.rebuild import DECODE_WORKERS, Rebuild
from sink.service import Sink, SinkOptions

__all__ = ["sink_group"]

_REPORT_EVERY_S = 30.0


def _options(settings: Settings, **overrides: Any) -> SinkOptions:
    endpoints = resolve_endpoints(settings, need_kafka=True, need_database=True)
    assert endpoints.database_url is not None
    ensure_topics(endpoints.bootstrap_servers, project_topics(settings))
    return SinkOptions(
        endpoints.bootstrap_servers, endpoints.database_url, settings.topic_prefix, **overrides
    )


def _line(sink: Sink) -> str:
    t = sink.totals
    return (
        f"sink batches={t.batches} enterprise={t.rows['enterprise']} "
        f"notice={t.rows['notice']} event={t.rows['event']} skipped={t.skipped} "
        f"dead_letters={t.dead_letters} retries={t.retries}"
    )


async def _run(
    sink: Sink,
    main: Callable[[], Awaitable[Any]] | None = None,
    beside: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run ``main`` (default: ``sink.run``), stopping ``sink`` on SIGINT or SIGTERM, with
    a progress line every 30 s and ``beside`` alongside."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, sink.stop)

    async def report() -> None:
        while True:
            await asyncio.sleep(_REPORT_EVERY_S)
            click.echo(_line(sink), err=True)

    reporter = asyncio.create_task(report())
    gauges: asyncio.Task[None] | None = None
    if beside is not None:
        gauges = asyncio.create_task(beside())
    try:
        await (main or sink.run)()
    finally:
        for task in (reporter, gauges):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    click.echo(_line(sink), err=True)


@click.group("sink", invoke_without_command=True)
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics here.")
@click.option(
    "--decode-workers",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="Processes decoding batches while PostgreSQL writes (0: in the sink).",
)
@click.option(
    "--max-records",
    type=click.IntRange(1, 100_000),
    default=10_000,
    show_default=True,
    help="Most records fetched per poll, over all partitions: what one transaction writes.",
)
@click.pass_context
def sink_group(
    ctx: click.Context, metrics_port: int | None, decode_workers: int, max_records: int
) -> None:
    """Write the profiles, notices and event history into PostgreSQL, exactly once.

    Resumes from the offsets stored in PostgreSQL. Several sinks share the work as one
    consumer group. Ctrl-C or SIGTERM stops after the batch in hand.
    """
    if ctx.invoked_subcommand is not None:
        return
    from prometheus_client import start_http_server  # noqa: PLC0415

    from sink.gauges import refresh_gauges  # noqa: PLC0415

    settings: Settings = ctx.obj
    options = _options(settings, decode_workers=decode_workers, max_records=max_records)
    if metrics_port is not None:
        start_http_server(metrics_port)
    click.echo(
        f"sink group={options.group_id} kafka={options.bootstrap_servers} "
        f"postgres={redact_url(options.database_url)}",
        err=True,
    )
    sink = Sink(options, say=lambda s: click.echo(s, err=True))
    tune_gc()

    # Read-model gauges (active listings by sector) only when someone scrapes them.
    async def gauges() -> None:
        await refresh_gauges(options.database_url, sink.metrics)

    asyncio.run(_run(sink, beside=gauges if metrics_port is not None else None))


@sink_group.command("rebuild")
@click.option(
    "--decode-workers",
    type=click.IntRange(0, 64),
    default=DECODE_WORKERS,
    show_default=True,
    help="Processes decoding batches while PostgreSQL writes (0: in the rebuild).",
)
@click.pass_obj
def rebuild(settings: Settings, decode_workers: int) -> None:
    """Drop the read model and rebuild it from the topics, from the beginning.

    Refuses while a sink is running (stop it first); exits when every partition is
    consumed up to where it ended at the start. Then start `zjcredit sink` again: it
    continues from where the rebuild stopped. Killed or stopped before its end, run it
    again (it starts over) or start `zjcredit sink` (it goes on from there).
    """
    options = _options(settings, decode_workers=decode_workers)
    job = Rebuild(options, say=lambda s: click.echo(s, err=True))
    tune_gc()
    asyncio.run(_run(job.sink, main=job.run))
    click.echo("rebuilt: start `zjcredit sink` to keep it current", err=True)
