"""Where this process's Kafka and PostgreSQL are: configured, or a running local stack's.

BRIEF principle 7: with ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` set, use those;
otherwise the ones a ``zjcredit stack up`` started and recorded in ``<run_dir>/stack.json``
(:func:`record_running_stack`), found by :func:`resolve_endpoints`. Every stage's command
asks here; starting servers is the roof's business (``zjcredit/stack``). Also
:func:`free_port`, for whoever starts a server.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from base.errors import StackError
from base.settings import Settings

__all__ = [
    "Endpoints",
    "forget_running_stack",
    "free_port",
    "record_running_stack",
    "resolve_endpoints",
]


@dataclass(frozen=True)
class Endpoints:
    """Where Kafka and PostgreSQL are, and whether we started them."""

    bootstrap_servers: str
    database_url: str
    embedded_kafka: bool
    embedded_postgres: bool


def _state_file(settings: Settings) -> Path:
    return settings.run_dir / "stack.json"


def record_running_stack(settings: Settings, endpoints: Endpoints) -> Path:
    """Write ``stack.json`` for other commands to find this process's stack."""
    path = _state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), **asdict(endpoints)}), "utf-8")
    return path


def forget_running_stack(settings: Settings) -> None:
    """Remove ``stack.json`` if it is ours."""
    path = _state_file(settings)
    with contextlib.suppress(FileNotFoundError, ValueError):
        if json.loads(path.read_text("utf-8")).get("pid") == os.getpid():
            path.unlink()


def resolve_endpoints(
    settings: Settings, *, need_kafka: bool = True, need_database: bool = True
) -> Endpoints:
    """Kafka and PostgreSQL for a command that does not start servers itself.

    Configured addresses win; otherwise those of a running ``zjcredit stack up``. What
    the command needs and cannot find is a StackError saying how to provide it.
    """
    running: dict[str, object] = {}
    with contextlib.suppress(FileNotFoundError, ValueError):
        state = json.loads(_state_file(settings).read_text("utf-8"))
        if isinstance(state, dict) and psutil.pid_exists(int(state.get("pid", 0))):
            running = state
    bootstrap = settings.kafka_bootstrap_servers or running.get("bootstrap_servers") or ""
    url = settings.database_url or running.get("database_url") or ""
    missing = [what for what, need, have in (
        ("Kafka (export KAFKA_BOOTSTRAP_SERVERS=host:port)", need_kafka, bootstrap),
        ("PostgreSQL (export DATABASE_URL=postgresql://...)", need_database, url),
    ) if need and not have]  # fmt: skip
    if missing:
        raise StackError(
            f"no {' and no '.join(missing)} to talk to: run `zjcredit stack up` in another "
            "terminal, or set the variable"
        )
    return Endpoints(str(bootstrap), str(url), False, False)


def free_port(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """Return ``preferred`` if it can be bound on ``host``, else a free port from the OS."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the servers bind: a port whose old connections linger in TIME_WAIT (a
            # server restarted on its own port) is free for them, so it is free here.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free TCP port on {host}")  # pragma: no cover - the OS always has one
