"""``zjcredit worker``: run the stream worker (Faust) until Ctrl-C or SIGTERM.

Example::

    $ zjcredit worker                          # wall clock, metrics off
    $ zjcredit worker --as-of 2018-06-30 --metrics-port 9101
    $ zjcredit worker --instance w2            # a second worker on the same machine
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from base.endpoints import resolve_endpoints
from base.runtime import tune_gc
from base.settings import Settings
from schemas.topics import ensure_topics, project_topics
from streams.app import WorkerOptions, build_app
from streams.changelog import changelog_spec
from streams.clock import Clock
from streams.errors import StoreInUseError

__all__ = ["data_dir_lock", "options_for", "worker_command"]

_LOG_LEVELS = ("crit", "error", "warn", "info", "debug")


def options_for(settings: Settings, bootstrap_servers: str, **overrides: object) -> WorkerOptions:
    """Worker options from settings (``ZJCREDIT_AS_OF`` fixes the clock), then overrides.

    The data directory defaults to ``<run dir>/worker/<group>/<instance>``; the
    replication factor to the settings' (or 1: pass the one the topics were created with).
    """
    base = WorkerOptions(
        bootstrap_servers=bootstrap_servers,
        topic_prefix=settings.topic_prefix,
        partitions=settings.partitions,
        replication_factor=settings.replication_factor or 1,
        data_dir=Path(),
        clock=Clock(settings.as_of),
        fault=settings.worker_fault,
    )
    merged = {**base.__dict__, **overrides}
    if merged["data_dir"] == Path():
        group = merged["app_id"] or f"{settings.topic_prefix}.worker"
        merged["data_dir"] = settings.run_dir / "worker" / group / (merged["instance"] or "dynamic")
    return WorkerOptions(**merged)


@contextlib.contextmanager
def data_dir_lock(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock for the worker's life; StoreInUseError if another worker has it."""
    path.mkdir(parents=True, exist_ok=True)
    with (path / "worker.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreInUseError(
                f"another worker is running with the data directory {path}: give each "
                "worker on a machine its own --instance (or --data-dir)"
            ) from None
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


def _ensure_topics(settings: Settings, bootstrap: str, group: str) -> int:
    """Create the missing topics; the changelog's replication factor (the cluster's, by
    default), which Faust's own topic gets too."""
    changelog = changelog_spec(
        group, settings.partitions, settings.replication_factor, settings.min_insync_replicas
    )
    specs = ensure_topics(bootstrap, [*project_topics(settings), changelog])
    return specs[-1].replication_factor or 1


@click.command("worker")
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Fix the clock at this date (default: ZJCREDIT_AS_OF, else the wall clock).",
)
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics here.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 200_000),
    default=10_000,
    show_default=True,
    help="Most input records folded per batch (one transaction per partition per batch).",
)
@click.option(
    "--batch-within",
    type=click.FloatRange(0.001, 10),
    default=0.1,
    show_default=True,
    help="Seconds a batch waits to fill when input is slow.",
)
@click.option(
    "--tick-interval",
    type=click.FloatRange(0.1),
    default=60.0,
    show_default=True,
    help="Seconds between expiry sweeps.",
)
@click.option(
    "--group",
    default=None,
    help="Consumer group and Faust app id (default: <topic prefix>.worker).",
)
@click.option(
    "--instance",
    default=None,
    help="Static group member id: a restart with the same id (and data directory) gets "
    "its partitions back at once, from its own disk [default: this machine's host name].",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="This worker's state stores [default: <run dir>/worker/<group>/<instance>].",
)
@click.option(
    "--cache-states",
    type=click.IntRange(100, 10_000_000),
    default=20_000,
    show_default=True,
    help="Decoded enterprise states kept in memory (the rest are read from disk).",
)
@click.option(
    "--session-timeout",
    type=click.FloatRange(6, 1800),
    default=30.0,
    show_default=True,
    help="Seconds without a heartbeat before the group gives a worker's partitions away.",
)
@click.option("--loglevel", type=click.Choice(_LOG_LEVELS), default="info", show_default=True)
@click.pass_obj
def worker_command(  # noqa: PLR0917 - click passes every option
    settings: Settings,
    as_of: dt.datetime | None,
    metrics_port: int | None,
    batch_size: int,
    batch_within: float,
    tick_interval: float,
    group: str | None,
    instance: str | None,
    data_dir: Path | None,
    cache_states: int,
    session_timeout: float,
    loglevel: str,
) -> None:
    """Fold the source topics into live credit profiles and joint-penalty notices.

    Reads the five source topics, writes the profiles, penalties and deadletters topics,
    exactly once. Several workers share the work (one consumer group); the partition
    count bounds how many are useful.
    """
    bootstrap = resolve_endpoints(settings, need_database=False).bootstrap_servers
    overrides: dict[str, object] = {
        "batch_size": batch_size,
        "batch_within": batch_within,
        "tick_interval": tick_interval,
        "instance": instance or socket.gethostname(),
        "cache_states": cache_states,
        "session_timeout": session_timeout,
    }
    if group:
        overrides["app_id"] = group
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if as_of is not None:
        overrides["clock"] = Clock(as_of.date())
    overrides["replication_factor"] = _ensure_topics(
        settings, bootstrap, str(overrides.get("app_id") or f"{settings.topic_prefix}.worker")
    )
    options = options_for(settings, bootstrap, **overrides)
    with data_dir_lock(options.data_dir):
        _run(options, metrics_port, loglevel, bootstrap)


def _run(options: WorkerOptions, metrics_port: int | None, loglevel: str, bootstrap: str) -> None:
    import faust  # noqa: PLC0415 - keep `zjcredit --help` fast
    import mode.loop  # noqa: PLC0415
    from prometheus_client import start_http_server  # noqa: PLC0415

    if metrics_port is not None:
        start_http_server(metrics_port)
    # uvloop: Faust's per-message path is asyncio tasks and callbacks, which uvloop runs
    # 10-15% faster here (measured with zjcredit bench worker and a do-nothing agent).
    mode.loop.use("uvloop")
    app = build_app(options)
    level = {"crit": logging.CRITICAL, "warn": logging.WARNING}.get(loglevel) or loglevel.upper()
    logging.getLogger("zjcredit").setLevel(level)
    if loglevel != "debug":  # aiokafka logs every send at debug: costly even when unseen
        logging.getLogger("aiokafka").setLevel(logging.INFO)
    click.echo(
        f"worker id={options.id} instance={options.instance} kafka={bootstrap} "
        f"partitions={options.partitions} data={options.data_dir} "
        f"clock={options.clock.describe()}"
        + (f" metrics=http://127.0.0.1:{metrics_port}/metrics" if metrics_port else ""),
        err=True,
    )
    tune_gc()
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()  # returns only by sys.exit
    sys.exit(0)
