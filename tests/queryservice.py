"""The query service in tests: a read model filled by the real pipeline, and the real API.

- :class:`FilledReadModel` produces a generated province to fresh topics, runs
  ``zjcredit worker`` and ``zjcredit sink`` (tests/workers.py, tests/readmodel.py) until
  the read model equals the pure fold, then stops them; the database stays for the tests;
- :class:`QueryService` runs ``zjcredit serve`` as a subprocess on a free port, as an
  operator would, and waits until it answers;
- :func:`zjcredit` runs another ``zjcredit`` command (``keys``, ``query``) against it.

Used by tests/integration/test_query_api.py and test_query_outage.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from base.endpoints import free_port
from base.settings import Settings
from streams.core import SourceEvent
from tests.province import AS_OF, province
from tests.readmodel import Expected, Sinks, create_database, drop_database, wait_until_equal
from tests.workers import ZJCREDIT, Workers, create_project_topics, send_events

__all__ = ["FilledReadModel", "QueryService", "zjcredit"]


class FilledReadModel:
    """A province of ``firms`` enterprises, through worker and sink, into a new database.

    Attributes:
        prefix: the topics' prefix; ``events`` the produced events per source;
        ``expected`` the oracle's read model; ``database_url`` the filled database.
    """

    def __init__(self, bootstrap_servers: str, settings: Settings, server_url: str, tmp: Path,
                 *, firms: int, seed: int, deadline: float = 240.0) -> None:  # fmt: skip
        self.server_url = server_url
        self.prefix = f"query-{uuid.uuid4().hex[:8]}"
        self.database = f"query_{uuid.uuid4().hex[:12]}"
        self.bootstrap_servers = bootstrap_servers
        create_project_topics(bootstrap_servers, settings, self.prefix)
        self.events: dict[str, list[SourceEvent]] = province(tmp / "province", firms, seed=seed)
        self.expected = Expected.of(self.events, AS_OF)
        self.database_url = create_database(server_url, self.database)
        send_events(bootstrap_servers, self.prefix, self.events)
        workers = Workers(bootstrap_servers, self.prefix, settings.partitions, tmp / "worker")
        sinks = Sinks(bootstrap_servers, self.prefix, settings.partitions, tmp / "sink",
                      self.database_url)  # fmt: skip
        try:
            worker = workers.start("--as-of", AS_OF.isoformat(), "--tick-interval", "2")
            sink = sinks.start()

            def running() -> None:
                for proc in (worker, sink):
                    if proc.poll() is not None:
                        raise AssertionError(
                            f"{proc.args!r} exited early\n{workers.logs(30)}\n{sinks.logs(30)}"
                        )

            left = wait_until_equal(self.database_url, self.expected, deadline, running)
            assert left == [], "\n".join(left) + f"\n{workers.logs(30)}\n{sinks.logs(30)}"
            assert workers.stop(worker) == 0, workers.logs()
            assert sinks.stop(sink) == 0, sinks.logs()
        finally:
            workers.close()
            sinks.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            drop_database(self.server_url, self.database)


def _env(database_url: str, prefix: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ZJCREDIT_API")},
        "DATABASE_URL": database_url,
        "ZJCREDIT_DATABASE_URL": database_url,
        "ZJCREDIT_TOPIC_PREFIX": prefix,
        "PYTHONUNBUFFERED": "1",
        # The tests ask from one address faster than a public caller may (schemathesis):
        # no rate limits unless a test sets them.
        "ZJCREDIT_RATE_LIMIT": "0",
        "ZJCREDIT_KEY_RATE_LIMIT": "0",
        **(extra or {}),
    }


class QueryService:
    """``zjcredit serve`` on a free port over ``database_url``; ``url`` is its address;
    ``env``: more settings (``ZJCREDIT_RATE_LIMIT``, ...); ``port``: the port of a service
    stopped before, for one started again in its place (its clients reconnect); ``server``:
    the ASGI server (``zjcredit serve --server``)."""

    def __init__(self, database_url: str, prefix: str, log: Path, timeout: float = 60, *,
                 migrate: bool = True, env: Mapping[str, str] | None = None,
                 port: int | None = None, server: str = "uvicorn") -> None:  # fmt: skip
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = _env(database_url, prefix, env)
        if migrate:  # as an operator does before starting the service (it only checks)
            self.migrate()
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [ZJCREDIT, "serve", "--server", server, "--port", str(self.port)], env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"zjcredit serve exited {self.proc.returncode}\n{self.logs()}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{self.url}/openapi.json", timeout=2)
                return
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"zjcredit serve did not answer in {timeout} s\n{self.logs()}")
            time.sleep(0.2)

    def migrate(self) -> str:
        """``zjcredit migrate`` on the service's database; its output."""
        done = subprocess.run([ZJCREDIT, "migrate"], env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def logs(self) -> str:
        return self.log.read_text("utf-8", errors="replace")[-5000:]

    def stop(self) -> int:
        """SIGTERM, then the exit status (SIGKILL after 20 s)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode


def zjcredit(args: Sequence[str], database_url: str, prefix: str,
             env: Mapping[str, str] | None = None,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``zjcredit ARGS`` to its end (``stdin`` its input); its exit status and output."""
    return subprocess.run(
        [ZJCREDIT, *args], env=_env(database_url, prefix, env), capture_output=True, text=True,
        timeout=60, check=False, input=stdin,
    )  # fmt: skip
